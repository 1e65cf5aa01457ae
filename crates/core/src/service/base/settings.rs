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
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder, QueryResult, Statement};

use crate::entity::{
    account_status, billing_default, billing_setting, disconnection_reason, system_setting,
};
use crate::error::{AppError, AppResult};
use crate::service::base::outbox;
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
    /// The billing defaults, in id order.
    pub billing_defaults: Vec<billing_default::Model>,
    /// The disconnection reasons, in id order.
    pub disconnection_reasons: Vec<disconnection_reason::Model>,
    /// The webhook subscriptions of enabled endpoints (what the outbox writes dispatches for).
    pub webhooks: outbox::Subscriptions,
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

    /// The billing default of accounts of the type `account_type_id`: the one for that type,
    /// else the one marked `default`; `None` when neither exists (no grace days, no status
    /// switch).
    pub fn billing_default_for(&self, account_type_id: i64) -> Option<&billing_default::Model> {
        self.billing_defaults
            .iter()
            .find(|d| d.account_type_id == Some(account_type_id))
            .or_else(|| self.billing_defaults.iter().find(|d| d.default))
    }

    /// The disconnection reason `id`, if there is one.
    pub fn disconnection_reason(&self, id: i64) -> Option<&disconnection_reason::Model> {
        self.disconnection_reasons.iter().find(|r| r.id == id)
    }

    /// The grace days of invoices of accounts of the type `account_type_id`.
    pub fn grace_days(&self, account_type_id: i64) -> i32 {
        self.billing_default_for(account_type_id)
            .map_or(0, |d| d.grace_days)
    }

    /// The first instant of the local date `date` (after a gap in the local time, the first
    /// instant that exists).
    pub fn start_of_day(&self, date: NaiveDate) -> DateTime<Utc> {
        use chrono::TimeZone;
        let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        (0..=3)
            .find_map(|hours| {
                self.zone
                    .from_local_datetime(&(midnight + chrono::Duration::hours(hours)))
                    .earliest()
            })
            .map_or_else(|| midnight.and_utc(), |local| local.with_timezone(&Utc))
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
        billing_defaults: billing_default::Entity::find()
            .order_by_asc(billing_default::Column::Id)
            .all(db)
            .await?,
        disconnection_reasons: disconnection_reason::Entity::find()
            .order_by_asc(disconnection_reason::Column::Id)
            .all(db)
            .await?,
        webhooks: outbox::Subscriptions::load(db).await?,
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
