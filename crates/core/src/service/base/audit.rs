//! The audit log: one Sonar-shaped `Log` row per change, written in the change's transaction.
//! The same batch enqueues the change's webhook dispatches ([`crate::service::webhooks::endpoints`]).

use sea_orm::{ConnectionTrait, EntityTrait, ModelTrait, Set};
use serde::Serialize;

use crate::entity::{log, name_of, Named};
use crate::error::AppResult;
use crate::service::base::store::Stamped;
use crate::service::base::{
    clock::now,
    idempotency,
    outbox::{self as webhooks, Change, Subscriptions},
    settings,
};

pub use crate::domain::LogType;

/// Records one change of the record `loggable_id` of `M` by `user_id`, with the record before
/// and after as JSON; the row names the record's type ([`Named`]).
pub async fn record<C, M>(
    db: &C,
    kind: LogType,
    loggable_id: i64,
    user_id: Option<i64>,
    previous: Option<&M>,
    current: Option<&M>,
    message: impl Into<String>,
) -> AppResult<()>
where
    C: ConnectionTrait,
    M: Serialize + ModelTrait,
    M::Entity: Named,
{
    let mut batch = Batch::default();
    batch.add(kind, loggable_id, user_id, previous, current, message);
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
    pub fn add<M>(
        &mut self,
        kind: LogType,
        loggable_id: i64,
        user_id: Option<i64>,
        previous: Option<&M>,
        current: Option<&M>,
        message: impl Into<String>,
    ) where
        M: Serialize + ModelTrait,
        M::Entity: Named,
    {
        let at = now();
        self.rows.push((
            kind,
            log::ActiveModel {
                r#type: Set(kind.as_str().to_owned()),
                loggable_type: Set(name_of::<M>().to_owned()),
                loggable_id: Set(loggable_id),
                user_id: Set(user_id),
                previous: Set(previous.and_then(|p| serde_json::to_string(p).ok())),
                current: Set(current.and_then(|c| serde_json::to_string(c).ok())),
                message: Set(Some(message.into())),
                ..Default::default()
            }
            .stamped(at),
        ));
    }

    /// Reports a change that has no audit row of its own (a disconnection log, a debit of the
    /// billing pass) to the endpoints subscribed to `(model, CREATED)`.
    pub fn notify_created<M>(&mut self, record: &M)
    where
        M: Serialize + ModelTrait,
        M::Entity: Named,
    {
        self.notices.push(Change {
            model: name_of::<M>(),
            event: "CREATED",
            occurred_at: now(),
            object: serde_json::to_string(record).ok(),
            previous: None,
        });
    }

    /// Reports an update that has no audit row of its own (a scheduled disconnection cancelled
    /// by the disconnection) to the endpoints subscribed to `(model, UPDATED)`.
    pub fn notify_updated<M>(&mut self, before: &M, after: &M)
    where
        M: Serialize + ModelTrait,
        M::Entity: Named,
    {
        self.notices.push(Change {
            model: name_of::<M>(),
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
pub async fn created<C, M>(db: &C, id: i64, user_id: i64, current: &M) -> AppResult<()>
where
    C: ConnectionTrait,
    M: Serialize + ModelTrait,
    M::Entity: Named,
{
    record(
        db,
        LogType::Created,
        id,
        Some(user_id),
        None,
        Some(current),
        format!("{} created", name_of::<M>()),
    )
    .await
}

pub async fn updated<C, M>(
    db: &C,
    id: i64,
    user_id: i64,
    previous: &M,
    current: &M,
    message: impl Into<String>,
) -> AppResult<()>
where
    C: ConnectionTrait,
    M: Serialize + ModelTrait,
    M::Entity: Named,
{
    record(
        db,
        LogType::Updated,
        id,
        Some(user_id),
        Some(previous),
        Some(current),
        message,
    )
    .await
}

pub async fn deleted<C, M>(db: &C, id: i64, user_id: i64, previous: &M) -> AppResult<()>
where
    C: ConnectionTrait,
    M: Serialize + ModelTrait,
    M::Entity: Named,
{
    record(
        db,
        LogType::Deleted,
        id,
        Some(user_id),
        Some(previous),
        None,
        format!("{} deleted", name_of::<M>()),
    )
    .await
}

/// Reports the creation of a record that has no audit row of its own (a prorated debit of a
/// service added mid-period, a proration credit of a service removed) to its subscribers, in
/// the caller's transaction: one statement to learn the subscriptions (the settings stamp),
/// one more only when there are subscribers.
pub async fn report_created<C, M>(db: &C, record: &M) -> AppResult<()>
where
    C: ConnectionTrait,
    M: Serialize + ModelTrait,
    M::Entity: Named,
{
    let mut batch = Batch::default();
    batch.notify_created(record);
    batch.write(db).await
}
