//! Scheduled events: something to do to an account at a future date and time, carried out
//! exactly once by the worker (`serve`, or `fathom run-scheduled`).
//!
//! Supported: `DISCONNECT_ACCOUNT` (with `prorate`; null inherits the billing setting when it
//! runs), `CHANGE_STATUS` (`primary_event_object_id` = the status id), `ADD_SERVICE` (= a
//! recurring service id; `amount` overrides the price), `REMOVE_SERVICE` (= an account service
//! id; `prorate` as for `deleteAccountService`) and `ONE_TIME_TRANSACTION` (= a one-time service
//! id; `amount` overrides the price). Each runs the same service call as its mutation, as the
//! user who created the event, effective at the event's `datetime` (a late run still prorates
//! as of the scheduled date), **in the same transaction that marks the event done**: a crash
//! or a second worker can never make it happen twice. A domain refusal marks the event
//! `FAILED` with the reason; a transient error (a conflict, the database) retries with backoff,
//! up to [`MAX_ATTEMPTS`].

use std::sync::OnceLock;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use tokio::sync::Notify;

use crate::auth::CurrentUser;
use crate::domain::{EventKind, EventStatus, ServiceType};
use crate::entity::{account_service, account_status, scheduled_event, service};
use crate::error::{AppError, AppResult};
use crate::service::base::store::Stamped;
use crate::service::{
    base::{
        account_guard, audit,
        clock::now,
        settings,
        store::{begin_write, find, save},
        values::{optional_text, Id},
    },
    billing::{services, transactions},
    lifecycle::{accounts, disconnect},
};

/// Tries of an event that keeps meeting transient errors before it is marked `FAILED`.
pub const MAX_ATTEMPTS: i32 = 5;

/// Woken whenever events change, so that the worker recomputes when to wake up next.
pub fn changed() -> &'static Notify {
    static CHANGED: OnceLock<Notify> = OnceLock::new();
    CHANGED.get_or_init(Notify::new)
}

crate::input! {
    pub struct CreateScheduledEvent as "CreateScheduledEventMutationInput" {
        description: Option<String> => "String";
        datetime: String => "Datetime!", "When it takes effect; must be in the future.";
        event: String => "ScheduledEventEvent!", "DISCONNECT_ACCOUNT, CHANGE_STATUS, ADD_SERVICE, REMOVE_SERVICE or ONE_TIME_TRANSACTION; others are UNSUPPORTED_EVENT.";
        primary_event_object_id: Option<String> => "String", "CHANGE_STATUS: the status id; ADD_SERVICE and ONE_TIME_TRANSACTION: the service id; REMOVE_SERVICE: the account service id.";
        amount: Option<i64> => "Int", "ADD_SERVICE and ONE_TIME_TRANSACTION: a price in cents instead of the service's.";
        prorate: Option<bool> => "Boolean", "DISCONNECT_ACCOUNT and REMOVE_SERVICE: prorate or not; null inherits the billing setting when it runs.";
        account_id: Id => "Int64Bit!";
        disconnection_reason_id: Option<Id> => "Int64Bit", "fathom extension, DISCONNECT_ACCOUNT only: why (an active disconnection reason, checked now and recorded when it runs); required when billing settings' disconnection_reason_required is true.";
        comment: Option<String> => "String", "fathom extension, DISCONNECT_ACCOUNT only: a note for the disconnection log.";
    }
}

crate::input! {
    #[derive(Default)]
    pub struct UpdateScheduledEvent as "UpdateScheduledEventMutationInput" {
        description: Option<String> => "String";
        datetime: Option<String> => "Datetime", "Must be in the future.";
        primary_event_object_id: Option<String> => "String";
        amount: Option<i64> => "Int";
        prorate: Option<bool> => "Boolean";
        unset_prorate: Option<bool> => "Boolean", "Back to inheriting the billing setting.";
        disconnection_reason_id: Option<Id> => "Int64Bit", "fathom extension, DISCONNECT_ACCOUNT only.";
        unset_disconnection_reason_id: Option<bool> => "Boolean", "fathom extension: no reason (refused when billing settings require one).";
        comment: Option<String> => "String", "fathom extension, DISCONNECT_ACCOUNT only; empty: none.";
    }
}

/// How far ahead an event may be scheduled.
pub const MAX_YEARS_AHEAD: i32 = 100;

fn future_datetime(value: &str) -> AppResult<DateTime<Utc>> {
    let at = crate::domain::parse_datetime(value)
        .ok_or_else(|| {
            AppError::validation(
                "datetime",
                "datetime must be ISO 8601 with an offset, in years 1 to 9999",
            )
        })?
        .trunc_subsecs(6);
    let now = now();
    if at <= now {
        return Err(AppError::ScheduledInPast(format!(
            "{value} is not in the future"
        )));
    }
    let horizon = now
        .checked_add_months(chrono::Months::new(12 * MAX_YEARS_AHEAD as u32))
        .unwrap_or(now);
    if at > horizon {
        return Err(AppError::validation(
            "datetime",
            format!("{value} is more than {MAX_YEARS_AHEAD} years ahead"),
        ));
    }
    Ok(at)
}

fn object_id(event: &str, value: Option<&str>) -> AppResult<i64> {
    value.and_then(|v| v.trim().parse().ok()).ok_or_else(|| {
        AppError::validation(
            "primary_event_object_id",
            format!("{event} needs the id of its object in primary_event_object_id"),
        )
    })
}

/// Checks what the event refers to, as it can be checked before it runs.
async fn check_target<C: ConnectionTrait>(
    db: &C,
    event: &str,
    account_id: i64,
    primary: Option<&str>,
    amount: Option<i64>,
) -> AppResult<()> {
    let Some(kind) = EventKind::parse(event) else {
        return Err(AppError::UnsupportedEvent(format!(
            "fathom does not carry out {event} events; supported: {}",
            EventKind::ALL
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    if amount.is_some_and(|a| !(0..=i32::MAX as i64).contains(&a)) {
        return Err(AppError::validation(
            "amount",
            "amount is in cents, 0 or more",
        ));
    }
    let bad = |what: String| AppError::validation("primary_event_object_id", what);
    match kind {
        EventKind::ChangeStatus => {
            let id = object_id(event, primary)?;
            find::<account_status::Entity, _>(db, id)
                .await
                .map_err(|_| bad(format!("account status {id} does not exist")))?;
        }
        EventKind::AddService | EventKind::OneTimeTransaction => {
            let id = object_id(event, primary)?;
            let s = find::<service::Entity, _>(db, id)
                .await
                .map_err(|_| bad(format!("service {id} does not exist")))?;
            let wanted = if kind == EventKind::AddService {
                ServiceType::Recurring
            } else {
                ServiceType::OneTime
            };
            if s.r#type != wanted {
                return Err(bad(format!(
                    "service {id} is not a {} service",
                    wanted.as_str().to_lowercase()
                )));
            }
        }
        EventKind::RemoveService => {
            let id = object_id(event, primary)?;
            let a = find::<account_service::Entity, _>(db, id)
                .await
                .map_err(|_| bad(format!("account service {id} does not exist")))?;
            if a.account_id != account_id || a.removed_at.is_some() {
                return Err(bad(format!(
                    "account service {id} is not on account {account_id}"
                )));
            }
        }
        EventKind::DisconnectAccount => {}
    }
    Ok(())
}

/// The reason and comment an event records: only a disconnection takes them, checked as
/// `disconnectAccount` checks them ([`disconnect::Why::given`]), against the settings now.
async fn why_of<C: ConnectionTrait>(
    db: &C,
    event: &str,
    reason_id: Option<i64>,
    comment: Option<&str>,
) -> AppResult<disconnect::Why> {
    if event != EventKind::DisconnectAccount.as_str() {
        for (field, given) in [
            ("disconnection_reason_id", reason_id.is_some()),
            ("comment", comment.is_some_and(|c| !c.trim().is_empty())),
        ] {
            if given {
                return Err(AppError::validation(
                    field,
                    format!("{field} is for DISCONNECT_ACCOUNT events only"),
                ));
            }
        }
        return Ok(disconnect::Why::default());
    }
    let settings = settings::snapshot(db).await?;
    disconnect::Why::given(&settings, reason_id, comment)
}

pub async fn create(
    db: &DatabaseConnection,
    caller: &CurrentUser,
    input: CreateScheduledEvent,
) -> AppResult<scheduled_event::Model> {
    may_schedule(caller, &input.event)?;
    let user_id = caller.user_id;
    let datetime = future_datetime(&input.datetime)?;
    let txn = begin_write(db).await?;
    let account = account_guard::changeable(&txn, input.account_id.0)
        .await
        .map_err(|e| match e {
            AppError::NotFound(m) => AppError::validation("account_id", m),
            other => other,
        })?;
    check_target(
        &txn,
        &input.event,
        account.id,
        input.primary_event_object_id.as_deref(),
        input.amount,
    )
    .await?;
    let why = why_of(
        &txn,
        &input.event,
        input.disconnection_reason_id.map(|i| i.0),
        input.comment.as_deref(),
    )
    .await?;
    let at = now();
    let model = scheduled_event::ActiveModel {
        account_id: Set(account.id),
        event: Set(input.event.clone()),
        datetime: Set(datetime),
        description: Set(optional_text("description", input.description.as_deref())?),
        primary_event_object_id: Set(input.primary_event_object_id.map(|p| p.trim().to_owned())),
        amount: Set(input.amount),
        prorate: Set(input.prorate),
        status: Set(EventStatus::Pending.into()),
        complete: Set(false),
        attempts: Set(0),
        created_by_user_id: Set(user_id),
        disconnection_reason_id: Set(why.reason_id),
        comment: Set(why.comment),
        ..Default::default()
    }
    .stamped(at)
    .insert(&txn)
    .await
    .map_err(|e| {
        let unique = matches!(
            e.sql_err(),
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
        );
        if unique && input.event == EventKind::DisconnectAccount {
            AppError::Conflict(format!(
                "account {} already has a pending scheduled disconnection",
                account.id
            ))
        } else {
            AppError::from(e)
        }
    })?;
    audit::created(&txn, model.id, user_id, &model).await?;
    txn.commit().await?;
    changed().notify_one();
    Ok(model)
}

/// A pending event, taken (locked) for the rest of the transaction: the event before its
/// account, in the same order as the worker, so the two never deadlock.
/// Event `id`, locked, if `caller` may change events of its kind and it is still pending.
async fn pending<C: ConnectionTrait>(
    db: &C,
    caller: &CurrentUser,
    id: i64,
) -> AppResult<scheduled_event::Model> {
    let mut select = scheduled_event::Entity::find_by_id(id);
    if db.get_database_backend() == DbBackend::Postgres {
        select = select.lock_exclusive();
    }
    let event = select
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("ScheduledEvent", id))?;
    may_schedule(caller, &event.event)?;
    if event.status != EventStatus::Pending {
        return Err(AppError::EventNotPending(format!(
            "scheduled event {id} is {}; only pending events can change",
            event.status
        )));
    }
    Ok(event)
}

/// The permission scheduling (or changing) an event of this kind needs, besides
/// `SCHEDULED_EVENTS_WRITE`: the one its mutation needs.
fn permission_for(event: &str) -> Option<crate::auth::Permission> {
    use crate::auth::Permission::{AccountsDisconnect, AccountsWrite, BillingWrite};
    Some(match EventKind::parse(event)? {
        EventKind::DisconnectAccount => AccountsDisconnect,
        EventKind::ChangeStatus => AccountsWrite,
        EventKind::AddService | EventKind::RemoveService | EventKind::OneTimeTransaction => {
            BillingWrite
        }
    })
}

/// Whether `caller` may schedule, change or delete an event of kind `event`: besides
/// `SCHEDULED_EVENTS_WRITE` (checked by the caller), the permission of the change it makes.
fn may_schedule(caller: &CurrentUser, event: &str) -> AppResult<()> {
    match permission_for(event) {
        Some(permission) => caller.require(permission),
        None => Ok(()),
    }
}

pub async fn update(
    db: &DatabaseConnection,
    caller: &CurrentUser,
    id: i64,
    input: UpdateScheduledEvent,
) -> AppResult<scheduled_event::Model> {
    let user_id = caller.user_id;
    let datetime = input.datetime.as_deref().map(future_datetime).transpose()?;
    let txn = begin_write(db).await?;
    let old = pending(&txn, caller, id).await?;
    account_guard::changeable(&txn, old.account_id).await?;
    let primary = input
        .primary_event_object_id
        .clone()
        .or(old.primary_event_object_id.clone());
    let amount = input.amount.or(old.amount);
    check_target(&txn, &old.event, old.account_id, primary.as_deref(), amount).await?;
    let mut am: scheduled_event::ActiveModel = old.clone().into();
    if let Some(d) = datetime {
        am.datetime = Set(d);
        am.next_attempt_at = Set(None);
        am.attempts = Set(0);
    }
    if let Some(d) = &input.description {
        am.description = Set(optional_text("description", Some(d))?);
    }
    am.primary_event_object_id = Set(primary.map(|p| p.trim().to_owned()));
    am.amount = Set(amount);
    if input.unset_prorate == Some(true) {
        am.prorate = Set(None);
    } else if let Some(p) = input.prorate {
        am.prorate = Set(Some(p));
    }
    // The reason and comment are checked again only when this changes them.
    let unset_reason = input.unset_disconnection_reason_id == Some(true);
    if input.disconnection_reason_id.is_some() || unset_reason || input.comment.is_some() {
        if input.disconnection_reason_id.is_some() && unset_reason {
            return Err(AppError::validation(
                "unset_disconnection_reason_id",
                "give disconnection_reason_id or unset_disconnection_reason_id, not both",
            ));
        }
        let reason = match input.disconnection_reason_id {
            Some(Id(id)) => Some(id),
            None if unset_reason => None,
            None => old.disconnection_reason_id,
        };
        let comment = input.comment.as_deref().or(old.comment.as_deref());
        let why = why_of(&txn, &old.event, reason, comment).await?;
        am.disconnection_reason_id = Set(why.reason_id);
        am.comment = Set(why.comment);
    }
    let new = save(&txn, id, old.version, am).await?;
    audit::updated(&txn, id, user_id, &old, &new, "scheduled event updated").await?;
    txn.commit().await?;
    changed().notify_one();
    Ok(new)
}

/// Deletes a pending event. It is kept, `CANCELLED`, as the record of what was planned.
pub async fn delete(db: &DatabaseConnection, caller: &CurrentUser, id: i64) -> AppResult<()> {
    let user_id = caller.user_id;
    let txn = begin_write(db).await?;
    let old = pending(&txn, caller, id).await?;
    let mut am: scheduled_event::ActiveModel = old.clone().into();
    am.status = Set(EventStatus::Cancelled.into());
    am.result_message = Set(Some(format!("deleted by user {user_id}")));
    let new = save(&txn, id, old.version, am).await?;
    audit::record(
        &txn,
        audit::LogType::Deleted,
        id,
        Some(user_id),
        Some(&old),
        Some(&new),
        "scheduled event deleted (cancelled)",
    )
    .await?;
    txn.commit().await?;
    changed().notify_one();
    Ok(())
}

/// Carries out one event inside `txn`, as its creator, effective at its datetime.
async fn execute<C: ConnectionTrait>(txn: &C, event: &scheduled_event::Model) -> AppResult<String> {
    let user = event.created_by_user_id;
    let at = event.datetime;
    let primary = event.primary_event_object_id.as_deref();
    let Some(kind) = EventKind::parse(&event.event) else {
        return Err(AppError::UnsupportedEvent(format!(
            "{} is not supported",
            event.event
        )));
    };
    Ok(match kind {
        EventKind::DisconnectAccount => {
            // The reason was checked when the event was scheduled: it is recorded even if it
            // was made inactive since.
            let why = disconnect::Why {
                reason_id: event.disconnection_reason_id,
                comment: event.comment.clone(),
                for_non_payment: false,
            };
            disconnect::disconnect_in_with(
                txn,
                user,
                event.account_id,
                disconnect::Given::Checked(event.prorate, why),
                at,
                Some(event.id),
            )
            .await?;
            format!("account {} disconnected", event.account_id)
        }
        EventKind::ChangeStatus => {
            let status = object_id(&event.event, primary)?;
            let input = accounts::UpdateAccount {
                account_status_id: Some(Id(status)),
                ..Default::default()
            };
            accounts::update_in(txn, user, event.account_id, input, at).await?;
            format!("account {} moved to status {status}", event.account_id)
        }
        EventKind::AddService => {
            let service = object_id(&event.event, primary)?;
            let input = services::AddServiceToAccount {
                account_id: Id(event.account_id),
                service_id: Id(service),
                quantity: 1,
                price_override: event.amount,
                price_override_reason: None,
                name_override: None,
                next_bill_date: None,
                prorate: None,
                proration_date: None,
            };
            let added = services::add_service_to_account_in(txn, user, input, at).await?;
            format!("service {service} added (account service {})", added.id)
        }
        EventKind::RemoveService => {
            let id = object_id(&event.event, primary)?;
            let input = services::DeleteAccountService {
                prorate: event.prorate,
                proration_date: None,
            };
            services::delete_account_service_in(txn, user, id, input, at).await?;
            format!("account service {id} removed")
        }
        EventKind::OneTimeTransaction => {
            let service = object_id(&event.event, primary)?;
            let input = transactions::OneTimeTransaction {
                service_id: Id(service),
                account_id: Id(event.account_id),
                description: event.description.clone(),
                quantity: 1,
                price_override: event.amount,
            };
            match transactions::one_time_transaction_in(txn, user, input).await? {
                transactions::Transaction::Debit(d) => format!("debit {} created", d.id),
                transactions::Transaction::Discount(d) => format!("discount {} created", d.id),
            }
        }
    })
}

/// What a run of the worker did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunReport {
    pub completed: u64,
    pub failed: u64,
    pub retried: u64,
}

fn due(at: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(scheduled_event::Column::Status.eq(EventStatus::Pending))
        .add(scheduled_event::Column::Datetime.lte(at))
        .add(
            Condition::any()
                .add(scheduled_event::Column::NextAttemptAt.is_null())
                .add(scheduled_event::Column::NextAttemptAt.lte(at)),
        )
}

/// Events the worker claims and carries out in one transaction, by default.
pub const DEFAULT_BATCH: u64 = 50;

/// [`run_due_in`] with batches of [`DEFAULT_BATCH`].
pub async fn run_due(db: &DatabaseConnection, at: DateTime<Utc>) -> AppResult<RunReport> {
    run_due_in(db, at, DEFAULT_BATCH).await
}

/// Carries out every event due at `at`, `batch` events per transaction. Several workers
/// (servers) may run this at once: on PostgreSQL each claims different events (`FOR UPDATE
/// SKIP LOCKED`); on SQLite write transactions are serialized. Each event's effect runs in a
/// savepoint of the transaction that holds the claimed events: a refusal rolls back only its
/// savepoint, and the event is marked with its outcome, still under its lock. The marks (one
/// statement for the batch) and the effects commit together, once per batch, so a crash at
/// any point leaves every event of the batch pending and untouched, to be run again: exactly
/// once either way. A batch whose marks cannot all be written (an event changed under it) is
/// rolled back whole and its events run one per transaction.
pub async fn run_due_in(
    db: &DatabaseConnection,
    at: DateTime<Utc>,
    batch: u64,
) -> AppResult<RunReport> {
    let mut report = RunReport::default();
    // Events this run already handled without finishing them (to retry later): never twice.
    let mut skip: Vec<i64> = Vec::new();
    loop {
        let txn = begin_write(db).await?;
        let mut events = claim(&txn, at, &skip, Ord::max(batch, 1)).await?;
        if events.is_empty() {
            txn.rollback().await?;
            return Ok(report);
        }
        // Accounts are taken in ascending id order by every batch (an account's own events
        // still in their order), so two workers' batches never wait for each other in a cycle.
        events.sort_by_key(|e| (e.account_id, e.datetime, e.id));
        let mut outcomes = Vec::with_capacity(events.len());
        for event in &events {
            let savepoint = txn.begin().await?;
            let outcome = execute(&savepoint, event).await;
            match &outcome {
                Ok(_) => savepoint.commit().await?,
                Err(_) => savepoint.rollback().await?,
            }
            outcomes.push(outcome);
        }
        let marks: Vec<Mark> = events
            .iter()
            .zip(&outcomes)
            .map(|(event, outcome)| Mark::of(event, outcome, at))
            .collect();
        match finish_all(&txn, &marks).await {
            Ok(()) => {
                txn.commit().await?;
                for mark in &marks {
                    report.count(mark.status, mark.retry_at.is_some());
                }
            }
            Err(err) => {
                txn.rollback().await?;
                tracing::warn!(error = ?err, events = events.len(), "a batch of scheduled events changed while running; running them one by one");
                for event in &events {
                    skip.push(event.id);
                    run_one(db, event.id, at, &mut report).await?;
                }
            }
        }
    }
}

/// Claims up to `limit` due events, oldest first, but those in `skip`.
async fn claim<C: ConnectionTrait>(
    db: &C,
    at: DateTime<Utc>,
    skip: &[i64],
    limit: u64,
) -> AppResult<Vec<scheduled_event::Model>> {
    let mut select = scheduled_event::Entity::find()
        .filter(due(at))
        .order_by_asc(scheduled_event::Column::Datetime)
        .order_by_asc(scheduled_event::Column::Id)
        .limit(limit);
    if !skip.is_empty() {
        select = select.filter(scheduled_event::Column::Id.is_not_in(skip.iter().copied()));
    }
    if db.get_database_backend() == DbBackend::Postgres {
        select = select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    Ok(select.all(db).await?)
}

/// Carries out the event `id` in a transaction of its own, if it is still due and free.
async fn run_one(
    db: &DatabaseConnection,
    id: i64,
    at: DateTime<Utc>,
    report: &mut RunReport,
) -> AppResult<()> {
    let txn = begin_write(db).await?;
    let mut select = scheduled_event::Entity::find()
        .filter(due(at))
        .filter(scheduled_event::Column::Id.eq(id));
    if db.get_database_backend() == DbBackend::Postgres {
        select = select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let Some(event) = select.one(&txn).await? else {
        txn.rollback().await?;
        return Ok(());
    };
    let savepoint = txn.begin().await?;
    let outcome = execute(&savepoint, &event).await;
    match &outcome {
        Ok(_) => savepoint.commit().await?,
        Err(_) => savepoint.rollback().await?,
    }
    let mark = Mark::of(&event, &outcome, at);
    match finish_all(&txn, std::slice::from_ref(&mark)).await {
        Ok(()) => {
            txn.commit().await?;
            report.count(mark.status, mark.retry_at.is_some());
        }
        // The event could not be marked (it changed under us): nothing of this attempt is
        // kept; count it as a transient failure in a transaction of its own.
        Err(mark_err) => {
            txn.rollback().await?;
            tracing::warn!(event_id = event.id, error = ?mark_err, "could not mark a scheduled event");
            let txn = begin_write(db).await?;
            if let Some(current) = scheduled_event::Entity::find_by_id(event.id)
                .one(&txn)
                .await?
                .filter(|e| e.status == EventStatus::Pending)
            {
                let mark = Mark::of(&current, &Err(mark_err), at);
                if finish_all(&txn, std::slice::from_ref(&mark)).await.is_ok() {
                    txn.commit().await?;
                    report.count(mark.status, mark.retry_at.is_some());
                    return Ok(());
                }
            }
            txn.rollback().await?;
        }
    }
    Ok(())
}

/// Carries out the pending events of `account_id` due by `until`, oldest first, inside the
/// caller's transaction (the forecast's), each as the worker would: in a savepoint, effective
/// at its `datetime`, with "now" at that instant or `earliest`, whichever is later, and marked
/// with its outcome. Returns each event with what came of it.
pub async fn run_account_due_in(
    txn: &sea_orm::DatabaseTransaction,
    account_id: i64,
    until: DateTime<Utc>,
    earliest: DateTime<Utc>,
) -> AppResult<Vec<(scheduled_event::Model, AppResult<String>)>> {
    let events = scheduled_event::Entity::find()
        .filter(due(until))
        .filter(scheduled_event::Column::AccountId.eq(account_id))
        .order_by_asc(scheduled_event::Column::Datetime)
        .order_by_asc(scheduled_event::Column::Id)
        .all(txn)
        .await?;
    let mut ran = Vec::with_capacity(events.len());
    for event in events {
        let at = Ord::max(event.datetime, earliest);
        let outcome = crate::service::base::clock::at_instant(at, async {
            let savepoint = txn.begin().await?;
            let outcome = execute(&savepoint, &event).await;
            match &outcome {
                Ok(_) => savepoint.commit().await?,
                Err(_) => savepoint.rollback().await?,
            }
            finish_all(txn, &[Mark::of(&event, &outcome, at)]).await?;
            AppResult::Ok(outcome)
        })
        .await?;
        ran.push((event, outcome));
    }
    Ok(ran)
}

impl RunReport {
    fn count(&mut self, status: EventStatus, retried: bool) {
        match status {
            EventStatus::Completed => self.completed += 1,
            _ if retried => self.retried += 1,
            _ => self.failed += 1,
        }
    }
}

/// What running an event came to: its new status, message and retry time.
struct Mark<'a> {
    event: &'a scheduled_event::Model,
    status: EventStatus,
    message: String,
    retry_at: Option<DateTime<Utc>>,
}

impl<'a> Mark<'a> {
    fn of(
        event: &'a scheduled_event::Model,
        outcome: &AppResult<String>,
        at: DateTime<Utc>,
    ) -> Self {
        match outcome {
            Ok(message) => Mark {
                event,
                status: EventStatus::Completed,
                message: message.clone(),
                retry_at: None,
            },
            Err(err) => {
                let (status, message, retry_at) = outcome_of_failure(event, err, at);
                Mark {
                    event,
                    status,
                    message,
                    retry_at,
                }
            }
        }
    }
}

/// What a failed attempt means: `FAILED` for a refusal (or a transient error on the last
/// try), else `PENDING` again with a retry time (a minute after the first try, doubling).
fn outcome_of_failure(
    event: &scheduled_event::Model,
    err: &AppError,
    at: DateTime<Utc>,
) -> (EventStatus, String, Option<DateTime<Utc>>) {
    let transient = err.is_server_fault() || matches!(err, AppError::Conflict(_));
    let message = match err {
        AppError::Internal(_) | AppError::Unavailable(_) => {
            tracing::error!(event_id = event.id, error = ?err, "scheduled event failed");
            "a transient error (see the server log)".to_owned()
        }
        other => other.to_string(),
    };
    let attempts = event.attempts + 1;
    if transient && attempts < MAX_ATTEMPTS {
        (
            EventStatus::Pending,
            message,
            Some(at + Duration::seconds(30 * 2i64.pow(attempts as u32))),
        )
    } else {
        (EventStatus::Failed, message, None)
    }
}

/// Marks each event (still pending, unchanged since it was read) with its outcome: one
/// statement for the events, one for their audit rows. An event that changed is a `CONFLICT`.
async fn finish_all<C: ConnectionTrait>(db: &C, marks: &[Mark<'_>]) -> AppResult<()> {
    use sea_orm::sea_query::CaseStatement;
    if marks.is_empty() {
        return Ok(());
    }
    let at = now();
    let mut status = CaseStatement::new();
    let mut complete = CaseStatement::new();
    let mut executed = CaseStatement::new();
    let mut message = CaseStatement::new();
    let mut attempts = CaseStatement::new();
    let mut retry = CaseStatement::new();
    let mut unchanged = Condition::any();
    for mark in marks {
        let event = mark.event;
        let this = || scheduled_event::Column::Id.eq(event.id);
        let done = mark.status != EventStatus::Pending;
        status = status.case(this(), Expr::val(mark.status.as_str()));
        complete = complete.case(this(), Expr::val(mark.status == EventStatus::Completed));
        executed = executed.case(this(), Expr::val(if done { Some(at) } else { None }));
        message = message.case(this(), Expr::val(mark.message.as_str()));
        attempts = attempts.case(this(), Expr::val(event.attempts + 1));
        retry = retry.case(this(), Expr::val(mark.retry_at));
        unchanged = unchanged.add(
            this()
                .and(scheduled_event::Column::Version.eq(event.version))
                .and(scheduled_event::Column::Status.eq(EventStatus::Pending)),
        );
    }
    let result = scheduled_event::Entity::update_many()
        .col_expr(scheduled_event::Column::Status, status.into())
        .col_expr(scheduled_event::Column::Complete, complete.into())
        .col_expr(scheduled_event::Column::ExecutedAt, executed.into())
        .col_expr(scheduled_event::Column::ResultMessage, message.into())
        .col_expr(scheduled_event::Column::Attempts, attempts.into())
        .col_expr(scheduled_event::Column::NextAttemptAt, retry.into())
        .col_expr(scheduled_event::Column::UpdatedAt, Expr::value(at))
        .col_expr(
            scheduled_event::Column::Version,
            Expr::col(scheduled_event::Column::Version).add(1),
        )
        .filter(unchanged)
        .exec(db)
        .await?;
    if result.rows_affected != marks.len() as u64 {
        return Err(AppError::Conflict(format!(
            "{} of {} scheduled event(s) changed while running",
            marks.len() as u64 - result.rows_affected,
            marks.len()
        )));
    }
    let mut rows = audit::Batch::default();
    for mark in marks {
        rows.add::<scheduled_event::Model>(
            audit::LogType::System,
            mark.event.id,
            Some(mark.event.created_by_user_id),
            None,
            None,
            format!("{}: {}", mark.status, mark.message),
        );
    }
    rows.write(db).await
}

/// When the worker should look again: the earliest pending datetime or retry time.
pub async fn next_due(db: &DatabaseConnection) -> AppResult<Option<DateTime<Utc>>> {
    let first = scheduled_event::Entity::find()
        .filter(scheduled_event::Column::Status.eq(EventStatus::Pending))
        .filter(scheduled_event::Column::NextAttemptAt.is_null())
        .order_by_asc(scheduled_event::Column::Datetime)
        .one(db)
        .await?;
    let retry = scheduled_event::Entity::find()
        .filter(scheduled_event::Column::Status.eq(EventStatus::Pending))
        .filter(scheduled_event::Column::NextAttemptAt.is_not_null())
        .order_by_asc(scheduled_event::Column::NextAttemptAt)
        .one(db)
        .await?;
    Ok([
        first.map(|e| e.datetime),
        retry.and_then(|e| e.next_attempt_at),
    ]
    .into_iter()
    .flatten()
    .min())
}

/// When the oldest pending event that is due at `now` was due (waiting for a retry included):
/// how late the scheduler runs. One indexed read.
pub async fn oldest_due(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
) -> AppResult<Option<DateTime<Utc>>> {
    let oldest: Option<DateTime<Utc>> = scheduled_event::Entity::find()
        .select_only()
        .column(scheduled_event::Column::Datetime)
        .filter(scheduled_event::Column::Status.eq(EventStatus::Pending))
        .filter(scheduled_event::Column::Datetime.lte(now))
        .order_by_asc(scheduled_event::Column::Datetime)
        .into_tuple()
        .one(db)
        .await?;
    Ok(oldest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(attempts: i32) -> scheduled_event::Model {
        let at = Utc::now();
        scheduled_event::Model {
            id: 7,
            account_id: 1,
            event: EventKind::ChangeStatus.into(),
            datetime: at,
            description: None,
            primary_event_object_id: Some("2".into()),
            amount: None,
            prorate: None,
            status: EventStatus::Pending.into(),
            complete: false,
            executed_at: None,
            result_message: None,
            attempts,
            next_attempt_at: None,
            created_by_user_id: 1,
            disconnection_reason_id: None,
            comment: None,
            created_at: at,
            updated_at: at,
            version: 1,
        }
    }

    #[test]
    fn a_refusal_fails_the_event_at_once_with_its_reason() {
        let at = Utc::now();
        let (status, message, retry) = outcome_of_failure(
            &event(0),
            &AppError::AccountArchived("account 1 is archived".into()),
            at,
        );
        assert_eq!((status, retry), (EventStatus::Failed, None));
        assert!(message.contains("archived"));
    }

    #[test]
    fn a_transient_error_retries_with_doubling_backoff_then_fails() {
        let at = Utc::now();
        let conflict = AppError::Conflict("changed".into());
        let (status, _, retry) = outcome_of_failure(&event(0), &conflict, at);
        assert_eq!(status, EventStatus::Pending);
        assert_eq!(retry, Some(at + Duration::seconds(60)));
        let (_, _, retry) = outcome_of_failure(&event(2), &conflict, at);
        assert_eq!(retry, Some(at + Duration::seconds(240)));
        let (status, message, retry) = outcome_of_failure(
            &event(MAX_ATTEMPTS - 1),
            &AppError::Internal("db down".into()),
            at,
        );
        assert_eq!((status, retry), (EventStatus::Failed, None));
        assert!(
            !message.contains("db down"),
            "internal detail stays in the log"
        );
    }
}
