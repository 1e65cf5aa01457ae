//! The business of fathom: accounts, settings, users and tokens, billing, disconnection.
//!
//! Rules of this layer: no async-graphql types; functions take `&impl ConnectionTrait` so the
//! caller can pass a transaction, and the function that writes more than once owns its
//! transaction (begin, pass `&txn` down, commit). Every change writes its audit row
//! ([`audit`]) in the same transaction, and bumps the row's `version` with a compare-and-set
//! ([`save`]), so two concurrent writers of one row cannot both succeed.

pub mod account_guard;
pub mod accounts;
pub mod addresses;
pub mod audit;
pub mod billing;
pub mod book;
pub mod catalog;
pub mod collection;
pub mod compose;
pub mod contacts;
pub mod disconnect;
pub mod hierarchy;
pub mod idempotency;
pub mod input;
pub mod invoicing;
pub mod phone_numbers;
pub mod proration;
pub mod reactivation;
pub mod report;
pub mod scheduled;
pub mod seed;
pub mod selection;
pub mod services;
pub mod settings;
pub mod settings_changes;
pub mod transactions;
pub mod user_management;
pub mod users;
pub mod verify;
pub mod webhook_delivery;
pub mod webhook_events;
pub mod webhooks;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    Value,
};
use serde::{Deserialize, Deserializer};

use crate::error::{AppError, AppResult};

/// Every mutation input type, in the schema's order ([`input`]).
pub const INPUT_TYPES: &[input::InputType] = {
    use input::Input;
    &[
        settings_changes::UpdateSystemSettings::TYPE,
        catalog::CreateAccountStatus::TYPE,
        catalog::UpdateAccountStatus::TYPE,
        catalog::CreateAccountType::TYPE,
        catalog::UpdateAccountType::TYPE,
        addresses::MailingAddress::TYPE,
        phone_numbers::CreatePhoneNumber::TYPE,
        accounts::PrimaryContact::TYPE,
        accounts::CreateAccount::TYPE,
        accounts::UpdateAccount::TYPE,
        accounts::UpdateActivationDate::TYPE,
        hierarchy::LinkAccounts::TYPE,
        addresses::CreateServiceableAddress::TYPE,
        addresses::UpdateServiceableAddress::TYPE,
        contacts::CreateContact::TYPE,
        contacts::UpdateContact::TYPE,
        settings_changes::UpdateBillingSettings::TYPE,
        users::CreatePersonalAccessToken::TYPE,
        webhooks::ModelEvent::TYPE,
        webhooks::CreateEndpoint::TYPE,
        webhooks::UpdateEndpoint::TYPE,
        webhooks::CreateEndpointEvent::TYPE,
        user_management::CreateUser::TYPE,
        user_management::UpdateUser::TYPE,
        scheduled::CreateScheduledEvent::TYPE,
        scheduled::UpdateScheduledEvent::TYPE,
        disconnect::DisconnectAccount::TYPE,
        services::CreateRecurringService::TYPE,
        services::CreateOneTimeService::TYPE,
        services::AddServiceToAccount::TYPE,
        services::DeleteAccountService::TYPE,
        transactions::OneTimeTransaction::TYPE,
        invoicing::CreateInvoice::TYPE,
    ]
};

/// Begins a transaction that will write ([`crate::db::begin_immediate`]). Inside a mutation
/// field of a request with an `Idempotency-Key`, the transaction first records that the field
/// was carried out under the key, so the record commits or rolls back with the mutation's
/// effect ([`idempotency`]).
pub async fn begin_write(
    db: &sea_orm::DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
    let txn = crate::db::begin_immediate(db).await?;
    idempotency::record_write(&txn).await?;
    Ok(txn)
}

tokio::task_local! {
    /// A fixed "now" for the work done inside [`at_instant`] (tests, and replays of the past).
    static FIXED_NOW: DateTime<Utc>;
}

/// The current instant, to the microsecond (what both databases keep).
pub fn now() -> DateTime<Utc> {
    FIXED_NOW
        .try_with(|t| *t)
        .unwrap_or_else(|_| Utc::now())
        .trunc_subsecs(6)
}

/// The instant [`now`] is fixed at in this task, if any (to carry it onto a spawned task).
pub fn fixed_now() -> Option<DateTime<Utc>> {
    FIXED_NOW.try_with(|t| *t).ok()
}

/// Runs `work` with [`now`] fixed at `instant`.
pub async fn at_instant<F: std::future::Future>(instant: DateTime<Utc>, work: F) -> F::Output {
    FIXED_NOW.scope(instant, work).await
}

/// An id given as a JSON number or a string of digits (Sonar scripts send both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Id(pub i64);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(i) => Ok(Id(i)),
            Raw::Str(s) => s
                .trim()
                .parse()
                .map(Id)
                .map_err(|_| serde::de::Error::custom("not an id")),
        }
    }
}

/// A list argument that may arrive as a single value (Sonar scripts send both).
#[derive(Debug, Clone, PartialEq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw<T> {
            Many(Vec<T>),
            One(T),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::Many(v) => OneOrMany(v),
            Raw::One(v) => OneOrMany(vec![v]),
        })
    }
}

/// Loads `E` by id or reports `NOT_FOUND` naming `what`.
pub async fn find<E, C>(db: &C, what: &str, id: i64) -> AppResult<E::Model>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let col = collection::column::<E>("id")?;
    E::find()
        .filter(col.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(what, id))
}

/// The largest id a caller may choose (Sonar's `id` input, kept for numbers carried over from
/// a previous system). Twelve digits cover any account book; the ids fathom assigns itself
/// continue past the largest chosen one, so a bound far below `i64::MAX` keeps a chosen id
/// from exhausting the sequence.
pub const MAX_CHOSEN_ID: i64 = 999_999_999_999;

/// Checks an id a caller chose for a new `E` (to keep numbers from a previous system): it must
/// be within 1..=[`MAX_CHOSEN_ID`] and free (`CONFLICT` naming `what` otherwise).
pub async fn free_id<E, C>(db: &C, what: &str, id: i64) -> AppResult<()>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    if !(1..=MAX_CHOSEN_ID).contains(&id) {
        return Err(AppError::validation(
            "id",
            format!("a chosen id must be between 1 and {MAX_CHOSEN_ID}"),
        ));
    }
    let col = collection::column::<E>("id")?;
    if E::find().filter(col.eq(id)).one(db).await?.is_some() {
        return Err(AppError::Conflict(format!("{what} {id} already exists")));
    }
    Ok(())
}

/// Writes the changed fields of `am` to the row `model` was read from, if and only if nobody
/// changed that row since (its `version` is still the one read); bumps `version` and
/// `updated_at`. A lost race is a `CONFLICT`.
pub async fn save<E, A, C>(db: &C, id: i64, version: i64, mut am: A) -> AppResult<E::Model>
where
    E: EntityTrait<ActiveModel = A>,
    A: ActiveModelTrait<Entity = E> + Send,
    E::Model: IntoActiveModel<A>,
    C: ConnectionTrait,
{
    am.set(
        collection::column::<E>("version")?,
        Value::BigInt(Some(version + 1)),
    );
    am.set(
        collection::column::<E>("updated_at")?,
        Value::ChronoDateTimeUtc(Some(now())),
    );
    let result = E::update_many()
        .set(am)
        .filter(collection::column::<E>("id")?.eq(id))
        .filter(collection::column::<E>("version")?.eq(version))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(AppError::Conflict(
            "the record was changed by another request; reload and retry".into(),
        ));
    }
    find::<E, C>(db, "record", id).await
}

/// A `Date` input, or `VALIDATION_FAILED` naming `field`.
pub fn date_input(field: &str, value: &str) -> AppResult<chrono::NaiveDate> {
    crate::domain::parse_date(value)
        .ok_or_else(|| AppError::validation(field, format!("{field} must be YYYY-MM-DD")))
}

/// `Some(value)` unless `value` is empty after trimming; refuses an empty required string.
pub fn required_text(field: &str, value: &str) -> AppResult<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(AppError::validation(
            field,
            format!("{field} must not be empty"),
        ));
    }
    if trimmed.chars().count() > 255 {
        return Err(AppError::validation(
            field,
            format!("{field} must be at most 255 characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

pub fn optional_text(field: &str, value: Option<&str>) -> AppResult<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => required_text(field, v).map(Some),
    }
}
