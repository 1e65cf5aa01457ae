//! The one error type of fathom. Each variant names the `extensions.code` a client sees.
//!
//! Infrastructure failures (database, I/O) become [`AppError::Internal`]: the server logs the
//! detail under a request id and only that id reaches the client, never SQL, table names or
//! paths (the server crate turns errors into GraphQL errors: `fathom::graphql::execution::errors`).

use sea_orm::{DbErr, RuntimeErr, SqlErr};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// `UNAUTHENTICATED`: no token, a malformed one, or one that no longer works.
    #[error("{0}")]
    Unauthenticated(String),
    /// `FORBIDDEN`: the caller's role lacks the named permission.
    #[error("missing permission {0}")]
    Forbidden(&'static str),
    /// `NOT_FOUND`: the named entity does not exist.
    #[error("{0}")]
    NotFound(String),
    /// `VALIDATION_FAILED` with `extensions.field`: an input was refused.
    #[error("{message}")]
    Validation { field: String, message: String },
    /// `CONFLICT`: a uniqueness rule or a concurrent change got in the way.
    #[error("{0}")]
    Conflict(String),
    /// `CONFLICT` with `extensions.field`: the value given for that field is already taken
    /// (a unique rule on one field, e.g. a username).
    #[error("{message}")]
    Taken { field: String, message: String },
    /// `ACCOUNT_NOT_ACTIVE`: the account is not in an activating status.
    #[error("{0}")]
    AccountNotActive(String),
    /// `ACCOUNT_ARCHIVED`: the account is archived and therefore frozen.
    #[error("{0}")]
    AccountArchived(String),
    /// `SCHEDULED_IN_PAST`: a scheduled event's datetime is not in the future.
    #[error("{0}")]
    ScheduledInPast(String),
    /// `EVENT_NOT_PENDING`: only pending scheduled events can be changed.
    #[error("{0}")]
    EventNotPending(String),
    /// `UNSUPPORTED_EVENT`: fathom does not execute this scheduled event type.
    #[error("{0}")]
    UnsupportedEvent(String),
    /// `NO_BILLING_CONTACT`: the account has no contact with an email address and no mailing
    /// address, so it could not receive its own invoices.
    #[error("{0}")]
    NoBillingContact(String),
    /// `QUERY_TOO_COMPLEX`: the query exceeds a depth, complexity or size limit.
    #[error("{0}")]
    QueryTooComplex(String),
    /// `RATE_LIMITED`: the token sent more operations than its rate allows; retry after the
    /// given number of seconds (also in `extensions.retry_after` and the `Retry-After` header).
    #[error("too many requests for this token; retry after {0} s")]
    RateLimited(u64),
    /// `IDEMPOTENCY_KEY_REUSED` (HTTP 422): the request's `Idempotency-Key` was used, within
    /// 24 hours, by a request of the same token with another body.
    #[error("{0}")]
    IdempotencyKeyReused(String),
    /// `UNAVAILABLE` (HTTP 503 with `Retry-After`): the database could not be reached, went
    /// away during the operation, is starting or shutting down, is a standby that cannot take
    /// writes, or has no room left. The detail is logged; the client is told to retry. A
    /// mutation answered so wrote nothing, unless the connection was lost while it committed:
    /// retried with the same `Idempotency-Key` it is never carried out twice.
    #[error("the database is unavailable; retry shortly (a mutation with the same Idempotency-Key is never carried out twice)")]
    Unavailable(String),
    /// `INTERNAL`: anything else. The client sees only a request id.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated(_) => "UNAUTHENTICATED",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::Validation { .. } => "VALIDATION_FAILED",
            AppError::Conflict(_) | AppError::Taken { .. } => "CONFLICT",
            AppError::AccountNotActive(_) => "ACCOUNT_NOT_ACTIVE",
            AppError::AccountArchived(_) => "ACCOUNT_ARCHIVED",
            AppError::ScheduledInPast(_) => "SCHEDULED_IN_PAST",
            AppError::EventNotPending(_) => "EVENT_NOT_PENDING",
            AppError::UnsupportedEvent(_) => "UNSUPPORTED_EVENT",
            AppError::NoBillingContact(_) => "NO_BILLING_CONTACT",
            AppError::QueryTooComplex(_) => "QUERY_TOO_COMPLEX",
            AppError::RateLimited(_) => "RATE_LIMITED",
            AppError::IdempotencyKeyReused(_) => "IDEMPOTENCY_KEY_REUSED",
            AppError::Unavailable(_) => "UNAVAILABLE",
            AppError::Internal(_) => "INTERNAL",
        }
    }

    /// Whether the server, not the request, failed (`INTERNAL`, `UNAVAILABLE`): such an error
    /// is no verdict on the item being processed, which is tried again rather than refused.
    pub fn is_server_fault(&self) -> bool {
        matches!(self, AppError::Internal(_) | AppError::Unavailable(_))
    }

    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn not_found(entity: &str, id: i64) -> Self {
        AppError::NotFound(format!("{entity} {id} does not exist"))
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        AppError::Internal(detail.to_string())
    }
}

impl From<DbErr> for AppError {
    /// The one place constraint violations become domain errors: a unique violation is a
    /// `CONFLICT`, a foreign key violation a `VALIDATION_FAILED` (a reference to something that
    /// does not exist, or a delete refused because something still refers to the row), SQLite's
    /// busy/locked errors a `CONFLICT` the client can retry, a database that cannot be reached
    /// ([`is_unavailable`]) `UNAVAILABLE`. Everything else is `INTERNAL`.
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                return AppError::Conflict("the change conflicts with an existing record".into())
            }
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                return AppError::validation(
                    "id",
                    "the change refers to a record that does not exist, or is still referenced",
                )
            }
            _ => {}
        }
        let text = err.to_string();
        if is_unavailable(&err) {
            // A database with several hosts may have failed over: look for the new primary.
            crate::db::failover::suspect();
            return AppError::Unavailable(text);
        }
        if is_busy(&err) {
            return AppError::Conflict(
                "the record is being changed by another request; retry".into(),
            );
        }
        AppError::Internal(text)
    }
}

/// Whether the database refused the statement because another transaction held what it
/// needed, by the error's code: SQLite's `SQLITE_BUSY` and `SQLITE_LOCKED` (with their
/// extended codes), PostgreSQL's `serialization_failure` (40001) and `deadlock_detected`
/// (40P01). Retrying may succeed.
fn is_busy(err: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(e))
    | DbErr::Query(RuntimeErr::SqlxError(e))
    | DbErr::Conn(RuntimeErr::SqlxError(e))) = err
    else {
        return false;
    };
    let Some(database) = e.as_database_error() else {
        return false;
    };
    if let Some(pg) = database.try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>() {
        return matches!(pg.code(), "40001" | "40P01");
    }
    if database
        .try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
        .is_some()
    {
        // The primary result code is the low byte of the extended one.
        let code = database.code().and_then(|c| c.parse::<i64>().ok());
        return code.is_some_and(|c| matches!(c & 0xff, 5 | 6));
    }
    false
}

/// Whether the statement failed because the database could not serve it at all, rather than
/// because of what it asked: no connection could be had in time (the pool's acquire timeout,
/// a refused or reset connection, TLS breakage, a closed pool), or the database
/// said so itself: PostgreSQL's connection exceptions (class `08`), `admin_shutdown`,
/// `crash_shutdown` and `cannot_connect_now` (`57P01`–`57P03`, a restart or a failover),
/// `too_many_connections` (`53300`), `read_only_sql_transaction` (`25006`: a write reached a
/// standby), `disk_full` (`53100`), `io_error` (`58030`); SQLite's `SQLITE_FULL`, `SQLITE_IOERR` and
/// `SQLITE_CANTOPEN` (its disk is full or failing). Trying again later may succeed; a read may
/// be tried again at once on another database (the replica's fallback).
pub fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    let e = match err {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e))
        | DbErr::Conn(RuntimeErr::SqlxError(e)) => e,
        DbErr::Conn(_) => return true,
        _ => return false,
    };
    match e.as_ref() {
        Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed => true,
        Sqlx::Database(database) => {
            if let Some(pg) =
                database.try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>()
            {
                let code = pg.code();
                return code.starts_with("08")
                    || matches!(
                        code,
                        "57P01" | "57P02" | "57P03" | "53300" | "25006" | "53100" | "58030"
                    );
            }
            if database
                .try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
                .is_some()
            {
                let code = database.code().and_then(|c| c.parse::<i64>().ok());
                return code.is_some_and(|c| matches!(c & 0xff, 10 | 13 | 14));
            }
            false
        }
        _ => false,
    }
}

/// The seconds a client is told to wait (`Retry-After`, `extensions.retry_after`) before trying
/// an `UNAVAILABLE` request again: a restarted database or a promoted standby takes a few.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 2;

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use sea_orm::{ConnectionTrait, TransactionTrait};

    /// A write that finds another transaction's lock on SQLite is a `CONFLICT` to retry, as
    /// its error code says, not an internal error.
    #[tokio::test]
    async fn a_locked_sqlite_database_is_a_conflict() {
        let path = std::env::temp_dir().join(format!("fathom_busy_{}.db", std::process::id()));
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .busy_timeout(std::time::Duration::ZERO);
        let connect = || async {
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await
                .unwrap();
            sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool)
        };
        let (a, b) = (connect().await, connect().await);
        a.execute_unprepared("CREATE TABLE t (x INTEGER)")
            .await
            .unwrap();
        let holding = a.begin().await.unwrap();
        holding
            .execute_unprepared("INSERT INTO t VALUES (1)")
            .await
            .unwrap();
        let err = b
            .execute_unprepared("INSERT INTO t VALUES (2)")
            .await
            .unwrap_err();
        assert!(is_busy(&err), "{err:?}");
        assert!(matches!(AppError::from(err), AppError::Conflict(_)));
        holding.rollback().await.unwrap();
        let other = b.execute_unprepared("SELECT nonsense").await.unwrap_err();
        assert!(!is_busy(&other));
        assert!(matches!(AppError::from(other), AppError::Internal(_)));
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
