//! The account's row as a lock: what a transaction takes before it changes an account or
//! what hangs off it, so that two writers of one account wait for each other instead of
//! interleaving (PostgreSQL: `SELECT … FOR UPDATE`; SQLite's write transactions are
//! serialized already). Account changes, disconnections, manual transactions, service changes,
//! scheduled events, contacts and invoices take it through [`changeable`] or
//! [`lock_with_settings`]; the billing pass locks its batch's rows itself, skipping those
//! another transaction holds (`service::billing::pass`).
//!
//! Kept apart from `accounts` so that the modules that need the lock (contacts,
//! transactions, disconnect…) do not import the module that creates accounts with them.

use sea_orm::{ConnectionTrait, EntityTrait};

use crate::entity::{account, account_status};
use crate::error::{AppError, AppResult};
use crate::service::base::{settings, store::find};

/// Takes the account's row for the rest of the transaction (`SELECT … FOR UPDATE` on
/// PostgreSQL; SQLite's write transactions are already serialized).
pub async fn lock<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<account::Model> {
    let mut select = account::Entity::find_by_id(id);
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        select = sea_orm::QuerySelect::lock_exclusive(select);
    }
    select
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("Account", id))
}

/// [`lock`], and the settings in the same statement: the account's row and the settings
/// generation are read together, so the settings come from memory unless they changed
/// ([`settings::snapshot_at`]).
pub async fn lock_with_settings<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> AppResult<(account::Model, std::sync::Arc<settings::Snapshot>)> {
    let (account, settings, _) = lock_with_settings_and(db, id, Vec::new()).await?;
    Ok((account, settings))
}

/// [`lock_with_settings`], with more expressions read by the same statement (SQL over the
/// `accounts` row, and the name to read each under); the row is returned to read them.
pub async fn lock_with_settings_and<C: ConnectionTrait>(
    db: &C,
    id: i64,
    extra: Vec<(String, &'static str)>,
) -> AppResult<(
    account::Model,
    std::sync::Arc<settings::Snapshot>,
    sea_orm::QueryResult,
)> {
    use sea_orm::sea_query::Expr;
    use sea_orm::{FromQueryResult, QuerySelect, QueryTrait};
    let backend = db.get_database_backend();
    let mut select = account::Entity::find_by_id(id)
        .column_as(Expr::cust(settings::INSTANCE_SQL), "settings_instance")
        .column_as(Expr::cust(settings::GENERATION_SQL), "settings_generation");
    for (sql, name) in extra {
        select = select.column_as(Expr::cust(sql), name);
    }
    if backend == sea_orm::DbBackend::Postgres {
        select = select.lock_exclusive();
    }
    let row = db
        .query_one_raw(select.build(backend))
        .await?
        .ok_or_else(|| AppError::not_found("Account", id))?;
    let account = account::Model::from_query_result(&row, "")?;
    let stamp = settings::stamp_of(&row, "settings_instance", "settings_generation")?;
    Ok((account, settings::snapshot_at(db, stamp).await?, row))
}

/// Loads an account that may be changed: it must exist and not be archived.
pub async fn changeable<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<account::Model> {
    let account = lock(db, id).await?;
    if account.archived_at.is_some() {
        return Err(AppError::AccountArchived(format!(
            "account {id} is archived; unarchive it first"
        )));
    }
    Ok(account)
}

/// Whether the account's current status activates it.
pub async fn is_active<C: ConnectionTrait>(db: &C, account: &account::Model) -> AppResult<bool> {
    Ok(
        find::<account_status::Entity, _>(db, account.account_status_id)
            .await?
            .activates_account,
    )
}
