//! The audit log: one Sonar-shaped `Log` row per change, written in the change's transaction.
//! The same batch enqueues the change's webhook dispatches ([`crate::service::webhooks::endpoints`]).

use sea_orm::{ConnectionTrait, EntityTrait, Set};
use serde::Serialize;

use crate::entity::log;
use crate::error::AppResult;
use crate::service::base::{
    clock::now,
    idempotency,
    outbox::{self as webhooks, Change, Subscriptions},
    settings,
};

pub use crate::domain::LogType;

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

/// Audit rows gathered while a change is made, written together by one statement at its end,
/// with the webhook dispatches of the changes they record (one more statement, when an
/// endpoint subscribes to one of them).
#[derive(Debug, Default)]
pub struct Batch {
    rows: Vec<(LogType, log::ActiveModel)>,
    /// Changes to report that have no audit row of their own.
    notices: Vec<Change>,
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

    /// Reports a change that has no audit row of its own (a disconnection log, a debit of the
    /// billing pass) to the endpoints subscribed to `(model, CREATED)`.
    pub fn notify_created<T: Serialize>(&mut self, model: &'static str, record: &T) {
        self.notices.push(Change {
            model,
            event: "CREATED",
            occurred_at: now(),
            object: serde_json::to_string(record).ok(),
            previous: None,
        });
    }

    /// Reports an update that has no audit row of its own (a scheduled disconnection cancelled
    /// by the disconnection) to the endpoints subscribed to `(model, UPDATED)`.
    pub fn notify_updated<T: Serialize>(&mut self, model: &'static str, before: &T, after: &T) {
        self.notices.push(Change {
            model,
            event: "UPDATED",
            occurred_at: now(),
            object: serde_json::to_string(after).ok(),
            previous: serde_json::to_string(before).ok(),
        });
    }

    /// The changes the batch reports to webhooks, in order.
    fn changes(&self) -> Vec<Change> {
        let mut out: Vec<Change> = self
            .rows
            .iter()
            .filter_map(|(kind, row)| {
                let loggable = row.loggable_type.as_ref();
                let (model, event) = webhooks::pair_of(loggable, *kind)?;
                let current = row.current.as_ref().clone();
                let previous = row.previous.as_ref().clone();
                let removed = matches!(event, "DELETED" | "DETACHED");
                Some(Change {
                    model,
                    event,
                    occurred_at: *row.created_at.as_ref(),
                    object: if removed { previous.clone() } else { current },
                    previous: if removed { None } else { previous },
                })
            })
            .collect();
        out.extend(self.notices.iter().cloned());
        out
    }

    /// The dispatch `INSERT`s of the batch's changes for `subscriptions`.
    pub fn dispatch_statements(
        &self,
        backend: sea_orm::DbBackend,
        subscriptions: &Subscriptions,
    ) -> Vec<sea_orm::Statement> {
        if subscriptions.is_empty() {
            return Vec::new();
        }
        webhooks::enqueue_statements(backend, subscriptions, &self.changes())
    }

    /// Writes the rows, in the order they were added, and their webhook dispatches. Which
    /// changes have subscribers is read from the settings snapshot (one statement, and only
    /// when a change is of a kind webhooks report).
    pub async fn write<C: ConnectionTrait>(self, db: &C) -> AppResult<()> {
        let reported = !self.notices.is_empty()
            || self
                .rows
                .iter()
                .any(|(kind, row)| webhooks::pair_of(row.loggable_type.as_ref(), *kind).is_some());
        let dispatches = if reported {
            let snapshot = settings::snapshot(db).await?;
            self.dispatch_statements(db.get_database_backend(), &snapshot.webhooks)
        } else {
            Vec::new()
        };
        self.write_with(db, dispatches).await
    }

    /// Like [`Batch::write`], with the dispatch statements already made
    /// ([`Batch::dispatch_statements`]).
    pub async fn write_with<C: ConnectionTrait>(
        self,
        db: &C,
        dispatches: Vec<sea_orm::Statement>,
    ) -> AppResult<()> {
        for statement in dispatches {
            db.execute_raw(statement).await?;
        }
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
            idempotency::note_result(db, kind.as_str(), &loggable_type, loggable_id).await?;
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

/// Reports the creation of a record that has no audit row of its own (a prorated debit of a
/// service added mid-period, a proration credit of a service removed) to its subscribers, in
/// the caller's transaction: one statement to learn the subscriptions (the settings stamp),
/// one more only when there are subscribers.
pub async fn report_created<C: ConnectionTrait, T: serde::Serialize>(
    db: &C,
    model: &'static str,
    record: &T,
) -> AppResult<()> {
    let mut batch = Batch::default();
    batch.notify_created(model, record);
    batch.write(db).await
}
