//! The delinquency pass (`fathom delinquency`, and the server's worker within a minute of local
//! midnight, before the day's billing).
//!
//! For a local date it first marks every invoice and account delinquent or not as of that
//! date ([`delinquency::mark_all`]), every day. Then, on billing settings' check days
//! (`delinquency_check_day_*`) that are not a `DelinquencyExclusion` date, it acts on each
//! delinquent account, counting its days of delinquency from the day after its oldest
//! delinquent invoice's delinquency date:
//! - after billing settings' `delinquency_disconnect_days` further days than its billing
//!   default's `days_of_delinquency_for_status_switch` (a fathom extension), it is disconnected
//!   by `disconnectAccount`'s own code ([`disconnect::disconnect_in_with`]: final invoice,
//!   proration as billing settings say, address released, logs, webhooks), recorded as the
//!   settings' `delinquency_user_id`, `for_non_payment` and billing settings'
//!   `delinquency_disconnection_reason_id` on the disconnection log;
//! - otherwise, after `days_of_delinquency_for_status_switch` days, it moves to the billing
//!   default's delinquency status when `switch_status_after_delinquency` is set.
//!
//! Every day, check day or not, an account no longer delinquent that sits in its delinquency
//! status goes back to the removal status (payments do this at once; the pass catches what a
//! change of the minimum amount left). Only the delinquency statuses billing defaults name
//! today are looked at: an account left in a status no billing default names any more stays
//! there until an operator moves it. Child accounts are judged on their own invoices, and a
//! parent's disconnection leaves its children connected, as `disconnectAccount` does.
//!
//! Exactly once per account and day, on any number of servers: candidates are read without
//! locks, then each account to act on is changed in a transaction of its own that locks its
//! row, marks it again and decides again from what it finds; a second pass (or a second
//! server) finds the work done and does nothing. Interrupting the pass loses at most the
//! account in flight; running it again does what is left. A completed pass is recorded in
//! `delinquency_passes`.

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, Set, Statement};

use crate::entity::{account, billing_setting, delinquency_pass};
use crate::error::{AppError, AppResult};
use crate::service::base::{
    account_guard, audit,
    clock::now,
    settings::{self, Snapshot},
    store::{begin_write, Stamped},
};
use crate::service::billing::delinquency::{self, Marked};
use crate::service::configuration::delinquency_exclusions;
use crate::service::lifecycle::disconnect;

/// Accounts read per statement while looking for what to act on.
pub const DEFAULT_BATCH: u64 = 1000;

/// What a pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DelinquencyReport {
    pub marked: Marked,
    /// Whether the date is one of billing settings' check days.
    pub check_day: bool,
    /// Whether the date is a `DelinquencyExclusion` date.
    pub excluded: bool,
    /// Accounts looked at (delinquent, or in a delinquency status).
    pub accounts_seen: u64,
    pub accounts_switched: u64,
    pub accounts_restored: u64,
    pub accounts_disconnected: u64,
    /// Accounts an action failed for (each logged with its id); the next pass tries again.
    pub failed: u64,
    pub failed_accounts: Vec<i64>,
}

impl DelinquencyReport {
    /// Whether statuses were switched and accounts disconnected (not only marked).
    pub fn acted(&self) -> bool {
        self.check_day && !self.excluded
    }
}

/// Whether `date` is one of the billing settings' check days.
pub fn is_check_day(billing: &billing_setting::Model, date: NaiveDate) -> bool {
    match date.weekday() {
        Weekday::Mon => billing.delinquency_check_day_monday,
        Weekday::Tue => billing.delinquency_check_day_tuesday,
        Weekday::Wed => billing.delinquency_check_day_wednesday,
        Weekday::Thu => billing.delinquency_check_day_thursday,
        Weekday::Fri => billing.delinquency_check_day_friday,
        Weekday::Sat => billing.delinquency_check_day_saturday,
        Weekday::Sun => billing.delinquency_check_day_sunday,
    }
}

/// What the pass does to one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Move to the billing default's delinquency status.
    Switch(i64),
    /// Back to the removal status: delinquent no more.
    Restore(i64),
    /// Disconnect for non-payment.
    Disconnect,
}

/// An account as the pass judges it.
#[derive(Debug, Clone)]
pub struct Standing {
    pub account: account::Model,
    /// The oldest delinquency date of its delinquent invoices; `None` when it is not
    /// delinquent.
    pub since: Option<NaiveDate>,
}

/// What the pass for `date` does to an account standing so (`acting`: a check day, not
/// excluded). The same rules answer the pass and the forecast.
pub fn decide(
    settings: &Snapshot,
    standing: &Standing,
    date: NaiveDate,
    acting: bool,
) -> Option<Action> {
    let account = &standing.account;
    if account.archived_at.is_some() {
        return None;
    }
    let Some(since) = standing.since else {
        return delinquency::restore_status(settings, account).map(Action::Restore);
    };
    if !acting {
        return None;
    }
    let days = (date - since).num_days();
    let active = settings
        .status(account.account_status_id)
        .is_ok_and(|s| s.activates_account);
    let switch_days = delinquency::rules(settings, account)
        .and_then(|r| r.days_of_delinquency_for_status_switch)
        .unwrap_or(0);
    if let Some(further) = settings.billing.delinquency_disconnect_days {
        if active && days >= i64::from(switch_days) + i64::from(further) {
            return Some(Action::Disconnect);
        }
    }
    delinquency::delinquency_status(settings, account, days).map(Action::Switch)
}

/// The standing of `ids`, as of what the invoices' flags say: one statement.
async fn standings<C: ConnectionTrait>(db: &C, condition: &str) -> AppResult<Vec<Standing>> {
    use sea_orm::FromQueryResult;
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            format!(
                "SELECT a.*, (SELECT MIN(i.delinquency_date) FROM invoices i \
                 WHERE i.account_id = a.id AND i.delinquent = TRUE) AS delinquent_since \
                 FROM accounts a WHERE {condition}"
            ),
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Standing {
                account: account::Model::from_query_result(row, "")?,
                since: row.try_get("", "delinquent_since")?,
            })
        })
        .collect()
}

/// Runs the delinquency pass for the local date `date`.
pub async fn run_pass(db: &DatabaseConnection, date: NaiveDate) -> AppResult<DelinquencyReport> {
    run_pass_with(db, date, DEFAULT_BATCH).await
}

/// Runs the delinquency pass for `date`, reading `batch` candidate accounts per statement.
pub async fn run_pass_with(
    db: &DatabaseConnection,
    date: NaiveDate,
    batch: u64,
) -> AppResult<DelinquencyReport> {
    let batch = batch.clamp(1, 10_000);
    let started_at = now();
    let settings = settings::snapshot(db).await?;
    let mut report = DelinquencyReport::default();
    // Marked as of today when the pass is for an earlier date: a mark is about the present (the
    // date only counts the days of delinquency and chooses whether to act).
    let today = settings.local_date(now());
    report.marked = delinquency::mark_all(db, Ord::max(date, today), &settings.billing).await?;
    report.check_day = is_check_day(&settings.billing, date);
    report.excluded = delinquency_exclusions::excludes(db, date).await?;
    let acting = report.acted();

    // Accounts in a delinquency status may have to go back; delinquent ones may have to move.
    let mut statuses: Vec<i64> = settings
        .billing_defaults
        .iter()
        .filter_map(|d| d.delinquency_account_status_id)
        .collect();
    statuses.sort_unstable();
    statuses.dedup();
    let in_status = if statuses.is_empty() {
        String::new()
    } else {
        format!(
            " OR a.account_status_id IN ({})",
            statuses
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    let at = effective_at(&settings, date);
    let mut after = 0i64;
    loop {
        let found = standings(
            db,
            &format!(
                "a.archived_at IS NULL AND (a.is_delinquent = TRUE{in_status}) AND a.id > {after} \
                 ORDER BY a.id LIMIT {batch}"
            ),
        )
        .await?;
        let Some(last) = found.last() else { break };
        after = last.account.id;
        report.accounts_seen += found.len() as u64;
        for standing in &found {
            if decide(&settings, standing, date, acting).is_none() {
                continue;
            }
            match act(db, standing.account.id, date, acting, at).await {
                Ok(Some(Action::Switch(_))) => report.accounts_switched += 1,
                Ok(Some(Action::Restore(_))) => report.accounts_restored += 1,
                Ok(Some(Action::Disconnect)) => report.accounts_disconnected += 1,
                Ok(None) => {}
                Err(err) => {
                    // One account's failure must not hold up the others; the next pass tries
                    // again.
                    report.failed += 1;
                    report.failed_accounts.push(standing.account.id);
                    tracing::error!(account_id = standing.account.id, error = ?err, "the delinquency pass failed on an account");
                }
            }
        }
    }
    record_pass(db, date, started_at, &report).await?;
    Ok(report)
}

/// The instant the pass's changes are effective: now, or the start of `date` when it is in
/// the future (a pass run ahead, as the forecast does).
pub fn effective_at(settings: &Snapshot, date: NaiveDate) -> DateTime<Utc> {
    let at = now();
    if date <= settings.local_date(at) {
        at
    } else {
        settings.start_of_day(date)
    }
}

/// Acts on one account in a transaction of its own: locks it, marks it as of `date`, decides
/// from what it finds, and does it. `None` when there is nothing to do (any more).
async fn act(
    db: &DatabaseConnection,
    account_id: i64,
    date: NaiveDate,
    acting: bool,
    at: DateTime<Utc>,
) -> AppResult<Option<Action>> {
    let txn = begin_write(db).await?;
    let (_, action) = act_in(&txn, account_id, date, acting, at).await?;
    txn.commit().await?;
    Ok(action)
}

/// The pass for `date` on one account, inside the caller's transaction (the forecast's): marks
/// it, and acts as the pass would (on a check day that is not excluded, or restoring any day).
/// Returns whether the account is delinquent after marking, and what was done.
pub async fn run_for_account_in<C: ConnectionTrait>(
    txn: &C,
    account_id: i64,
    date: NaiveDate,
) -> AppResult<(bool, Option<Action>)> {
    let settings = settings::snapshot(txn).await?;
    let acting = is_check_day(&settings.billing, date)
        && !delinquency_exclusions::excludes(txn, date).await?;
    act_in(txn, account_id, date, acting, effective_at(&settings, date)).await
}

/// [`act`] inside the caller's transaction.
async fn act_in<C: ConnectionTrait>(
    txn: &C,
    account_id: i64,
    date: NaiveDate,
    acting: bool,
    at: DateTime<Utc>,
) -> AppResult<(bool, Option<Action>)> {
    let (_, settings) = account_guard::lock_with_settings(txn, account_id).await?;
    let today = settings.local_date(now());
    delinquency::mark_account(txn, account_id, Ord::max(date, today), &settings.billing).await?;
    let mut found = standings(txn, &format!("a.id = {account_id}")).await?;
    let standing = found
        .pop()
        .ok_or_else(|| AppError::not_found("Account", account_id))?;
    let action = decide(&settings, &standing, date, acting);
    match action {
        None => {}
        Some(Action::Switch(to) | Action::Restore(to)) => {
            let mut audit = audit::Batch::default();
            delinquency::switch(txn, &settings, &standing.account, to, at, None, &mut audit)
                .await?;
            // The webhook subscriptions from the settings already held: no read of its own.
            let dispatches =
                audit.dispatch_statements(txn.get_database_backend(), &settings.webhooks);
            audit.write_with(txn, dispatches).await?;
        }
        Some(Action::Disconnect) => {
            let user_id = settings.billing.delinquency_user_id.ok_or_else(|| {
                AppError::validation(
                    "delinquency_user_id",
                    "billing settings name no delinquency_user_id to disconnect as",
                )
            })?;
            let given = disconnect::Given::Checked(None, disconnect::Why::non_payment(&settings));
            disconnect::disconnect_in_with(txn, user_id, account_id, given, at, None).await?;
        }
    }
    Ok((standing.since.is_some(), action))
}

/// Records a completed pass for `date` (`delinquency_passes`, one row per date).
async fn record_pass(
    db: &DatabaseConnection,
    date: NaiveDate,
    started_at: DateTime<Utc>,
    report: &DelinquencyReport,
) -> AppResult<()> {
    let at = now();
    let row = delinquency_pass::ActiveModel {
        date: Set(date),
        runs: Set(1),
        started_at: Set(started_at),
        finished_at: Set(at),
        acted: Set(report.acted()),
        accounts_switched: Set(report.accounts_switched as i64),
        accounts_restored: Set(report.accounts_restored as i64),
        accounts_disconnected: Set(report.accounts_disconnected as i64),
        accounts_failed: Set(report.failed as i64),
        ..Default::default()
    }
    .stamped(at);
    use delinquency_pass::{Column, Entity};
    Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::Date)
                .values([
                    (Column::Runs, Expr::col((Entity, Column::Runs)).add(1)),
                    (Column::Version, Expr::col((Entity, Column::Version)).add(1)),
                ])
                .update_columns([
                    Column::StartedAt,
                    Column::FinishedAt,
                    Column::Acted,
                    Column::AccountsSwitched,
                    Column::AccountsRestored,
                    Column::AccountsDisconnected,
                    Column::AccountsFailed,
                    Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}
