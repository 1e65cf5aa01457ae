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

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::Deserialize;
use tokio::sync::Notify;

use super::{
    accounts, audit, disconnect, find, now, optional_text, save, services, transactions, Id,
};
use crate::db::begin_write;
use crate::entity::{account_service, account_status, scheduled_event, service};
use crate::error::{AppError, AppResult};

pub const SUPPORTED: &[&str] = &[
    "DISCONNECT_ACCOUNT",
    "CHANGE_STATUS",
    "ADD_SERVICE",
    "REMOVE_SERVICE",
    "ONE_TIME_TRANSACTION",
];
pub const PENDING: &str = "PENDING";
pub const COMPLETED: &str = "COMPLETED";
pub const FAILED: &str = "FAILED";
pub const CANCELLED: &str = "CANCELLED";
/// Tries of an event that keeps meeting transient errors before it is marked `FAILED`.
pub const MAX_ATTEMPTS: i32 = 5;

/// Woken whenever events change, so that the worker recomputes when to wake up next.
pub fn changed() -> &'static Notify {
    static CHANGED: OnceLock<Notify> = OnceLock::new();
    CHANGED.get_or_init(Notify::new)
}

#[derive(Debug, Deserialize)]
pub struct CreateScheduledEvent {
    pub description: Option<String>,
    pub datetime: String,
    pub event: String,
    pub primary_event_object_id: Option<String>,
    pub amount: Option<i64>,
    pub prorate: Option<bool>,
    pub account_id: Id,
}

#[derive(Debug, Default, Deserialize)]
pub struct UpdateScheduledEvent {
    pub description: Option<String>,
    pub datetime: Option<String>,
    pub primary_event_object_id: Option<String>,
    pub amount: Option<i64>,
    pub prorate: Option<bool>,
    pub unset_prorate: Option<bool>,
}

fn future_datetime(value: &str) -> AppResult<DateTime<Utc>> {
    let at = DateTime::parse_from_rfc3339(value)
        .map_err(|_| AppError::validation("datetime", "datetime must be ISO 8601 with an offset"))?
        .with_timezone(&Utc);
    if at <= now() {
        return Err(AppError::ScheduledInPast(format!(
            "{value} is not in the future"
        )));
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
    if !SUPPORTED.contains(&event) {
        return Err(AppError::UnsupportedEvent(format!(
            "fathom does not carry out {event} events; supported: {}",
            SUPPORTED.join(", ")
        )));
    }
    if amount.is_some_and(|a| !(0..=i32::MAX as i64).contains(&a)) {
        return Err(AppError::validation(
            "amount",
            "amount is in cents, 0 or more",
        ));
    }
    let bad = |what: String| AppError::validation("primary_event_object_id", what);
    match event {
        "CHANGE_STATUS" => {
            let id = object_id(event, primary)?;
            find::<account_status::Entity, _>(db, "AccountStatus", id)
                .await
                .map_err(|_| bad(format!("account status {id} does not exist")))?;
        }
        "ADD_SERVICE" | "ONE_TIME_TRANSACTION" => {
            let id = object_id(event, primary)?;
            let s = find::<service::Entity, _>(db, "Service", id)
                .await
                .map_err(|_| bad(format!("service {id} does not exist")))?;
            let wanted = if event == "ADD_SERVICE" {
                services::RECURRING
            } else {
                services::ONETIME
            };
            if s.r#type != wanted {
                return Err(bad(format!(
                    "service {id} is not a {} service",
                    wanted.to_lowercase()
                )));
            }
        }
        "REMOVE_SERVICE" => {
            let id = object_id(event, primary)?;
            let a = find::<account_service::Entity, _>(db, "AccountService", id)
                .await
                .map_err(|_| bad(format!("account service {id} does not exist")))?;
            if a.account_id != account_id || a.removed_at.is_some() {
                return Err(bad(format!(
                    "account service {id} is not on account {account_id}"
                )));
            }
        }
        _ => {}
    }
    Ok(())
}

pub async fn create(
    db: &DatabaseConnection,
    user_id: i64,
    input: CreateScheduledEvent,
) -> AppResult<scheduled_event::Model> {
    let datetime = future_datetime(&input.datetime)?;
    let txn = begin_write(db).await?;
    let account = accounts::changeable(&txn, input.account_id.0)
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
    let at = now();
    let model = scheduled_event::ActiveModel {
        account_id: Set(account.id),
        event: Set(input.event.clone()),
        datetime: Set(datetime),
        description: Set(optional_text("description", input.description.as_deref())?),
        primary_event_object_id: Set(input.primary_event_object_id.map(|p| p.trim().to_owned())),
        amount: Set(input.amount),
        prorate: Set(input.prorate),
        status: Set(PENDING.into()),
        complete: Set(false),
        attempts: Set(0),
        created_by_user_id: Set(user_id),
        created_at: Set(at),
        updated_at: Set(at),
        version: Set(1),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|e| match AppError::from(e) {
        AppError::Conflict(_) => AppError::Conflict(format!(
            "account {} already has a pending scheduled disconnection",
            account.id
        )),
        other => other,
    })?;
    audit::created(&txn, "ScheduledEvent", model.id, user_id, &model).await?;
    txn.commit().await?;
    changed().notify_one();
    Ok(model)
}

async fn pending<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<scheduled_event::Model> {
    let event = find::<scheduled_event::Entity, _>(db, "ScheduledEvent", id).await?;
    if event.status != PENDING {
        return Err(AppError::EventNotPending(format!(
            "scheduled event {id} is {}; only pending events can change",
            event.status
        )));
    }
    Ok(event)
}

pub async fn update(
    db: &DatabaseConnection,
    user_id: i64,
    id: i64,
    input: UpdateScheduledEvent,
) -> AppResult<scheduled_event::Model> {
    let datetime = input.datetime.as_deref().map(future_datetime).transpose()?;
    let txn = begin_write(db).await?;
    let old = pending(&txn, id).await?;
    accounts::changeable(&txn, old.account_id).await?;
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
    let new = save(&txn, id, old.version, am).await?;
    audit::updated(
        &txn,
        "ScheduledEvent",
        id,
        user_id,
        &old,
        &new,
        "scheduled event updated",
    )
    .await?;
    txn.commit().await?;
    changed().notify_one();
    Ok(new)
}

/// Deletes a pending event. It is kept, `CANCELLED`, as the record of what was planned.
pub async fn delete(db: &DatabaseConnection, user_id: i64, id: i64) -> AppResult<()> {
    let txn = begin_write(db).await?;
    let old = pending(&txn, id).await?;
    let mut am: scheduled_event::ActiveModel = old.clone().into();
    am.status = Set(CANCELLED.into());
    am.result_message = Set(Some(format!("deleted by user {user_id}")));
    let new = save(&txn, id, old.version, am).await?;
    audit::record(
        &txn,
        audit::LogType::Deleted,
        "ScheduledEvent",
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
    Ok(match event.event.as_str() {
        "DISCONNECT_ACCOUNT" => {
            disconnect::disconnect_in(
                txn,
                user,
                event.account_id,
                event.prorate,
                at,
                Some(event.id),
            )
            .await?;
            format!("account {} disconnected", event.account_id)
        }
        "CHANGE_STATUS" => {
            let status = object_id(&event.event, primary)?;
            let input = accounts::UpdateAccount {
                account_status_id: Some(Id(status)),
                ..Default::default()
            };
            accounts::update_in(txn, user, event.account_id, input, at).await?;
            format!("account {} moved to status {status}", event.account_id)
        }
        "ADD_SERVICE" => {
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
        "REMOVE_SERVICE" => {
            let id = object_id(&event.event, primary)?;
            let input = services::DeleteAccountService {
                prorate: event.prorate,
                proration_date: None,
            };
            services::delete_account_service_in(txn, user, id, input, at).await?;
            format!("account service {id} removed")
        }
        "ONE_TIME_TRANSACTION" => {
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
        other => {
            return Err(AppError::UnsupportedEvent(format!(
                "{other} is not supported"
            )))
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
        .add(scheduled_event::Column::Status.eq(PENDING))
        .add(scheduled_event::Column::Datetime.lte(at))
        .add(
            Condition::any()
                .add(scheduled_event::Column::NextAttemptAt.is_null())
                .add(scheduled_event::Column::NextAttemptAt.lte(at)),
        )
}

/// Carries out every event due at `at`, one transaction each. Several workers (servers) may
/// run this at once: on PostgreSQL each claims a different event (`FOR UPDATE SKIP LOCKED`);
/// on SQLite write transactions are serialized.
pub async fn run_due(db: &DatabaseConnection, at: DateTime<Utc>) -> AppResult<RunReport> {
    let mut report = RunReport::default();
    let mut skip: Vec<i64> = Vec::new();
    loop {
        let txn = begin_write(db).await?;
        let mut select = scheduled_event::Entity::find()
            .filter(due(at))
            .order_by_asc(scheduled_event::Column::Datetime)
            .order_by_asc(scheduled_event::Column::Id);
        if !skip.is_empty() {
            select = select.filter(scheduled_event::Column::Id.is_not_in(skip.clone()));
        }
        if db.get_database_backend() == DbBackend::Postgres {
            select = select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let Some(event) = select.one(&txn).await? else {
            txn.rollback().await?;
            return Ok(report);
        };
        match execute(&txn, &event).await {
            Ok(message) => {
                let done = finish(&txn, &event, COMPLETED, &message, None).await;
                match done {
                    Ok(()) => {
                        txn.commit().await?;
                        report.completed += 1;
                    }
                    Err(_) => {
                        txn.rollback().await?;
                        skip.push(event.id);
                    }
                }
            }
            Err(err) => {
                txn.rollback().await?;
                let transient = matches!(err, AppError::Internal(_) | AppError::Conflict(_));
                let attempts = event.attempts + 1;
                let message = match &err {
                    AppError::Internal(_) => "a transient error (see the server log)".to_owned(),
                    other => other.to_string(),
                };
                if matches!(err, AppError::Internal(_)) {
                    tracing::error!(event_id = event.id, error = ?err, "scheduled event failed");
                }
                let txn = begin_write(db).await?;
                let (status, retry) = if transient && attempts < MAX_ATTEMPTS {
                    (
                        PENDING,
                        Some(now() + Duration::seconds(30 * 2i64.pow(attempts as u32))),
                    )
                } else {
                    (FAILED, None)
                };
                let _ = finish(&txn, &event, status, &message, retry).await;
                txn.commit().await?;
                if status == FAILED {
                    report.failed += 1;
                } else {
                    report.retried += 1;
                    skip.push(event.id);
                }
            }
        }
    }
}

/// Marks `event` (still pending, unchanged since it was read) with its outcome.
async fn finish<C: ConnectionTrait>(
    db: &C,
    event: &scheduled_event::Model,
    status: &str,
    message: &str,
    retry_at: Option<DateTime<Utc>>,
) -> AppResult<()> {
    let at = now();
    let done = status != PENDING;
    let result = scheduled_event::Entity::update_many()
        .col_expr(scheduled_event::Column::Status, Expr::value(status))
        .col_expr(
            scheduled_event::Column::Complete,
            Expr::value(status == COMPLETED),
        )
        .col_expr(
            scheduled_event::Column::ExecutedAt,
            Expr::value(if done { Some(at) } else { None }),
        )
        .col_expr(scheduled_event::Column::ResultMessage, Expr::value(message))
        .col_expr(
            scheduled_event::Column::Attempts,
            Expr::value(event.attempts + 1),
        )
        .col_expr(
            scheduled_event::Column::NextAttemptAt,
            Expr::value(retry_at),
        )
        .col_expr(scheduled_event::Column::UpdatedAt, Expr::value(at))
        .col_expr(
            scheduled_event::Column::Version,
            Expr::value(event.version + 1),
        )
        .filter(scheduled_event::Column::Id.eq(event.id))
        .filter(scheduled_event::Column::Version.eq(event.version))
        .filter(scheduled_event::Column::Status.eq(PENDING))
        .exec(db)
        .await?;
    if result.rows_affected != 1 {
        return Err(AppError::Conflict(format!(
            "scheduled event {} changed while running",
            event.id
        )));
    }
    audit::record::<C, (), _>(
        db,
        audit::LogType::System,
        "ScheduledEvent",
        event.id,
        Some(event.created_by_user_id),
        None,
        None::<&()>,
        format!("{status}: {message}"),
    )
    .await?;
    Ok(())
}

/// When the worker should look again: the earliest pending datetime or retry time.
pub async fn next_due(db: &DatabaseConnection) -> AppResult<Option<DateTime<Utc>>> {
    let first = scheduled_event::Entity::find()
        .filter(scheduled_event::Column::Status.eq(PENDING))
        .filter(scheduled_event::Column::NextAttemptAt.is_null())
        .order_by_asc(scheduled_event::Column::Datetime)
        .one(db)
        .await?;
    let retry = scheduled_event::Entity::find()
        .filter(scheduled_event::Column::Status.eq(PENDING))
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
