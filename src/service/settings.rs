//! The system setting (time zone) and the billing settings: one row each, seeded on start.
//! With the account statuses, they are what the write path consults on every change, so a
//! server keeps them in memory ([`Snapshot`]), checked against the database's settings
//! generation inside a statement it sends anyway; every mutation of them adds one to the
//! generation ([`bump`]), so every server sees the change on its next use. The webhook
//! subscriptions travel with them (their changes bump the generation too).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, EntityTrait, QueryOrder, QueryResult, Set, Statement,
};
use serde::Deserialize;

use super::{audit, find, save, Id};
use crate::db::begin_write;
use crate::entity::{account_status, billing_setting, system_setting};
use crate::error::{AppError, AppResult};
use crate::sonar_enums::timezone_name;

/// The settings and statuses as of one settings generation of one database.
#[derive(Debug)]
pub struct Snapshot {
    pub instance: i64,
    pub generation: i64,
    pub billing: billing_setting::Model,
    pub system: system_setting::Model,
    pub zone: Tz,
    statuses: HashMap<i64, account_status::Model>,
    /// The webhook subscriptions of enabled endpoints (what the outbox writes dispatches for).
    pub webhooks: super::webhooks::Subscriptions,
}

impl Snapshot {
    /// The account status `id`, or `NOT_FOUND`.
    pub fn status(&self, id: i64) -> AppResult<&account_status::Model> {
        self.statuses
            .get(&id)
            .ok_or_else(|| AppError::not_found("AccountStatus", id))
    }

    /// The ids of the statuses that activate an account, in id order.
    pub fn activating(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .statuses
            .values()
            .filter(|s| s.activates_account)
            .map(|s| s.id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// The local business date of `instant` in the instance time zone.
    pub fn local_date(&self, instant: DateTime<Utc>) -> NaiveDate {
        instant.with_timezone(&self.zone).date_naive()
    }
}

/// SQL expressions reading the database's settings stamp, to put in a statement's select list.
pub const INSTANCE_SQL: &str = "(SELECT instance FROM settings_generations WHERE id = 1)";
pub const GENERATION_SQL: &str = "(SELECT generation FROM settings_generations WHERE id = 1)";

/// The stamp read by [`INSTANCE_SQL`] and [`GENERATION_SQL`] under these column names.
pub fn stamp_of(row: &QueryResult, instance: &str, generation: &str) -> AppResult<(i64, i64)> {
    Ok((row.try_get("", instance)?, row.try_get("", generation)?))
}

fn cache() -> &'static Mutex<HashMap<i64, Arc<Snapshot>>> {
    static CACHE: OnceLock<Mutex<HashMap<i64, Arc<Snapshot>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Databases one process remembers settings for (a server has one; a test run, many).
const CACHED_DATABASES: usize = 64;

/// The settings as of the stamp `(instance, generation)` just read from `db`: the copy in
/// memory when it is of that generation, else read now (and kept). Data read now is at least
/// as new as the stamp, so a copy is never older than the generation it is kept under.
pub async fn snapshot_at<C: ConnectionTrait>(
    db: &C,
    (instance, generation): (i64, i64),
) -> AppResult<Arc<Snapshot>> {
    if let Some(found) = cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&instance)
        .filter(|s| s.generation == generation)
    {
        return Ok(found.clone());
    }
    let system = system_setting(db).await?;
    let snapshot = Arc::new(Snapshot {
        instance,
        generation,
        billing: billing_setting(db).await?,
        zone: zone_of(&system.timezone)?,
        system,
        statuses: account_status::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|s| (s.id, s))
            .collect(),
        webhooks: super::webhooks::Subscriptions::load(db).await?,
    });
    let mut cached = cache().lock().unwrap_or_else(|e| e.into_inner());
    if cached.len() >= CACHED_DATABASES && !cached.contains_key(&instance) {
        cached.clear();
    }
    cached.insert(instance, snapshot.clone());
    Ok(snapshot)
}

/// The current settings: one statement to read the stamp, more only when they changed.
pub async fn snapshot<C: ConnectionTrait>(db: &C) -> AppResult<Arc<Snapshot>> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT instance, generation FROM settings_generations WHERE id = 1",
        ))
        .await?
        .ok_or_else(|| AppError::internal("the settings generation row is missing"))?;
    let stamp = stamp_of(&row, "instance", "generation")?;
    snapshot_at(db, stamp).await
}

/// Marks the settings or statuses changed, in the transaction that changes them.
pub async fn bump<C: ConnectionTrait>(db: &C) -> AppResult<()> {
    db.execute_unprepared(
        "UPDATE settings_generations SET generation = generation + 1 WHERE id = 1",
    )
    .await?;
    Ok(())
}

pub async fn system_setting<C: ConnectionTrait>(db: &C) -> AppResult<system_setting::Model> {
    system_setting::Entity::find()
        .order_by_asc(system_setting::Column::Id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal("the system setting row is missing"))
}

pub async fn billing_setting<C: ConnectionTrait>(db: &C) -> AppResult<billing_setting::Model> {
    billing_setting::Entity::find()
        .order_by_asc(billing_setting::Column::Id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal("the billing settings row is missing"))
}

/// The instance time zone.
pub async fn time_zone<C: ConnectionTrait>(db: &C) -> AppResult<Tz> {
    let setting = system_setting(db).await?;
    zone_of(&setting.timezone)
}

pub fn zone_of(value: &str) -> AppResult<Tz> {
    let name = timezone_name(value).unwrap_or("UTC");
    name.parse::<Tz>()
        .map_err(|_| AppError::internal(format!("unknown time zone {name}")))
}

/// The local business date of `instant` in the instance time zone.
pub async fn local_date<C: ConnectionTrait>(
    db: &C,
    instant: DateTime<Utc>,
) -> AppResult<NaiveDate> {
    Ok(instant.with_timezone(&time_zone(db).await?).date_naive())
}

#[derive(Debug, Default, Deserialize)]
pub struct UpdateSystemSettings {
    pub timezone: Option<String>,
}

pub async fn update_system_settings(
    db: &DatabaseConnection,
    user_id: i64,
    input: UpdateSystemSettings,
) -> AppResult<system_setting::Model> {
    let txn = begin_write(db).await?;
    let old = system_setting(&txn).await?;
    let mut am: system_setting::ActiveModel = old.clone().into();
    if let Some(tz) = input.timezone {
        let name = timezone_name(&tz)
            .ok_or_else(|| AppError::validation("timezone", "unknown time zone"))?;
        name.parse::<Tz>().map_err(|_| {
            AppError::validation(
                "timezone",
                format!("{name} is not a time zone fathom knows"),
            )
        })?;
        am.timezone = Set(tz);
    }
    let new = save(&txn, old.id, old.version, am).await?;
    bump(&txn).await?;
    audit::updated(
        &txn,
        "SystemSetting",
        new.id,
        user_id,
        &old,
        &new,
        "system settings updated",
    )
    .await?;
    txn.commit().await?;
    Ok(new)
}

#[derive(Debug, Default, Deserialize)]
pub struct UpdateBillingSettings {
    pub prorate_services: Option<bool>,
    pub prorate_service_quantity: Option<bool>,
    pub prorate_account_status_change: Option<bool>,
    pub prorate_account_delinquency_status_change: Option<bool>,
    pub prorate_billing_day_change: Option<bool>,
    pub round_prorated_amounts: Option<bool>,
    pub autopay_disconnect_invoice: Option<bool>,
    pub autopay_disconnect_invoice_days: Option<i32>,
    pub daily_billing: Option<bool>,
    pub disconnect_account_status_id: Option<Id>,
    pub generate_invoice_on_initial_activation: Option<bool>,
    pub always_round_taxes_up: Option<bool>,
    pub unarchive_account_status_id: Option<Id>,
    pub unset_unarchive_account_status_id: Option<bool>,
}

pub async fn update_billing_settings(
    db: &DatabaseConnection,
    user_id: i64,
    input: UpdateBillingSettings,
) -> AppResult<billing_setting::Model> {
    let txn = begin_write(db).await?;
    let old = billing_setting(&txn).await?;
    let mut am: billing_setting::ActiveModel = old.clone().into();
    macro_rules! copy {
        ($($field:ident),*) => {$(
            if let Some(v) = input.$field { am.$field = Set(v); }
        )*};
    }
    copy!(
        prorate_services,
        prorate_service_quantity,
        prorate_account_status_change,
        prorate_billing_day_change,
        round_prorated_amounts,
        daily_billing,
        generate_invoice_on_initial_activation,
        always_round_taxes_up
    );
    if let Some(v) = input.prorate_account_delinquency_status_change {
        am.prorate_account_delinquency_status_change = Set(Some(v));
    }
    if let Some(v) = input.autopay_disconnect_invoice {
        am.autopay_disconnect_invoice = Set(Some(v));
    }
    if let Some(v) = input.autopay_disconnect_invoice_days {
        if v < 0 {
            return Err(AppError::validation(
                "autopay_disconnect_invoice_days",
                "must not be negative",
            ));
        }
        am.autopay_disconnect_invoice_days = Set(Some(v));
    }
    if let Some(Id(status_id)) = input.disconnect_account_status_id {
        let status = find::<account_status::Entity, _>(&txn, "AccountStatus", status_id)
            .await
            .map_err(|_| {
                AppError::validation(
                    "disconnect_account_status_id",
                    format!("account status {status_id} does not exist"),
                )
            })?;
        if status.activates_account {
            return Err(AppError::validation(
                "disconnect_account_status_id",
                format!("{} activates accounts; a disconnected account must move to a status that does not", status.name),
            ));
        }
        am.disconnect_account_status_id = Set(status_id);
    }
    if input.unset_unarchive_account_status_id == Some(true) {
        am.unarchive_account_status_id = Set(None);
    } else if let Some(Id(status_id)) = input.unarchive_account_status_id {
        find::<account_status::Entity, _>(&txn, "AccountStatus", status_id)
            .await
            .map_err(|_| {
                AppError::validation(
                    "unarchive_account_status_id",
                    format!("account status {status_id} does not exist"),
                )
            })?;
        am.unarchive_account_status_id = Set(Some(status_id));
    }
    let new = save(&txn, old.id, old.version, am).await?;
    bump(&txn).await?;
    audit::updated(
        &txn,
        "BillingSetting",
        new.id,
        user_id,
        &old,
        &new,
        "billing settings updated",
    )
    .await?;
    txn.commit().await?;
    Ok(new)
}
