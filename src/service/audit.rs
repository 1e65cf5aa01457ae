//! The audit log: one Sonar-shaped `Log` row per change, written in the change's transaction.

use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde::Serialize;

use super::now;
use crate::entity::log;
use crate::error::AppResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogType {
    Created,
    Updated,
    Deleted,
    Attached,
    Detached,
    System,
}

impl LogType {
    pub fn as_str(self) -> &'static str {
        match self {
            LogType::Created => "CREATED",
            LogType::Updated => "UPDATED",
            LogType::Deleted => "DELETED",
            LogType::Attached => "ATTACHED",
            LogType::Detached => "DETACHED",
            LogType::System => "SYSTEM",
        }
    }
}

/// Records one change of `loggable_type` `loggable_id` by `user_id`, with the record before
/// and after as JSON.
#[allow(clippy::too_many_arguments)]
pub async fn record<C: ConnectionTrait, P: Serialize, Q: Serialize>(
    db: &C,
    kind: LogType,
    loggable_type: &str,
    loggable_id: i64,
    user_id: Option<i64>,
    previous: Option<&P>,
    current: Option<&Q>,
    message: impl Into<String>,
) -> AppResult<()> {
    let at = now();
    log::ActiveModel {
        r#type: Set(kind.as_str().to_owned()),
        loggable_type: Set(loggable_type.to_owned()),
        loggable_id: Set(loggable_id),
        user_id: Set(user_id),
        previous: Set(previous.and_then(|p| serde_json::to_string(p).ok())),
        current: Set(current.and_then(|c| serde_json::to_string(c).ok())),
        message: Set(Some(message.into())),
        created_at: Set(at),
        updated_at: Set(at),
        version: Set(1),
        ..Default::default()
    }
    .insert(db)
    .await?;
    // Under an `Idempotency-Key`, the record a mutation returned is named by its audit row.
    super::idempotency::note_result(db, kind.as_str(), loggable_type, loggable_id).await?;
    Ok(())
}

/// Shorthands for the common cases.
pub async fn created<C: ConnectionTrait, T: Serialize>(
    db: &C,
    loggable_type: &str,
    id: i64,
    user_id: i64,
    current: &T,
) -> AppResult<()> {
    record::<C, (), T>(
        db,
        LogType::Created,
        loggable_type,
        id,
        Some(user_id),
        None,
        Some(current),
        format!("{loggable_type} created"),
    )
    .await
}

pub async fn updated<C: ConnectionTrait, T: Serialize>(
    db: &C,
    loggable_type: &str,
    id: i64,
    user_id: i64,
    previous: &T,
    current: &T,
    message: impl Into<String>,
) -> AppResult<()> {
    record(
        db,
        LogType::Updated,
        loggable_type,
        id,
        Some(user_id),
        Some(previous),
        Some(current),
        message,
    )
    .await
}

pub async fn deleted<C: ConnectionTrait, T: Serialize>(
    db: &C,
    loggable_type: &str,
    id: i64,
    user_id: i64,
    previous: &T,
) -> AppResult<()> {
    record::<C, T, ()>(
        db,
        LogType::Deleted,
        loggable_type,
        id,
        Some(user_id),
        Some(previous),
        None,
        format!("{loggable_type} deleted"),
    )
    .await
}
