//! `account_forecast` (a fathom extension): what the billing pass, the delinquency pass and the
//! account's scheduled events would do to one account from today up to a date, from the same
//! code, writing nothing.
//!
//! It runs that code for real, inside one transaction that is rolled back at the end: for each
//! local day from today to `until`, at the first instant of the day (now, for today), the
//! delinquency pass for the account ([`delinquency::run_for_account_in`]), then the billing
//! pass for it ([`pass::bill_account_in`]), then its pending scheduled events due that day,
//! each at its own time ([`scheduled::run_account_due_in`]); then it reads what was written (the
//! invoices with their debits, the status changes, the disconnection) and rolls it all back.
//! Nothing else happens in its world: no payment comes in, no operator changes anything, and
//! the passes run in that order every day (a server's delinquency job runs within a minute of
//! local midnight, its billing job at most an hour after it, unless one of them is held up). It assumes what a real server would do, so it
//! answers what a real server will do unless something else changes meanwhile.
//!
//! Cost: a few statements per day (about five when nothing happens), at most
//! [`MAX_DAYS`] days, in one write transaction: on SQLite other writers wait for it (a year of
//! days takes well under a second); on PostgreSQL only writers of the same account do.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use crate::entity::{account, debit, disconnection_log, invoice, scheduled_event};
use crate::error::{AppError, AppResult};
use crate::service::base::{clock, settings, store::find};
use crate::service::billing::pass;
use crate::service::lifecycle::{delinquency, delinquency::Action, scheduled};

/// The furthest a forecast looks: a year and a day from today.
pub const MAX_DAYS: i64 = 366;

/// What changed an account's status in a forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The delinquency pass moved it to its delinquency status.
    DelinquencySwitch,
    /// The delinquency pass moved it back: no longer delinquent.
    DelinquencyRestore,
    /// The delinquency pass disconnected it for non-payment.
    NonPaymentDisconnection,
    /// One of its scheduled events.
    ScheduledEvent,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::DelinquencySwitch => "DELINQUENCY_SWITCH",
            Cause::DelinquencyRestore => "DELINQUENCY_RESTORE",
            Cause::NonPaymentDisconnection => "NON_PAYMENT_DISCONNECTION",
            Cause::ScheduledEvent => "SCHEDULED_EVENT",
        }
    }
}

/// A status change the forecast foresees.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    pub date: NaiveDate,
    pub at: DateTime<Utc>,
    pub previous_account_status_id: i64,
    pub account_status_id: i64,
    pub cause: Cause,
}

/// An invoice the forecast foresees, with its debits.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastInvoice {
    pub invoice: invoice::Model,
    pub debits: Vec<debit::Model>,
}

/// A scheduled event the forecast runs, and what came of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastEvent {
    pub event: scheduled_event::Model,
    /// `Ok` with what it did, or why it would fail.
    pub outcome: Result<String, String>,
}

/// What the passes would do to an account from `from` (today) to `until`.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    pub account_id: i64,
    pub from: NaiveDate,
    pub until: NaiveDate,
    /// The account as it would be at the end of `until`.
    pub account: account::Model,
    /// The invoices it would be sent, oldest first (a disconnection's final one included).
    pub invoices: Vec<ForecastInvoice>,
    pub status_changes: Vec<StatusChange>,
    /// Its disconnection, if one would happen.
    pub disconnection: Option<disconnection_log::Model>,
    /// The first day it would be delinquent (today, when it is already).
    pub delinquent_from: Option<NaiveDate>,
    pub scheduled_events: Vec<ForecastEvent>,
}

/// `account_forecast`: refused with `VALIDATION_FAILED` naming `until` when it is before today
/// or more than [`MAX_DAYS`] ahead; `NOT_FOUND` for an unknown account.
pub async fn forecast(
    db: &DatabaseConnection,
    account_id: i64,
    until: NaiveDate,
) -> AppResult<Forecast> {
    let start = clock::now();
    let snapshot = settings::snapshot(db).await?;
    let today = snapshot.local_date(start);
    if until < today {
        return Err(AppError::validation(
            "until",
            format!("until is before today ({today})"),
        ));
    }
    if (until - today).num_days() > MAX_DAYS {
        return Err(AppError::validation(
            "until",
            format!("a forecast looks at most {MAX_DAYS} days ahead"),
        ));
    }
    find::<account::Entity, _>(db, account_id).await?;
    let txn = crate::db::begin_immediate(db).await?;
    let result = run(&txn, &snapshot, account_id, today, until, start).await;
    txn.rollback().await?;
    result
}

/// The forecast's days, inside its transaction.
async fn run(
    txn: &sea_orm::DatabaseTransaction,
    snapshot: &settings::Snapshot,
    account_id: i64,
    today: NaiveDate,
    until: NaiveDate,
    start: DateTime<Utc>,
) -> AppResult<Forecast> {
    let newest = |rows: Option<i64>| rows.unwrap_or(0);
    let last_invoice = newest(
        invoice::Entity::find()
            .filter(invoice::Column::AccountId.eq(account_id))
            .order_by_desc(invoice::Column::Id)
            .one(txn)
            .await?
            .map(|i| i.id),
    );
    let last_log = newest(
        disconnection_log::Entity::find()
            .filter(disconnection_log::Column::AccountId.eq(account_id))
            .order_by_desc(disconnection_log::Column::Id)
            .one(txn)
            .await?
            .map(|l| l.id),
    );
    let mut status = find::<account::Entity, _>(txn, account_id)
        .await?
        .account_status_id;
    let mut status_changes = Vec::new();
    let mut scheduled_events = Vec::new();
    let mut delinquent_from = None;
    let mut day = today;
    while day <= until {
        let at = Ord::max(snapshot.start_of_day(day), start);
        let (delinquent, action) =
            clock::at_instant(at, delinquency::run_for_account_in(txn, account_id, day)).await?;
        if delinquent && delinquent_from.is_none() {
            delinquent_from = Some(day);
        }
        if let Some(action) = action {
            let cause = match action {
                Action::Switch(_) => Cause::DelinquencySwitch,
                Action::Restore(_) => Cause::DelinquencyRestore,
                Action::Disconnect => Cause::NonPaymentDisconnection,
            };
            note_status(
                txn,
                account_id,
                day,
                at,
                cause,
                &mut status,
                &mut status_changes,
            )
            .await?;
        }
        clock::at_instant(at, pass::bill_account_in(txn, account_id, day)).await?;
        let Some(next) = day.succ_opt() else { break };
        let end = snapshot.start_of_day(next) - chrono::Duration::seconds(1);
        for (event, outcome) in scheduled::run_account_due_in(txn, account_id, end, at).await? {
            let ran_at = Ord::max(event.datetime, at);
            note_status(
                txn,
                account_id,
                day,
                ran_at,
                Cause::ScheduledEvent,
                &mut status,
                &mut status_changes,
            )
            .await?;
            scheduled_events.push(ForecastEvent {
                event,
                outcome: outcome.map_err(|e| e.to_string()),
            });
        }
        day = next;
    }
    let invoices = invoice::Entity::find()
        .filter(invoice::Column::AccountId.eq(account_id))
        .filter(invoice::Column::Id.gt(last_invoice))
        .order_by_asc(invoice::Column::Id)
        .all(txn)
        .await?;
    let mut debits = debit::Entity::find()
        .filter(debit::Column::InvoiceId.is_in(invoices.iter().map(|i| i.id)))
        .order_by_asc(debit::Column::Id)
        .all(txn)
        .await?;
    let invoices = invoices
        .into_iter()
        .map(|invoice| {
            let (own, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut debits)
                .into_iter()
                .partition(|d| d.invoice_id == Some(invoice.id));
            debits = rest;
            ForecastInvoice {
                invoice,
                debits: own,
            }
        })
        .collect();
    let disconnection = disconnection_log::Entity::find()
        .filter(disconnection_log::Column::AccountId.eq(account_id))
        .filter(disconnection_log::Column::Id.gt(last_log))
        .order_by_asc(disconnection_log::Column::Id)
        .one(txn)
        .await?;
    Ok(Forecast {
        account_id,
        from: today,
        until,
        account: find::<account::Entity, _>(txn, account_id).await?,
        invoices,
        status_changes,
        disconnection,
        delinquent_from,
        scheduled_events,
    })
}

/// Notes a change of the account's status since `status`, if there is one.
async fn note_status(
    txn: &sea_orm::DatabaseTransaction,
    account_id: i64,
    date: NaiveDate,
    at: DateTime<Utc>,
    cause: Cause,
    status: &mut i64,
    changes: &mut Vec<StatusChange>,
) -> AppResult<()> {
    let now = find::<account::Entity, _>(txn, account_id)
        .await?
        .account_status_id;
    if now != *status {
        changes.push(StatusChange {
            date,
            at,
            previous_account_status_id: *status,
            account_status_id: now,
            cause,
        });
        *status = now;
    }
    Ok(())
}
