//! An account's event log (`ACTIVATED`, `STATUS_UPDATED`, `ARCHIVED`, services added and
//! removed…), written by whichever capability changes the account, in its transaction.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

use crate::entity::account_event;
use crate::error::AppResult;
use crate::service::base::store::Stamped;

/// Records an account event.
pub async fn record_event<C: ConnectionTrait>(
    db: &C,
    account_id: i64,
    event: &str,
    previous: Option<String>,
    current: Option<String>,
    at: DateTime<Utc>,
) -> AppResult<account_event::Model> {
    Ok(account_event::ActiveModel {
        account_id: Set(account_id),
        event: Set(event.to_owned()),
        event_datetime: Set(at),
        previous: Set(previous),
        current: Set(current),
        ..Default::default()
    }
    .stamped(at)
    .insert(db)
    .await?)
}
