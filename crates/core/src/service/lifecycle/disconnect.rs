//! Disconnecting an account, as a plan computed first and applied second, so that the preview
//! (`disconnect_account_preview`) and the real thing (`disconnectAccount`, a scheduled
//! disconnection) use the same code and give the same numbers.
//!
//! Applying a plan, in one transaction: the account moves to billing settings' disconnect
//! status (a compare-and-set on `_version`, done first, so that of two concurrent
//! disconnections exactly one proceeds); with proration, every recurring debit billed past the
//! effective date is credited for its unused days; all uninvoiced debits go on a final invoice
//! with the account's unapplied credits applied oldest first; the serviceable address is
//! released (its history row ends); a disconnection log, a `STATUS_UPDATED` account event and
//! an audit row are written; the account's other pending `DISCONNECT_ACCOUNT` events are
//! cancelled. Child accounts stay connected.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QueryTrait, Set, Statement,
};

use crate::domain::{EventKind, EventStatus};
use crate::entity::{
    account, address, debit, disconnection_log, disconnection_reason, discount, scheduled_event,
};
use crate::error::{AppError, AppResult};
use crate::service::base::store::Stamped;
use crate::service::base::values::{optional_text, Id};
use crate::service::{
    base::{
        account_guard, audit, clock, compose,
        settings::{self, Snapshot},
        store::{begin_write, find},
    },
    billing::{
        invoicing,
        transactions::{self, PlannedCredit},
    },
    lifecycle::{accounts, addresses},
};

/// What decided whether a disconnection prorates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProrationSource {
    /// The call's own `prorate`.
    Input,
    /// Billing settings' `prorate_account_status_change` ("inherit the global setting").
    BillingSettings,
}

impl ProrationSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ProrationSource::Input => "INPUT",
            ProrationSource::BillingSettings => "BILLING_SETTINGS",
        }
    }
}

crate::input! {
    /// Input of `disconnectAccount`.
    #[derive(Default)]
    pub struct DisconnectAccount as "DisconnectAccountMutationInput" {
        prorate: Option<bool> => "Boolean", "Credit the unused days of what was billed in advance. Null inherits billing settings' prorate_account_status_change.";
        disconnection_reason_id: Option<Id> => "Int64Bit", "fathom extension: why (an active disconnection reason); required when billing settings' disconnection_reason_required is true.";
        comment: Option<String> => "String", "fathom extension: a note on the disconnection log.";
    }
}

impl DisconnectAccount {
    /// The reason and comment, checked against the settings (see [`Why::given`]).
    pub fn why(&self, settings: &Snapshot) -> AppResult<Why> {
        Why::given(
            settings,
            self.disconnection_reason_id.map(|i| i.0),
            self.comment.as_deref(),
        )
    }
}

/// Why an account is disconnected: what its disconnection log records besides who and when.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Why {
    pub reason_id: Option<i64>,
    pub comment: Option<String>,
    /// The delinquency pass's disconnections are.
    pub for_non_payment: bool,
}

/// The most characters of a disconnection's comment.
pub const MAX_COMMENT: usize = 2000;

impl Why {
    /// A reason and comment a caller gave: the reason must exist and be active, and be given
    /// when billing settings' `disconnection_reason_required` is true; the comment is trimmed
    /// (empty: none) and at most [`MAX_COMMENT`] characters. Refusals are `VALIDATION_FAILED`
    /// naming `disconnection_reason_id` or `comment`.
    pub fn given(
        settings: &Snapshot,
        reason_id: Option<i64>,
        comment: Option<&str>,
    ) -> AppResult<Why> {
        let field = "disconnection_reason_id";
        match reason_id {
            None if settings.billing.disconnection_reason_required => {
                return Err(AppError::validation(
                    field,
                    "billing settings require a disconnection reason: give disconnection_reason_id",
                ))
            }
            None => {}
            Some(id) => match settings.disconnection_reason(id) {
                None => {
                    return Err(AppError::validation(
                        field,
                        format!("disconnection reason {id} does not exist"),
                    ))
                }
                Some(r) if !r.active => {
                    return Err(AppError::validation(
                        field,
                        format!("disconnection reason {id} ({}) is inactive", r.name),
                    ))
                }
                Some(_) => {}
            },
        }
        let comment = optional_text("comment", comment)?;
        if comment
            .as_ref()
            .is_some_and(|c| c.chars().count() > MAX_COMMENT)
        {
            return Err(AppError::validation(
                "comment",
                format!("comment is at most {MAX_COMMENT} characters"),
            ));
        }
        Ok(Why {
            reason_id,
            comment,
            for_non_payment: false,
        })
    }

    /// What the delinquency pass records: billing settings' `delinquency_disconnection_reason_id`.
    pub fn non_payment(settings: &Snapshot) -> Why {
        Why {
            reason_id: settings.billing.delinquency_disconnection_reason_id,
            comment: None,
            for_non_payment: true,
        }
    }
}

/// Everything a disconnection would do.
#[derive(Debug, Clone)]
pub struct DisconnectPlan {
    pub account: account::Model,
    pub at: DateTime<Utc>,
    /// The local date the disconnection takes effect; it is charged, the days after it are not.
    pub effective_date: NaiveDate,
    pub prorate: bool,
    pub proration_source: ProrationSource,
    pub credits: Vec<PlannedCredit>,
    /// The debits the final invoice takes.
    pub debits: Vec<debit::Model>,
    /// The account's discounts with something left to apply, oldest first.
    pub discounts: Vec<invoicing::Unapplied>,
    /// The account's payments with something left to apply, oldest first: they pay what the
    /// credits leave of the final invoice.
    pub payments: Vec<invoicing::Unapplied>,
    pub final_invoice_total_debits: i64,
    pub final_invoice_total_discounts: i64,
    pub final_invoice_remaining_due: i64,
    pub serviceable_address: Option<address::Model>,
    pub target_account_status_id: i64,
    pub scheduled_events_to_cancel: Vec<scheduled_event::Model>,
    /// Filled in by the preview only (the warning that children stay connected).
    pub active_child_accounts: Vec<account::Model>,
    /// What the account's recurring services come to per month (the report's lost MRR).
    pub monthly_recurring_amount: i64,
    /// What the disconnection log records as the reason.
    pub why: Why,
    /// The reason's record, when there is one (the preview shows it).
    pub reason: Option<disconnection_reason::Model>,
}

impl DisconnectPlan {
    pub fn creates_final_invoice(&self) -> bool {
        !self.debits.is_empty()
    }

    /// What the final invoice applies of each credit: the existing discounts' then the new
    /// credits', in that order (the invoice's own order).
    fn applied(&self) -> Vec<i64> {
        if !self.creates_final_invoice() {
            return vec![0; self.discounts.len() + self.credits.len()];
        }
        let remaining: Vec<i64> = self
            .discounts
            .iter()
            .map(|d| d.amount_remaining)
            .chain(self.credits.iter().map(|c| c.amount))
            .collect();
        invoicing::allocate(self.final_invoice_total_debits, &remaining)
    }
}

/// The plan for disconnecting `account` (as just read, or locked) at the instant `at`, from
/// its charges: one statement for the debits (the uninvoiced ones, and with proration those
/// billed past the effective date, each with whether it is already credited), one for the
/// discounts when there is a final invoice. Refusals: `ACCOUNT_ARCHIVED`, `ACCOUNT_NOT_ACTIVE`.
async fn plan<C: ConnectionTrait>(
    db: &C,
    account: account::Model,
    settings: &Snapshot,
    prorate: Option<bool>,
    why: Why,
    at: DateTime<Utc>,
) -> AppResult<DisconnectPlan> {
    let account_id = account.id;
    if account.archived_at.is_some() {
        return Err(AppError::AccountArchived(format!(
            "account {account_id} is archived"
        )));
    }
    let status = settings.status(account.account_status_id)?;
    if !status.activates_account {
        return Err(AppError::AccountNotActive(format!(
            "account {account_id} is not active (status {}): already disconnected, or never activated",
            status.name
        )));
    }
    let billing = &settings.billing;
    let (prorate, proration_source) = match prorate {
        Some(p) => (p, ProrationSource::Input),
        None => (
            billing.prorate_account_status_change,
            ProrationSource::BillingSettings,
        ),
    };
    let effective_date = settings.local_date(at);

    let mut credits = Vec::new();
    let mut debits = Vec::new();
    let mut discounts = Vec::new();
    let mut payments = Vec::new();
    let mut monthly_recurring_amount = 0;
    for row in db
        .query_all_raw(charges(
            db.get_database_backend(),
            account_id,
            prorate.then_some(effective_date),
        ))
        .await?
    {
        let kind: i32 = row.try_get("", "kind")?;
        if kind == 3 {
            let amount: i64 = row.try_get("", "amount")?;
            let months: i32 = row.try_get("", "number_of_months")?;
            monthly_recurring_amount += per_month(amount, months);
            continue;
        }
        if kind != 0 {
            let unapplied = invoicing::Unapplied {
                id: row.try_get("", "id")?,
                version: row.try_get("", "version")?,
                amount_remaining: row.try_get("", "amount")?,
            };
            if kind == 1 {
                discounts.push(unapplied);
            } else {
                payments.push(unapplied);
            }
            continue;
        }
        let debit = debit::Model::from_query_result(&row, "")?;
        let credited: bool = row.try_get("", "credited")?;
        if debit.invoice_id.is_none() {
            debits.push(debit.clone());
        }
        if prorate && !credited && debit.prorated_to.is_some_and(|to| to > effective_date) {
            credits.extend(transactions::credit_for(
                debit,
                effective_date,
                billing.round_prorated_amounts,
            ));
        }
    }
    let mut plan = DisconnectPlan {
        serviceable_address: None,
        target_account_status_id: billing.disconnect_account_status_id,
        account,
        at,
        effective_date,
        prorate,
        proration_source,
        final_invoice_total_debits: debits.iter().map(|d| d.amount).sum(),
        final_invoice_total_discounts: 0,
        final_invoice_remaining_due: 0,
        credits,
        debits,
        discounts,
        payments,
        scheduled_events_to_cancel: Vec::new(),
        active_child_accounts: Vec::new(),
        monthly_recurring_amount,
        reason: why
            .reason_id
            .and_then(|id| settings.disconnection_reason(id))
            .cloned(),
        why,
    };
    plan.final_invoice_total_discounts = plan.applied().iter().sum();
    let due = plan.final_invoice_total_debits - plan.final_invoice_total_discounts;
    let paid: i64 = if plan.creates_final_invoice() {
        invoicing::pay_from(due, &plan.payments)
            .iter()
            .map(|(_, amount)| amount)
            .sum()
    } else {
        0
    };
    plan.final_invoice_remaining_due = due - paid;
    Ok(plan)
}

/// `amount` spread over `months` months, rounded half away from zero.
pub fn per_month(amount: i64, months: i32) -> i64 {
    let months = i64::from(Ord::max(months, 1));
    // floor((2|a| + m) / 2m) = |a| / m rounded half up; the sign put back after.
    amount.signum() * ((2 * amount.abs() + months) / (2 * months))
}

/// One statement for what a disconnection of `account_id` looks at: its unreversed debits that
/// are uninvoiced, or (with proration, `prorate_after` being the effective date) billed past
/// the effective date, each with whether it is already credited (`kind` 0, in the debit's
/// columns); then its discounts with something left to apply (`kind` 1, with `id`, `version`,
/// and the remainder as `amount`), oldest first; then its payments with something left (`kind`
/// 2, the same way); then its recurring services (`kind` 3, with `id` and `version` the account
/// service's, `amount` its signed price times quantity and `number_of_months` its billing
/// frequency).
fn charges(backend: DbBackend, account_id: i64, prorate_after: Option<NaiveDate>) -> Statement {
    use sea_orm::{IdenStatic, Iterable};
    let p = |n: usize| match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    };
    let mut debit_columns = Vec::new();
    let mut discount_columns = Vec::new();
    let mut payment_columns = Vec::new();
    let mut service_columns = Vec::new();
    for column in debit::Column::iter() {
        let name = column.as_str();
        debit_columns.push(format!("d.\"{name}\""));
        let remainder = |table: &str| match column {
            debit::Column::Id | debit::Column::AccountId | debit::Column::Version => {
                format!("{table}.\"{name}\"")
            }
            debit::Column::Amount => format!("{table}.amount_remaining"),
            _ => "NULL".to_owned(),
        };
        discount_columns.push(remainder("c"));
        payment_columns.push(remainder("p"));
        service_columns.push(match column {
            debit::Column::Id | debit::Column::AccountId | debit::Column::Version => {
                format!("s.\"{name}\"")
            }
            // Signed: a credit service counts against.
            debit::Column::Amount => "(CASE WHEN v.application = 'CREDIT' THEN -1 ELSE 1 END) \
                 * COALESCE(s.price_override, v.amount) * s.quantity"
                .to_owned(),
            debit::Column::NumberOfMonths => {
                "COALESCE(NULLIF(v.billing_frequency, 0), 1)".to_owned()
            }
            _ => "NULL".to_owned(),
        });
    }
    let mut values: Vec<sea_orm::Value> = vec![account_id.into()];
    let billed_past = match prorate_after {
        Some(date) => {
            values.push(date.into());
            format!(" OR d.prorated_to > {}", p(2))
        }
        None => String::new(),
    };
    let sql = format!(
        "SELECT {}, EXISTS (SELECT 1 FROM discounts x WHERE x.debit_id = d.id) AS credited, 0 AS kind \
         FROM debits d WHERE d.account_id = {p1} AND d.reversed = FALSE AND (d.invoice_id IS NULL{billed_past}) \
         UNION ALL SELECT {}, FALSE, 1 FROM discounts c \
         WHERE c.account_id = {p1} AND c.amount_remaining > 0 AND c.reversed = FALSE \
         UNION ALL SELECT {}, FALSE, 2 FROM payments p \
         WHERE p.account_id = {p1} AND p.amount_remaining > 0 AND p.reversed = FALSE \
         UNION ALL SELECT {}, FALSE, 3 FROM account_services s JOIN services v ON v.id = s.service_id \
         WHERE s.account_id = {p1} AND s.removed_at IS NULL AND v.type = 'RECURRING' \
         ORDER BY kind, id",
        debit_columns.join(", "),
        discount_columns.join(", "),
        payment_columns.join(", "),
        service_columns.join(", "),
        p1 = p(1),
    );
    Statement::from_sql_and_values(backend, sql, values)
}

/// Carries out `plan` inside the caller's transaction, the account locked, and returns the
/// disconnected account.
async fn apply<C: ConnectionTrait>(
    db: &C,
    mut plan: DisconnectPlan,
    settings: &Snapshot,
    user_id: i64,
    scheduled_event_id: Option<i64>,
) -> AppResult<account::Model> {
    let account = &plan.account;
    let target = settings.status(plan.target_account_status_id)?;

    // First the status, compare-and-set: a concurrent disconnection that got here first makes
    // this a CONFLICT before anything else is written. Leaving the active statuses also stops
    // billing (no next bill date, here or on its services; no next recurring charge).
    let disconnected = accounts::deactivate(db, account, target, plan.at).await?;

    // The credits, each already net of what the final invoice takes of it.
    let applied = plan.applied();
    let taken = &applied[plan.discounts.len()..];
    let rows: Vec<_> = plan
        .credits
        .iter()
        .zip(taken)
        .map(|(credit, taken)| {
            transactions::proration_credit_row(
                &credit.debit,
                credit.amount,
                credit.amount - taken,
                credit.from,
                Some(user_id),
            )
        })
        .collect();
    let inserted = if rows.is_empty() {
        Vec::new()
    } else {
        discount::Entity::insert_many(rows)
            .exec_with_returning(db)
            .await?
    };
    let new_credits: Vec<(i64, i64)> = plan
        .credits
        .iter()
        .map(|credit| {
            inserted
                .iter()
                .find(|d| d.debit_id == Some(credit.debit.id))
                .map(|d| (d.id, credit.amount))
                .ok_or_else(|| AppError::internal("a proration credit was not inserted"))
        })
        .collect::<AppResult<_>>()?;

    let mut audit = audit::Batch::default();
    let webhooks = &settings.webhooks;
    if webhooks.wants("Discount", "CREATED") {
        for credit in &inserted {
            audit.notify_created(credit);
        }
    }
    if webhooks.wants("ScheduledEvent", "UPDATED") {
        // Cancelled by the statement that locked them, which returned them as they are now;
        // before, they were pending, without a result.
        for after in &plan.scheduled_events_to_cancel {
            let mut before = after.clone();
            before.status = EventStatus::Pending.into();
            before.result_message = None;
            before.version -= 1;
            audit.notify_updated(&before, after);
        }
    }
    let final_invoice = if plan.creates_final_invoice() {
        let invoice = invoicing::Draft {
            account,
            debits: &plan.debits,
            date: plan.effective_date,
            due_date: None,
            message: Some("Final invoice".into()),
            user_id: Some(user_id),
            grace_days: settings.grace_days(account.account_type_id),
        }
        .write(
            db,
            &plan.discounts,
            &new_credits,
            &plan.payments,
            &mut audit,
        )
        .await?;
        if invoice.total_debits != plan.final_invoice_total_debits
            || invoice.remaining_due != plan.final_invoice_remaining_due
        {
            return Err(AppError::Conflict(
                "the account's billing changed while disconnecting; retry".into(),
            ));
        }
        Some(invoice)
    } else {
        None
    };

    plan.serviceable_address =
        addresses::release_assigned(db, account.id, plan.effective_date).await?;

    audit.add(
        audit::LogType::Updated,
        account.id,
        Some(user_id),
        Some(account),
        Some(&disconnected),
        format!(
            "account disconnected (final invoice {}, {} credit(s), {} scheduled disconnection(s) cancelled)",
            final_invoice
                .as_ref()
                .map(|i| i.id.to_string())
                .unwrap_or_else(|| "none".into()),
            plan.credits.len(),
            plan.scheduled_events_to_cancel.len(),
        ),
    );
    let log = disconnection_log::Entity::insert(
        disconnection_log::ActiveModel {
            account_id: Set(account.id),
            disconnected_at: Set(plan.at),
            disconnected_by_user_id: Set(user_id),
            serviceable_address_id: Set(plan.serviceable_address.as_ref().map(|a| a.id)),
            serviceable_address_reference_record: Set(plan
                .serviceable_address
                .as_ref()
                .map(addresses::snapshot)),
            final_invoice_id: Set(final_invoice.as_ref().map(|i| i.id)),
            prorated: Set(plan.prorate),
            proration_source: Set(plan.proration_source.as_str().into()),
            previous_account_status_id: Set(account.account_status_id),
            account_status_id: Set(target.id),
            scheduled_event_id: Set(scheduled_event_id),
            credit_total: Set(plan.credits.iter().map(|c| c.amount).sum()),
            for_non_payment: Set(plan.why.for_non_payment),
            disconnection_reason_id: Set(plan.why.reason_id),
            comment: Set(plan.why.comment.clone()),
            monthly_recurring_amount: Set(plan.monthly_recurring_amount),
            ..Default::default()
        }
        .stamped(plan.at),
    );
    // The disconnection log, the audit rows and the webhook dispatches: one statement on
    // PostgreSQL. Reporting the log itself needs its id first: one statement more, only when
    // an endpoint subscribes to it.
    let backend = db.get_database_backend();
    if webhooks.wants("DisconnectionLog", "CREATED") {
        let log = log.exec_with_returning(db).await?;
        audit.notify_created(&log);
        let dispatches = audit.dispatch_statements(backend, webhooks);
        audit.write_with(db, dispatches).await?;
    } else if backend == DbBackend::Postgres {
        let mut dispatches = audit.dispatch_statements(backend, webhooks);
        let (rows, written) = audit.into_statement(backend);
        let rows = rows.ok_or_else(|| AppError::internal("no audit row"))?;
        if dispatches.len() == 1 {
            db.execute_raw(compose::postgres(
                "WITH l AS ({0}), a AS ({1}), d AS ({2}) SELECT 1",
                vec![log.build(backend), rows, dispatches.remove(0)],
            ))
            .await?;
        } else {
            db.execute_raw(compose::postgres(
                "WITH l AS ({0}), a AS ({1}) SELECT 1",
                vec![log.build(backend), rows],
            ))
            .await?;
            for statement in dispatches {
                db.execute_raw(statement).await?;
            }
        }
        written.finish(db).await?;
    } else {
        log.exec_without_returning(db).await?;
        let dispatches = audit.dispatch_statements(backend, webhooks);
        audit.write_with(db, dispatches).await?;
    }
    Ok(disconnected)
}

/// `disconnectAccount`: plan and apply in one transaction, effective now.
pub async fn disconnect(
    db: &DatabaseConnection,
    user_id: i64,
    account_id: i64,
    input: DisconnectAccount,
) -> AppResult<account::Model> {
    let txn = begin_write(db).await?;
    let account = disconnect_in_with(
        &txn,
        user_id,
        account_id,
        Given::Input(input),
        clock::now(),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(account)
}

/// A disconnection inside the caller's transaction, effective at `at` (a scheduled event's
/// datetime, which may be earlier than the moment it runs). On PostgreSQL, with proration,
/// a billed and an uninvoiced debit and an assigned address, nine statements between `BEGIN`
/// and `COMMIT`: cancel the pending scheduled disconnections; lock the account (with the
/// settings generation); read its debits and discounts; change its status (with its event and
/// the end of its billing); insert the credits; the final invoice (with its debits); its
/// applications; release the address (with its history); the disconnection log with the audit
/// rows.
pub async fn disconnect_in<C: ConnectionTrait>(
    txn: &C,
    user_id: i64,
    account_id: i64,
    prorate: Option<bool>,
    at: DateTime<Utc>,
    scheduled_event_id: Option<i64>,
) -> AppResult<account::Model> {
    disconnect_in_with(
        txn,
        user_id,
        account_id,
        Given::Checked(prorate, Why::default()),
        at,
        scheduled_event_id,
    )
    .await
}

/// How a disconnection was asked for: a caller's input (its reason checked against the settings
/// the disconnection reads, in its transaction), or a proration choice and a reason already
/// decided (a scheduled event's, checked when it was scheduled; the delinquency pass's).
#[derive(Debug)]
pub enum Given {
    Input(DisconnectAccount),
    Checked(Option<bool>, Why),
}

/// [`disconnect_in`], with the reason the disconnection log records.
pub async fn disconnect_in_with<C: ConnectionTrait>(
    txn: &C,
    user_id: i64,
    account_id: i64,
    given: Given,
    at: DateTime<Utc>,
    scheduled_event_id: Option<i64>,
) -> AppResult<account::Model> {
    let cancel = || cancel_pending_disconnections(txn, account_id, scheduled_event_id, at);
    let (cancelled, account, settings) = if txn.get_database_backend() == DbBackend::Postgres {
        // The events' rows before the account's, in the worker's order (see
        // `cancel_pending_disconnections`).
        let cancelled = cancel().await?;
        let (account, settings) = account_guard::lock_with_settings(txn, account_id).await?;
        (cancelled, account, settings)
    } else {
        // SQLite's write transaction holds the whole database: whether there is anything to
        // cancel is read with the account, and the cancellation skipped when there is not.
        let pending = format!(
            "EXISTS (SELECT 1 FROM scheduled_events e WHERE e.account_id = accounts.id \
             AND e.event = '{}' AND e.status = '{}' AND e.id <> {})",
            EventKind::DisconnectAccount,
            EventStatus::Pending,
            scheduled_event_id.unwrap_or(0)
        );
        let (account, settings, row) =
            account_guard::lock_with_settings_and(txn, account_id, vec![(pending, "pending")])
                .await?;
        let pending: bool = row.try_get("", "pending")?;
        let cancelled = if pending { cancel().await? } else { Vec::new() };
        (cancelled, account, settings)
    };
    let (prorate, why) = match given {
        Given::Input(input) => (input.prorate, input.why(&settings)?),
        Given::Checked(prorate, why) => (prorate, why),
    };
    let mut plan = plan(txn, account, &settings, prorate, why, at).await?;
    plan.scheduled_events_to_cancel = cancelled;
    apply(txn, plan, &settings, user_id, scheduled_event_id).await
}

/// `disconnect_account_preview`: the plan, effective now, writing nothing.
pub async fn preview(
    db: &DatabaseConnection,
    account_id: i64,
    input: DisconnectAccount,
) -> AppResult<DisconnectPlan> {
    let settings = settings::snapshot(db).await?;
    let why = input.why(&settings)?;
    let account = find::<account::Entity, _>(db, account_id).await?;
    let mut plan = plan(db, account, &settings, input.prorate, why, clock::now()).await?;
    plan.serviceable_address = addresses::assigned_to(db, account_id).await?;
    plan.scheduled_events_to_cancel = pending_disconnections(db, account_id, None).await?;
    plan.active_child_accounts = account::Entity::find()
        .filter(account::Column::ParentAccountId.eq(account_id))
        .filter(account::Column::ArchivedAt.is_null())
        .filter(account::Column::AccountStatusId.is_in(settings.activating()))
        .order_by_asc(account::Column::Id)
        .all(db)
        .await?;
    Ok(plan)
}

/// Cancels the account's pending scheduled disconnections (but `except`, the one being run),
/// as a disconnection does, and returns them. One statement, sent before the account is
/// locked: it takes the events' rows first, in the worker's order (event, then account), so
/// that disconnecting now while the worker runs a scheduled disconnection of the same account
/// waits instead of deadlocking.
pub async fn cancel_pending_disconnections<C: ConnectionTrait>(
    db: &C,
    account_id: i64,
    except: Option<i64>,
    at: DateTime<Utc>,
) -> AppResult<Vec<scheduled_event::Model>> {
    let mut update = scheduled_event::Entity::update_many()
        .col_expr(
            scheduled_event::Column::Status,
            Expr::value(EventStatus::Cancelled),
        )
        .col_expr(
            scheduled_event::Column::ResultMessage,
            Expr::value("cancelled: the account was disconnected"),
        )
        .col_expr(scheduled_event::Column::UpdatedAt, Expr::value(at))
        .col_expr(
            scheduled_event::Column::Version,
            Expr::col(scheduled_event::Column::Version).add(1),
        )
        .filter(scheduled_event::Column::AccountId.eq(account_id))
        .filter(scheduled_event::Column::Event.eq(EventKind::DisconnectAccount))
        .filter(scheduled_event::Column::Status.eq(EventStatus::Pending));
    if let Some(id) = except {
        update = update.filter(scheduled_event::Column::Id.ne(id));
    }
    let mut cancelled = update.exec_with_returning(db).await?;
    cancelled.sort_by_key(|e| e.id);
    Ok(cancelled)
}

/// The account's pending scheduled disconnections but `except` (what a disconnection would
/// cancel), oldest first.
pub async fn pending_disconnections<C: ConnectionTrait>(
    db: &C,
    account_id: i64,
    except: Option<i64>,
) -> AppResult<Vec<scheduled_event::Model>> {
    let mut select = scheduled_event::Entity::find()
        .filter(scheduled_event::Column::AccountId.eq(account_id))
        .filter(scheduled_event::Column::Event.eq(EventKind::DisconnectAccount))
        .filter(scheduled_event::Column::Status.eq(EventStatus::Pending))
        .order_by_asc(scheduled_event::Column::Id);
    if let Some(id) = except {
        select = select.filter(scheduled_event::Column::Id.ne(id));
    }
    Ok(select.all(db).await?)
}

#[cfg(test)]
mod tests {
    use super::per_month;

    #[test]
    fn per_month_rounds_half_away_from_zero() {
        for (amount, months, want) in [
            (4999, 1, 4999),
            (12000, 12, 1000),
            (5, 2, 3),
            (-5, 2, -3),
            (4, 3, 1),
            (5, 3, 2),
            (1000, 3, 333),
            (-1000, 3, -333),
            (0, 6, 0),
            (7, 0, 7),
        ] {
            assert_eq!(per_month(amount, months), want, "{amount} over {months}");
        }
    }
}
