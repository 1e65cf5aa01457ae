//! The audit log: one Sonar-shaped `Log` row per change, written in the change's transaction.

use sea_orm::{ConnectionTrait, EntityTrait, Set};
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
    let mut batch = Batch::default();
    batch.add(
        kind,
        loggable_type,
        loggable_id,
        user_id,
        previous,
        current,
        message,
    );
    batch.write(db).await
}

/// Audit rows gathered while a change is made, written together by one statement at its end.
#[derive(Debug, Default)]
pub struct Batch {
    rows: Vec<(LogType, log::ActiveModel)>,
}

impl Batch {
    /// Adds the row [`record`] would write.
    #[allow(clippy::too_many_arguments)]
    pub fn add<P: Serialize, Q: Serialize>(
        &mut self,
        kind: LogType,
        loggable_type: &str,
        loggable_id: i64,
        user_id: Option<i64>,
        previous: Option<&P>,
        current: Option<&Q>,
        message: impl Into<String>,
    ) {
        let at = now();
        self.rows.push((
            kind,
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
            },
        ));
    }

    /// Writes the rows, in the order they were added.
    pub async fn write<C: ConnectionTrait>(self, db: &C) -> AppResult<()> {
        let (mut rows, written) = self.split();
        // A statement binds at most 32,766 values on SQLite: 2,000 rows of 11 columns fit.
        while rows.peek().is_some() {
            log::Entity::insert_many(rows.by_ref().take(2000))
                .exec_without_returning(db)
                .await?;
        }
        written.finish(db).await
    }

    /// The rows' `INSERT` (for a caller that sends it as part of a larger statement; at most
    /// 2,000 rows), and what to do once it ran ([`Written::finish`]).
    pub fn into_statement(
        self,
        backend: sea_orm::DbBackend,
    ) -> (Option<sea_orm::Statement>, Written) {
        use sea_orm::QueryTrait;
        let (rows, written) = self.split();
        let rows: Vec<log::ActiveModel> = rows.collect();
        debug_assert!(rows.len() <= 2000);
        let statement = (!rows.is_empty()).then(|| log::Entity::insert_many(rows).build(backend));
        (statement, written)
    }

    fn split(
        self,
    ) -> (
        std::iter::Peekable<impl Iterator<Item = log::ActiveModel>>,
        Written,
    ) {
        let written = Written(
            self.rows
                .iter()
                .map(|(kind, row)| {
                    (
                        *kind,
                        row.loggable_type.clone().unwrap(),
                        row.loggable_id.clone().unwrap(),
                    )
                })
                .collect(),
        );
        (
            self.rows.into_iter().map(|(_, row)| row).peekable(),
            written,
        )
    }
}

/// Audit rows just written, and what follows their writing.
#[derive(Debug)]
pub struct Written(Vec<(LogType, String, i64)>);

impl Written {
    /// Under an `Idempotency-Key`, the record a mutation returned is named by its audit row.
    pub async fn finish<C: ConnectionTrait>(self, db: &C) -> AppResult<()> {
        for (kind, loggable_type, loggable_id) in self.0 {
            super::idempotency::note_result(db, kind.as_str(), &loggable_type, loggable_id).await?;
        }
        Ok(())
    }
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
