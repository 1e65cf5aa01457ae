//! Transactions and rows: beginning a write, finding a row or `NOT_FOUND`, saving one with a
//! compare-and-set on its `version`, checking an id a caller chose.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel,
    QueryFilter, Statement, Value,
};

use super::clock::now;
use super::idempotency;
use crate::entity::Named;
use crate::error::{AppError, AppResult};

/// The column of `E` called `name`. Names come from the entity's allowlist of fields; a name
/// that is not a column of `E` is a mistake in that allowlist, reported as `INTERNAL`.
pub fn column<E: EntityTrait>(name: &str) -> AppResult<E::Column> {
    use std::str::FromStr;
    E::Column::from_str(name).map_err(|_| AppError::internal(format!("unknown column {name}")))
}

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

/// Loads `E` by id or reports `NOT_FOUND` naming its type ([`Named`]).
pub async fn find<E, C>(db: &C, id: i64) -> AppResult<E::Model>
where
    E: EntityTrait + Named,
    C: ConnectionTrait,
{
    let col = column::<E>("id")?;
    E::find()
        .filter(col.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(E::NAME, id))
}

/// The largest id a caller may choose (Sonar's `id` input, kept for numbers carried over from
/// a previous system). Twelve digits cover any account book; the ids fathom assigns itself
/// continue past the largest chosen one, so a bound far below `i64::MAX` keeps a chosen id
/// from exhausting the sequence.
pub const MAX_CHOSEN_ID: i64 = 999_999_999_999;

/// Checks an id a caller chose for a new `E` (to keep numbers from a previous system): it must
/// be within 1..=[`MAX_CHOSEN_ID`] and free (`CONFLICT` naming its type otherwise).
pub async fn free_id<E, C>(db: &C, id: i64) -> AppResult<()>
where
    E: EntityTrait + Named,
    C: ConnectionTrait,
{
    if !(1..=MAX_CHOSEN_ID).contains(&id) {
        return Err(AppError::validation(
            "id",
            format!("a chosen id must be between 1 and {MAX_CHOSEN_ID}"),
        ));
    }
    let col = column::<E>("id")?;
    if E::find().filter(col.eq(id)).one(db).await?.is_some() {
        return Err(AppError::Conflict(format!(
            "{} {id} already exists",
            E::NAME
        )));
    }
    Ok(())
}

/// Writes the changed fields of `am` to the row `model` was read from, if and only if nobody
/// changed that row since (its `version` is still the one read); bumps `version` and
/// `updated_at`. A lost race is a `CONFLICT`.
pub async fn save<E, A, C>(db: &C, id: i64, version: i64, mut am: A) -> AppResult<E::Model>
where
    E: EntityTrait<ActiveModel = A> + Named,
    A: ActiveModelTrait<Entity = E> + Send,
    E::Model: IntoActiveModel<A>,
    C: ConnectionTrait,
{
    am.set(column::<E>("version")?, Value::BigInt(Some(version + 1)));
    am.set(
        column::<E>("updated_at")?,
        Value::ChronoDateTimeUtc(Some(now())),
    );
    let result = E::update_many()
        .set(am)
        .filter(column::<E>("id")?.eq(id))
        .filter(column::<E>("version")?.eq(version))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(AppError::Conflict(
            "the record was changed by another request; reload and retry".into(),
        ));
    }
    find::<E, C>(db, id).await
}

/// After inserting a row with an explicit id, moves PostgreSQL's identity sequence past it
/// so that later automatic ids do not collide. (SQLite does this by itself.)
pub async fn bump_sequence<C: ConnectionTrait>(db: &C, table: &str) -> AppResult<()> {
    if db.get_database_backend() == DbBackend::Postgres {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1))"
        );
        db.execute_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await?;
    }
    Ok(())
}

/// A new row's bookkeeping, set in one place: `created_at` and `updated_at` at the instant
/// given, `version` 1 (every table has the three; [`save`] moves the last two on).
pub trait Stamped: ActiveModelTrait + Sized {
    fn stamped(mut self, at: DateTime<Utc>) -> Self {
        use std::str::FromStr;
        let columns = [
            ("created_at", Value::ChronoDateTimeUtc(Some(at))),
            ("updated_at", Value::ChronoDateTimeUtc(Some(at))),
            ("version", Value::BigInt(Some(1))),
        ];
        for (name, value) in columns {
            if let Ok(column) = <Self::Entity as EntityTrait>::Column::from_str(name) {
                self.set(column, value);
            }
        }
        self
    }
}

impl<A: ActiveModelTrait> Stamped for A {}
