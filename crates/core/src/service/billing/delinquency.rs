//! Delinquency, the money side: which invoices and accounts are delinquent, and the status an
//! account moves to while it is (Sonar's billing defaults).
//!
//! An invoice is delinquent when it is not void, more than billing settings'
//! `minimum_amount_due_for_delinquency` is left to pay, and the local date is past its
//! `delinquency_date` (its due date plus the grace days of the account's billing default when
//! it was written). An account is delinquent when one of its invoices is. Both are stored
//! (`invoices.delinquent`, `accounts.is_delinquent`) so that they read, filter and sort like any
//! column, and they are kept true by two writers: every write that changes what an account
//! owes marks its account in its own transaction ([`settle`]: a payment, its reversal or void,
//! a voided invoice, a credit applied, an invoice created), and the delinquency pass marks
//! every account for its date ([`mark_all`]: invoices that fell past their delinquency date
//! overnight). They are derived values: marking bumps neither `_version` nor `updated_at`.
//!
//! The statuses: an account delinquent for its billing default's
//! `days_of_delinquency_for_status_switch` days (counted from the day after its oldest
//! delinquent invoice's delinquency date) moves to `delinquency_account_status_id` when
//! `switch_status_after_delinquency` is set ([`switch`], by the pass), and back to
//! `delinquency_removal_account_status_id` as soon as it is delinquent no more ([`settle`], in
//! the payment's transaction; the pass too). Both statuses activate accounts (checked when the
//! billing default is written): a delinquent account is still billed, and a disconnection is
//! what ends its billing, so a switch is only a status change with its `STATUS_UPDATED` event.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    Statement,
};

use crate::entity::{account, billing_default, billing_setting};
use crate::error::{AppError, AppResult};
use crate::service::base::{
    account_events, audit,
    clock::now,
    settings::{self, Snapshot},
    store::begin_write,
};

/// The SQL condition, over an `invoices` row, of being delinquent on `today`.
fn delinquent_sql(today: NaiveDate, billing: &billing_setting::Model) -> String {
    format!(
        "(void = FALSE AND remaining_due > {} AND remaining_due > 0 AND delinquency_date < '{}')",
        billing.minimum_amount_due_for_delinquency,
        today.format("%Y-%m-%d")
    )
}

/// Marks the invoices and the account `account_id` as of `today`; returns whether the account
/// is delinquent. One statement on PostgreSQL, two on SQLite.
pub async fn mark_account<C: ConnectionTrait>(
    db: &C,
    account_id: i64,
    today: NaiveDate,
    billing: &billing_setting::Model,
) -> AppResult<bool> {
    Ok(mark_account_returning(db, account_id, today, billing)
        .await?
        .is_delinquent)
}

/// The two statements that mark the account `account_id` as of `today`: its invoices, then
/// the account (answering its row). Their text is the same for every account (the values are
/// bound), so each connection prepares them once; on PostgreSQL they go as one statement, and
/// a caller may add more writes to it ([`crate::service::base::compose`]).
pub fn mark_statements(
    backend: DbBackend,
    account_id: i64,
    today: NaiveDate,
    billing: &billing_setting::Model,
) -> (Statement, Statement) {
    let (id, min, day) = match backend {
        DbBackend::Postgres => ("$1", "$2", "$3"),
        _ => ("?1", "?2", "?3"),
    };
    let cond = format!(
        "(void = FALSE AND remaining_due > {min} AND remaining_due > 0 AND delinquency_date < {day})"
    );
    let values = || -> Vec<sea_orm::Value> {
        vec![
            account_id.into(),
            billing.minimum_amount_due_for_delinquency.into(),
            today.into(),
        ]
    };
    let invoices = format!(
        "UPDATE invoices SET delinquent = {cond} WHERE account_id = {id} AND delinquent <> {cond}"
    );
    // Computed from the invoices' own columns, not their flags: on PostgreSQL both updates see
    // the same snapshot.
    let account = format!(
        "UPDATE accounts SET is_delinquent = EXISTS (SELECT 1 FROM invoices \
         WHERE account_id = {id} AND {cond}) WHERE id = {id} RETURNING *"
    );
    (
        Statement::from_sql_and_values(backend, invoices, values()),
        Statement::from_sql_and_values(backend, account, values()),
    )
}

/// [`mark_account`], answering the account's row as it is after marking.
pub async fn mark_account_returning<C: ConnectionTrait>(
    db: &C,
    account_id: i64,
    today: NaiveDate,
    billing: &billing_setting::Model,
) -> AppResult<account::Model> {
    use sea_orm::FromQueryResult;
    let backend = db.get_database_backend();
    let (invoices, account) = mark_statements(backend, account_id, today, billing);
    let row = if backend == DbBackend::Postgres {
        db.query_one_raw(crate::service::base::compose::postgres(
            "WITH i AS ({0}) {1}",
            vec![invoices, account],
        ))
        .await?
    } else {
        db.execute_raw(invoices).await?;
        db.query_one_raw(account).await?
    };
    let row = row.ok_or_else(|| AppError::not_found("Account", account_id))?;
    Ok(account::Model::from_query_result(&row, "")?)
}

/// What [`mark_all`] changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Marked {
    pub invoices_now_delinquent: u64,
    pub invoices_no_longer_delinquent: u64,
    pub accounts_now_delinquent: u64,
    pub accounts_no_longer_delinquent: u64,
}

/// Accounts marked in one transaction by [`mark_all`].
pub const MARK_BATCH: usize = 500;

/// Marks every invoice and account as of `today`. The accounts whose marks are wrong are found
/// first (through partial indexes: the unpaid invoices not yet delinquent, the delinquent
/// ones, the delinquent accounts; never the whole book), then marked [`MARK_BATCH`] to a
/// transaction that locks their rows first, in id order: as every writer of an account's
/// invoices locks the account first, marking never deadlocks with a payment and never reads an
/// account's invoices while another transaction changes them.
pub async fn mark_all(
    db: &DatabaseConnection,
    today: NaiveDate,
    billing: &billing_setting::Model,
) -> AppResult<Marked> {
    let cond = delinquent_sql(today, billing);
    let backend = db.get_database_backend();
    let ids: Vec<i64> = db
        .query_all_raw(Statement::from_string(
            backend,
            format!(
                "SELECT account_id AS id FROM invoices WHERE remaining_due > 0 AND void = FALSE \
                 AND delinquent = FALSE AND {cond} \
                 UNION SELECT account_id FROM invoices WHERE delinquent = TRUE AND NOT {cond} \
                 UNION SELECT id FROM accounts a WHERE a.is_delinquent = TRUE AND NOT EXISTS \
                 (SELECT 1 FROM invoices i WHERE i.account_id = a.id AND i.delinquent = TRUE) \
                 UNION SELECT i.account_id FROM invoices i JOIN accounts a ON a.id = i.account_id \
                 WHERE i.delinquent = TRUE AND a.is_delinquent = FALSE \
                 ORDER BY 1"
            ),
        ))
        .await?
        .iter()
        .map(|row| row.try_get::<i64>("", "id"))
        .collect::<Result<_, _>>()?;
    let mut marked = Marked::default();
    for batch in ids.chunks(MARK_BATCH) {
        let list = batch
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let txn = begin_write(db).await?;
        if backend == DbBackend::Postgres {
            txn.execute_unprepared(&format!(
                "SELECT id FROM accounts WHERE id IN ({list}) ORDER BY id FOR UPDATE"
            ))
            .await?;
        }
        let count = |rows: &[sea_orm::QueryResult], column: &str, value: bool| {
            rows.iter()
                .filter(|r| r.try_get::<bool>("", column).is_ok_and(|v| v == value))
                .count() as u64
        };
        let invoices = txn
            .query_all_raw(Statement::from_string(
                backend,
                format!(
                    "UPDATE invoices SET delinquent = {cond} WHERE account_id IN ({list}) \
                     AND delinquent <> {cond} RETURNING delinquent"
                ),
            ))
            .await?;
        marked.invoices_now_delinquent += count(&invoices, "delinquent", true);
        marked.invoices_no_longer_delinquent += count(&invoices, "delinquent", false);
        let accounts = txn
            .query_all_raw(Statement::from_string(
                backend,
                format!(
                    "UPDATE accounts SET is_delinquent = NOT is_delinquent WHERE id IN ({list}) \
                     AND is_delinquent <> EXISTS (SELECT 1 FROM invoices i \
                     WHERE i.account_id = accounts.id AND i.delinquent = TRUE) RETURNING is_delinquent"
                ),
            ))
            .await?;
        marked.accounts_now_delinquent += count(&accounts, "is_delinquent", true);
        marked.accounts_no_longer_delinquent += count(&accounts, "is_delinquent", false);
        txn.commit().await?;
    }
    Ok(marked)
}

/// After a write that changed what the locked account `account_id` owes, in its transaction:
/// marks the account ([`mark_account`]) and, when it is delinquent no more and sits in its
/// billing default's delinquency status, moves it to the removal status ([`switch`]). One
/// statement on PostgreSQL when nothing moves; `settings` are the caller's.
pub async fn settle<C: ConnectionTrait>(
    db: &C,
    settings: &Snapshot,
    account_id: i64,
    user_id: Option<i64>,
    audit: &mut audit::Batch,
) -> AppResult<()> {
    let at = now();
    let today = settings.local_date(at);
    let account = mark_account_returning(db, account_id, today, &settings.billing).await?;
    restore_if_cleared(db, settings, &account, user_id, audit).await
}

/// The second half of [`settle`], for a caller that marked the account itself: `account` as
/// marked goes back to its removal status when it is no longer delinquent and sits in its
/// delinquency status.
pub async fn restore_if_cleared<C: ConnectionTrait>(
    db: &C,
    settings: &Snapshot,
    account: &account::Model,
    user_id: Option<i64>,
    audit: &mut audit::Batch,
) -> AppResult<()> {
    if account.is_delinquent {
        return Ok(());
    }
    if let Some(to) = restore_status(settings, account) {
        // A status made non-activating after the billing default named it: the write that
        // cleared the account (a payment) must not fail for it; the account stays where it is.
        if !settings.status(to).is_ok_and(|s| s.activates_account) {
            tracing::warn!(
                account_id = account.id,
                status_id = to,
                "not restoring an account to a status that does not activate accounts"
            );
            return Ok(());
        }
        switch(db, settings, account, to, now(), user_id, audit).await?;
    }
    Ok(())
}

/// [`settle`], reading the settings first (one statement more, unless the caller has them).
pub async fn settle_reading<C: ConnectionTrait>(
    db: &C,
    account_id: i64,
    user_id: Option<i64>,
    audit: &mut audit::Batch,
) -> AppResult<()> {
    let settings = settings::snapshot(db).await?;
    settle(db, &settings, account_id, user_id, audit).await
}

/// The billing default that rules `account`'s delinquency.
pub fn rules<'a>(
    settings: &'a Snapshot,
    account: &account::Model,
) -> Option<&'a billing_default::Model> {
    settings.billing_default_for(account.account_type_id)
}

/// The status an account no longer delinquent goes back to: its billing default's removal
/// status, when it sits in the delinquency status.
pub fn restore_status(settings: &Snapshot, account: &account::Model) -> Option<i64> {
    let rules = rules(settings, account)?;
    (rules.delinquency_account_status_id == Some(account.account_status_id))
        .then_some(rules.delinquency_removal_account_status_id)
        .flatten()
        .filter(|to| *to != account.account_status_id)
}

/// The status a delinquent account moves to after `days` days of delinquency, if it is not
/// there already: its billing default's delinquency status, when switching is on, the days are
/// enough and the account is in an activating status.
pub fn delinquency_status(settings: &Snapshot, account: &account::Model, days: i64) -> Option<i64> {
    let rules = rules(settings, account)?;
    let to = rules.delinquency_account_status_id?;
    let active = settings
        .status(account.account_status_id)
        .is_ok_and(|s| s.activates_account);
    (rules.switch_status_after_delinquency
        && active
        && to != account.account_status_id
        && days >= i64::from(rules.days_of_delinquency_for_status_switch.unwrap_or(0)))
    .then_some(to)
}

/// Moves the locked `account` from one activating status to another (`to`): its
/// `STATUS_UPDATED` event, the account's row (compare-and-set on `_version`) and its audit row
/// (the pass's have no user: `SYSTEM`). Refused with `VALIDATION_FAILED` when `to` does not
/// activate accounts (a status changed since the billing default named it): a switch must not
/// stop billing behind a disconnection's back.
pub async fn switch<C: ConnectionTrait>(
    db: &C,
    settings: &Snapshot,
    account: &account::Model,
    to: i64,
    at: DateTime<Utc>,
    user_id: Option<i64>,
    audit: &mut audit::Batch,
) -> AppResult<account::Model> {
    let target = settings.status(to)?;
    if !target.activates_account {
        return Err(AppError::validation(
            "delinquency_account_status_id",
            format!(
                "account status {} does not activate accounts: a billing default's delinquency statuses must",
                target.name
            ),
        ));
    }
    account_events::record_event(
        db,
        account.id,
        "STATUS_UPDATED",
        Some(account.account_status_id.to_string()),
        Some(to.to_string()),
        at,
    )
    .await?;
    let changed = account::Entity::update_many()
        .col_expr(account::Column::AccountStatusId, Expr::value(to))
        .col_expr(account::Column::Version, Expr::value(account.version + 1))
        .col_expr(account::Column::UpdatedAt, Expr::value(at))
        .filter(account::Column::Id.eq(account.id))
        .filter(account::Column::Version.eq(account.version))
        .exec_with_returning(db)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| {
            AppError::Conflict(format!(
                "account {} is being changed by another request",
                account.id
            ))
        })?;
    audit.add(
        if user_id.is_some() {
            audit::LogType::Updated
        } else {
            audit::LogType::System
        },
        account.id,
        user_id,
        Some(account),
        Some(&changed),
        if rules(settings, account).and_then(|r| r.delinquency_account_status_id) == Some(to) {
            "account delinquent: status switched"
        } else {
            "account no longer delinquent: status restored"
        },
    );
    Ok(changed)
}
