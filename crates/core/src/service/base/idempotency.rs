//! Idempotency keys (DESIGN §5): a POST carrying `Idempotency-Key` is carried out at most once
//! per key and token for 24 hours; the same key with the same body answers the stored response
//! again; with another body it is refused (`IDEMPOTENCY_KEY_REUSED`); while the first request
//! still runs, a second one is refused (`CONFLICT`).
//!
//! **How a key is kept.** A GraphQL request's response is only known after its mutation
//! fields have committed (each is its own transaction) and their selections have been read, so
//! the response cannot be written in a mutation's transaction. Three writes make it exact:
//!
//! 1. *Claim* ([`claim`]): one short statement inserts the key row, `RUNNING`, with the body's
//!    fingerprint and a lease (`locked_until`: the request's time limit and a margin). The
//!    unique index on `(token_id, key)` lets exactly one of several concurrent requests insert
//!    it (PostgreSQL makes the others wait for that statement, then they see the row; SQLite
//!    has one writer at a time). The others see the row: another body is `Reused`, a live
//!    lease is `InFlight`, a completed one is replayed.
//! 2. *Marker*: every write transaction a mutation field opens ([`crate::service::base::store::begin_write`])
//!    inserts, **in that transaction**, a row of `idempotency_key_writes` naming the key and
//!    the field's position among the request's mutation fields; the field's audit row
//!    ([`crate::service::base::audit::record`]) adds which record the mutation returned. A mutation that
//!    commits has its marker, one that rolls back has none: a crash never leaves an effect
//!    without its key. The unique index on `(key, position)` makes a second execution of the
//!    same field fail in the database, whatever happened to the lease.
//! 3. *Answer* ([`complete`]): the response (status, content type, body) is stored and the key
//!    becomes `COMPLETED`. Replays read only this row and write nothing.
//!
//! **A crash between a commit and the answer** (or a request stopped at its time limit) leaves
//! the key `RUNNING` with markers. Once its lease has passed, the next request with the key
//! and body takes the key over ([`claim`] with a compare-and-set on `version`) and is run
//! again in a scope that knows the markers: a field that already committed is not carried
//! out again but answered from the record its marker names, as that record stands now; a
//! field that never committed runs now. That answer is stored like any other and marked
//! `Idempotency-Replayed`. A claimed key whose request answered anything but a 2xx (a bad
//! body, the rate limit, a server error) is forgotten when nothing committed ([`forget`]), as
//! Stripe saves no result for a request that failed validation; one with committed fields, or
//! one stopped at its time limit (a commit may still be landing), is released for the next
//! attempt ([`release`]).
//!
//! **Expiry.** A key counts for 24 hours from its claim; an older row is ignored (and deleted
//! when its key comes again), and the worker purges them hourly ([`purge_expired`]). These
//! rows are not history (DESIGN keeps accounts, debits, invoices and logs forever): they go
//! when they expire, and with their token.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, Set, TryInsertResult,
};

use crate::entity::{idempotency_key as key_row, idempotency_key_write as write_row};
use crate::error::AppResult;
use crate::service::base::clock::now;
use crate::service::base::store::Stamped;

/// The longest key accepted, in characters.
pub const MAX_KEY_CHARS: usize = 255;

const RUNNING: &str = "RUNNING";
const COMPLETED: &str = "COMPLETED";

/// How long a key counts.
pub fn retention() -> TimeDelta {
    TimeDelta::hours(24)
}

/// A response as it is stored and replayed.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// What a request carrying a key may do.
#[derive(Debug)]
pub enum Claim {
    /// Carry the request out in this scope (a new key, or one taken over after its holder
    /// stopped without answering).
    Run(Scope),
    /// Answer this again: the key's request has completed.
    Replay(Stored),
    /// The key was used with another body.
    Reused,
    /// The key's first request is still running.
    InFlight,
}

/// A mutation field that an earlier attempt with the key committed.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    /// The record the mutation returned, as its audit row names it, when it wrote one.
    pub result_type: Option<String>,
    pub result_id: Option<i64>,
}

/// The key a request runs under, carried in a task-local while it executes.
#[derive(Debug)]
pub struct Scope {
    key_id: i64,
    done: HashMap<i32, Done>,
    fields: Mutex<Fields>,
}

#[derive(Debug, Default)]
struct Fields {
    next: i32,
    current: Option<Current>,
}

#[derive(Debug)]
struct Current {
    ordinal: i32,
    returns: &'static str,
    noted: bool,
}

impl Scope {
    fn new(key_id: i64, done: HashMap<i32, Done>) -> Self {
        Scope {
            key_id,
            done,
            fields: Mutex::new(Fields::default()),
        }
    }

    pub fn key_id(&self) -> i64 {
        self.key_id
    }

    /// Whether an earlier attempt committed some of this request's mutation fields.
    pub fn resumed(&self) -> bool {
        !self.done.is_empty()
    }

    fn fields(&self) -> MutexGuard<'_, Fields> {
        self.fields.lock().unwrap_or_else(|p| p.into_inner())
    }
}

tokio::task_local! {
    static SCOPE: Option<Arc<Scope>>;
}

fn current() -> Option<Arc<Scope>> {
    SCOPE.try_with(|s| s.clone()).ok().flatten()
}

/// Runs `work` under `scope` (none: as a request without a key).
pub async fn within<F: Future>(scope: Option<Arc<Scope>>, work: F) -> F::Output {
    SCOPE.scope(scope, work).await
}

/// `work` under the scope of the calling task, to be spawned as a task of its own.
pub fn carry<F: Future>(work: F) -> impl Future<Output = F::Output> {
    SCOPE.scope(current(), work)
}

/// How a mutation field starts.
#[derive(Debug, PartialEq)]
pub enum FieldStart {
    /// The request has no key.
    Unkeyed,
    /// Carry the mutation out: its transaction will write its marker.
    Run,
    /// An earlier attempt with this key committed this field: do not carry it out again.
    Done(Done),
}

/// Called as each mutation field starts (they run one after another), with the GraphQL type
/// it returns (e.g. `Account`, `[TransactionInterface]`, `SuccessResponse`).
pub fn begin_field(returns: &'static str) -> FieldStart {
    let Some(scope) = current() else {
        return FieldStart::Unkeyed;
    };
    let mut fields = scope.fields();
    let ordinal = fields.next;
    fields.next += 1;
    if let Some(done) = scope.done.get(&ordinal) {
        fields.current = None;
        return FieldStart::Done(done.clone());
    }
    fields.current = Some(Current {
        ordinal,
        returns,
        noted: false,
    });
    FieldStart::Run
}

/// Called when a mutation field has finished.
pub fn end_field() {
    if let Some(scope) = current() {
        scope.fields().current = None;
    }
}

/// Writes the current mutation field's marker in `txn`, the transaction that carries the
/// field out (see [`crate::service::base::store::begin_write`]). Nothing outside a keyed mutation field.
pub async fn record_write<C: ConnectionTrait>(txn: &C) -> Result<(), DbErr> {
    let Some(scope) = current() else {
        return Ok(());
    };
    let ordinal = match scope.fields().current.as_mut() {
        Some(field) => {
            field.noted = false;
            field.ordinal
        }
        None => return Ok(()),
    };
    let at = now();
    write_row::Entity::insert(
        write_row::ActiveModel {
            idempotency_key_id: Set(scope.key_id),
            ordinal: Set(ordinal),
            result_type: Set(None),
            result_id: Set(None),
            ..Default::default()
        }
        .stamped(at),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Called by the audit log for each row it writes: the first record of the type the current
/// mutation field returns (for `SuccessResponse`, the first record deleted) is what the
/// field's marker names.
pub async fn note_result<C: ConnectionTrait>(
    db: &C,
    kind: &str,
    loggable_type: &str,
    loggable_id: i64,
) -> Result<(), DbErr> {
    let Some(scope) = current() else {
        return Ok(());
    };
    let ordinal = {
        let mut fields = scope.fields();
        let Some(field) = fields.current.as_mut() else {
            return Ok(());
        };
        if field.noted || !returns_record(field.returns, kind, loggable_type) {
            return Ok(());
        }
        field.noted = true;
        field.ordinal
    };
    write_row::Entity::update_many()
        .col_expr(write_row::Column::ResultType, Expr::value(loggable_type))
        .col_expr(write_row::Column::ResultId, Expr::value(loggable_id))
        .filter(write_row::Column::IdempotencyKeyId.eq(scope.key_id))
        .filter(write_row::Column::Ordinal.eq(ordinal))
        .exec(db)
        .await?;
    Ok(())
}

/// Whether an audit row of `kind` about `loggable_type` names what a field returning
/// `returns` returned.
fn returns_record(returns: &str, kind: &str, loggable_type: &str) -> bool {
    match bare_type(returns) {
        "SuccessResponse" => kind == "DELETED",
        "TransactionInterface" => loggable_type == "Debit" || loggable_type == "Discount",
        other => other == loggable_type,
    }
}

/// `[Account!]!` → `Account`.
pub fn bare_type(graphql_type: &str) -> &str {
    graphql_type.trim_matches(|c| c == '[' || c == ']' || c == '!')
}

/// Claims `key` of `token_id` for a request whose body has `fingerprint`, or says why not.
/// `lease` is how long the request may run.
pub async fn claim(
    db: &DatabaseConnection,
    token_id: i64,
    key: &str,
    fingerprint: &str,
    lease: Duration,
) -> AppResult<Claim> {
    let at = now();
    let locked_until = at + TimeDelta::from_std(lease).unwrap_or(TimeDelta::seconds(60));
    // Each pass either decides or sees the row change under it (inserted, expired and
    // deleted, or taken over by another request); a few passes settle it.
    for _ in 0..4 {
        let existing = key_row::Entity::find()
            .filter(key_row::Column::TokenId.eq(token_id))
            .filter(key_row::Column::Key.eq(key))
            .one(db)
            .await?;
        let Some(row) = existing else {
            let inserted = key_row::Entity::insert(
                key_row::ActiveModel {
                    token_id: Set(token_id),
                    key: Set(key.to_owned()),
                    fingerprint: Set(fingerprint.to_owned()),
                    status: Set(RUNNING.to_owned()),
                    locked_until: Set(Some(locked_until)),
                    response_status: Set(None),
                    response_content_type: Set(None),
                    response_body: Set(None),
                    ..Default::default()
                }
                .stamped(at),
            )
            .on_conflict_do_nothing_on([key_row::Column::TokenId, key_row::Column::Key])
            .exec(db)
            .await?;
            match inserted {
                TryInsertResult::Inserted(result) => {
                    return Ok(Claim::Run(Scope::new(
                        result.last_insert_id,
                        HashMap::new(),
                    )))
                }
                _ => continue,
            }
        };
        if expired(&row, at) {
            key_row::Entity::delete_many()
                .filter(key_row::Column::Id.eq(row.id))
                .filter(key_row::Column::Version.eq(row.version))
                .exec(db)
                .await?;
            continue;
        }
        if row.fingerprint != fingerprint {
            return Ok(Claim::Reused);
        }
        if row.status == COMPLETED {
            return Ok(Claim::Replay(Stored {
                status: row
                    .response_status
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(200),
                content_type: row
                    .response_content_type
                    .unwrap_or_else(|| "application/json".to_owned()),
                body: row.response_body.unwrap_or_default(),
            }));
        }
        if row.locked_until.is_some_and(|until| until > at) {
            return Ok(Claim::InFlight);
        }
        // Its holder stopped without answering: take it over, unless another request just did.
        let taken = key_row::Entity::update_many()
            .col_expr(key_row::Column::LockedUntil, Expr::value(locked_until))
            .col_expr(key_row::Column::UpdatedAt, Expr::value(at))
            .col_expr(key_row::Column::Version, Expr::value(row.version + 1))
            .filter(key_row::Column::Id.eq(row.id))
            .filter(key_row::Column::Version.eq(row.version))
            .exec(db)
            .await?
            .rows_affected;
        if taken == 0 {
            continue;
        }
        let done = write_row::Entity::find()
            .filter(write_row::Column::IdempotencyKeyId.eq(row.id))
            .all(db)
            .await?
            .into_iter()
            .map(|w| {
                (
                    w.ordinal,
                    Done {
                        result_type: w.result_type,
                        result_id: w.result_id,
                    },
                )
            })
            .collect();
        return Ok(Claim::Run(Scope::new(row.id, done)));
    }
    Ok(Claim::InFlight)
}

fn expired(row: &key_row::Model, at: DateTime<Utc>) -> bool {
    row.created_at + retention() <= at
}

/// Stores the answer of the key's request: from now on it is replayed.
pub async fn complete(db: &DatabaseConnection, key_id: i64, response: &Stored) -> AppResult<()> {
    key_row::Entity::update_many()
        .col_expr(key_row::Column::Status, Expr::value(COMPLETED))
        .col_expr(
            key_row::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            key_row::Column::ResponseStatus,
            Expr::value(i32::from(response.status)),
        )
        .col_expr(
            key_row::Column::ResponseContentType,
            Expr::value(response.content_type.clone()),
        )
        .col_expr(
            key_row::Column::ResponseBody,
            Expr::value(response.body.clone()),
        )
        .col_expr(key_row::Column::UpdatedAt, Expr::value(now()))
        .col_expr(
            key_row::Column::Version,
            Expr::col(key_row::Column::Version).add(1),
        )
        .filter(key_row::Column::Id.eq(key_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Lets the next request with the key take it over at once (the request stopped without an
/// answer worth keeping: its time limit, a server error). What it committed stays recorded.
pub async fn release(db: &DatabaseConnection, key_id: i64) -> AppResult<()> {
    key_row::Entity::update_many()
        .col_expr(
            key_row::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(key_row::Column::UpdatedAt, Expr::value(now()))
        .col_expr(
            key_row::Column::Version,
            Expr::col(key_row::Column::Version).add(1),
        )
        .filter(key_row::Column::Id.eq(key_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Frees the key of a request that was refused before it ran (nothing committed), so that it
/// can be used again, with any body. A key with committed work is released instead.
pub async fn forget(db: &DatabaseConnection, key_id: i64) -> AppResult<()> {
    let writes = write_row::Entity::find()
        .filter(write_row::Column::IdempotencyKeyId.eq(key_id))
        .count(db)
        .await?;
    if writes > 0 {
        return release(db, key_id).await;
    }
    key_row::Entity::delete_by_id(key_id).exec(db).await?;
    Ok(())
}

/// Deletes the keys claimed more than 24 hours before `at` (their markers go with them).
pub async fn purge_expired(db: &DatabaseConnection, at: DateTime<Utc>) -> AppResult<u64> {
    let purged = key_row::Entity::delete_many()
        .filter(key_row::Column::CreatedAt.lte(at - retention()))
        .exec(db)
        .await?
        .rows_affected;
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_returning_an_entity_is_named_by_the_first_audit_row_of_that_type() {
        assert!(returns_record("Account", "UPDATED", "Account"));
        assert!(!returns_record("Account", "CREATED", "Invoice"));
        assert!(returns_record("[TransactionInterface]", "CREATED", "Debit"));
        assert!(returns_record(
            "[TransactionInterface]",
            "CREATED",
            "Discount"
        ));
        assert!(!returns_record(
            "[TransactionInterface]",
            "CREATED",
            "Invoice"
        ));
    }

    #[test]
    fn a_delete_is_named_by_the_record_it_deleted() {
        assert!(returns_record(
            "SuccessResponse",
            "DELETED",
            "ScheduledEvent"
        ));
        assert!(!returns_record("SuccessResponse", "CREATED", "Discount"));
    }

    #[test]
    fn outside_a_keyed_request_no_field_is_tracked() {
        assert_eq!(begin_field("Account"), FieldStart::Unkeyed);
    }

    #[tokio::test]
    async fn fields_are_numbered_in_order_and_committed_ones_are_not_run_again() {
        let done = Done {
            result_type: Some("Account".into()),
            result_id: Some(7),
        };
        let scope = Arc::new(Scope::new(1, HashMap::from([(1, done.clone())])));
        let starts = within(Some(scope), async {
            let first = begin_field("Account");
            end_field();
            let second = begin_field("Account");
            let third = begin_field("Account");
            (first, second, third)
        })
        .await;
        assert_eq!(
            starts,
            (FieldStart::Run, FieldStart::Done(done), FieldStart::Run)
        );
    }
}
