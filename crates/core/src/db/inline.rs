//! Compiled reads on SQLite, run on the request's own thread.
//!
//! sqlx gives each SQLite connection a thread of its own: a statement is a message to that
//! thread and its row a message back, and sqlx pings the connection (a third message) each
//! time it goes back to the pool. For a compiled read, which is one short statement, those
//! hand-offs between threads cost more than SQLite's own work (bench/RESULTS.md, issue 32).
//! [`InlineReads`] keeps a few read-only connections of its own to the same file and runs a
//! compiled read's statement on the calling thread, with no hand-off.
//!
//! What it does not take on, it declines (`None`), and the caller sends the statement through
//! the pool as before:
//! - a statement binding a value other than an integer, a float, a boolean or a string;
//! - every kept connection in use;
//! - any error from SQLite (the pool's answer to the same statement is the one that counts:
//!   busy, a damaged file, …);
//! - a statement still running after [`BUDGET`]: it is stopped, and once a statement's SQL has
//!   run past the budget [`OVERRUNS`] times it is not tried here again (one overrun may be a
//!   cold cache). The calling thread is one of the server's few async workers, which a long
//!   statement would keep from every other request.
//!
//! The connections are opened read-only (`query_only` as well), with the pool's page cache
//! size and its query planner stability guarantee ([`super::sqlite_stable_plans`]); each keeps
//! the statements it prepared.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::config::DbConfig;
use rusqlite::types::Value as Param;
use rusqlite::{Connection, OpenFlags};
use sea_orm::{Statement, Value};

use super::millis;

/// How long a statement may run here before it is stopped and sent through the pool.
pub const BUDGET: Duration = Duration::from_millis(5);

/// Overruns of [`BUDGET`] after which a statement's SQL is left to the pool.
pub const OVERRUNS: u32 = 3;

/// Connections kept: as many as the pool's readers.
const CONNECTIONS: usize = 4;

/// How many of SQLite's virtual machine steps run between two looks at the clock.
const STEPS_BETWEEN_CHECKS: i32 = 1_000;

/// Read-only connections to one SQLite file, for statements short enough to run in place.
pub struct InlineReads {
    path: PathBuf,
    idle: Mutex<Vec<Kept>>,
    /// Connections open (idle or in use).
    open: AtomicU64,
    /// How often each statement (by its text) ran past [`BUDGET`].
    overruns: Mutex<HashMap<String, u32>>,
    /// Told of each statement run here, as the pool's statement hook is of the pool's
    /// ([`super::on_each_statement`]).
    hook: Option<super::StatementHook>,
}

struct Kept {
    conn: Connection,
    /// When the statement running must stop, in [`millis`] (0: none runs).
    until: Arc<AtomicU64>,
}

impl InlineReads {
    /// For the SQLite file at `path`.
    pub fn new(path: &Path) -> InlineReads {
        InlineReads {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            open: AtomicU64::new(0),
            overruns: Mutex::new(HashMap::new()),
            hook: super::inline_hooks()
                .lock()
                .ok()
                .and_then(|h| h.get(path).cloned()),
        }
    }

    /// For the file behind `db`'s pool; `None` for PostgreSQL or an in-memory database.
    pub fn of(db: &sea_orm::DatabaseConnection) -> Option<InlineReads> {
        super::sqlite_file(db).map(|path| InlineReads::new(&path))
    }

    /// The one text value of the one row `statement` answers, or `None` when this statement
    /// is not run here (see the module's documentation): the caller then runs it through the
    /// pool.
    pub fn query_one_text(&self, statement: &Statement) -> Option<String> {
        let params = match &statement.values {
            Some(values) => values.0.iter().map(param).collect::<Option<Vec<_>>>()?,
            None => Vec::new(),
        };
        if self.slow_statement(&statement.sql) {
            return None;
        }
        let kept = self.take()?;
        kept.until
            .store(millis() + BUDGET.as_millis() as u64, Ordering::Relaxed);
        let started = Instant::now();
        let answer = run(&kept.conn, &statement.sql, &params);
        kept.until.store(0, Ordering::Relaxed);
        if let Some(hook) = &self.hook {
            hook(&sea_orm::metric::Info {
                elapsed: started.elapsed(),
                statement,
                failed: answer.is_err(),
            });
        }
        match answer {
            Ok(text) => {
                self.put(kept);
                Some(text)
            }
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::OperationInterrupted =>
            {
                tracing::debug!("a compiled read ran past its inline budget: the pool runs it");
                if let Ok(mut overruns) = self.overruns.lock() {
                    *overruns.entry(statement.sql.clone()).or_default() += 1;
                }
                self.put(kept);
                None
            }
            Err(err) => {
                tracing::debug!(error = %err, "a compiled read failed inline: the pool runs it");
                self.open.fetch_sub(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Whether `sql` ran past the budget [`OVERRUNS`] times.
    pub fn slow_statement(&self, sql: &str) -> bool {
        match self.overruns.lock() {
            Ok(overruns) => {
                !overruns.is_empty() && overruns.get(sql).is_some_and(|n| *n >= OVERRUNS)
            }
            Err(_) => true,
        }
    }

    fn take(&self) -> Option<Kept> {
        if let Some(kept) = self.idle.lock().ok()?.pop() {
            return Some(kept);
        }
        // Room for one more? Counted before opening, so that two callers cannot both take
        // the last place.
        let taken = self
            .open
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < CONNECTIONS as u64).then_some(n + 1)
            })
            .is_ok();
        if !taken {
            return None;
        }
        match open(&self.path) {
            Ok(kept) => Some(kept),
            Err(err) => {
                tracing::debug!(error = %err, "no inline SQLite connection: the pool runs reads");
                self.open.fetch_sub(1, Ordering::Relaxed);
                None
            }
        }
    }

    fn put(&self, kept: Kept) {
        match self.idle.lock() {
            Ok(mut idle) => idle.push(kept),
            Err(_) => {
                self.open.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

fn open(path: &Path) -> rusqlite::Result<Kept> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.pragma_update(None, "query_only", true)?;
    // The pool's page cache per connection (`open`).
    conn.pragma_update(None, "cache_size", -32768)?;
    if !conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)? {
        return Err(rusqlite::Error::InvalidQuery);
    }
    let until = Arc::new(AtomicU64::new(0));
    let watched = until.clone();
    conn.progress_handler(
        STEPS_BETWEEN_CHECKS,
        Some(move || {
            let until = watched.load(Ordering::Relaxed);
            until != 0 && millis() > until
        }),
    )?;
    Ok(Kept { conn, until })
}

fn run(conn: &Connection, sql: &str, params: &[Param]) -> rusqlite::Result<String> {
    let mut statement = conn.prepare_cached(sql)?;
    statement.query_row(rusqlite::params_from_iter(params.iter()), |row| row.get(0))
}

/// A bound value as SQLite takes it (as sqlx binds it: a boolean is 0 or 1), or `None` for a
/// kind not run here.
fn param(value: &Value) -> Option<Param> {
    Some(match value {
        Value::Bool(v) => v.map_or(Param::Null, |b| Param::Integer(b.into())),
        Value::TinyInt(v) => v.map_or(Param::Null, |n| Param::Integer(n.into())),
        Value::SmallInt(v) => v.map_or(Param::Null, |n| Param::Integer(n.into())),
        Value::Int(v) => v.map_or(Param::Null, |n| Param::Integer(n.into())),
        Value::BigInt(v) => v.map_or(Param::Null, Param::Integer),
        Value::TinyUnsigned(v) => v.map_or(Param::Null, |n| Param::Integer(n.into())),
        Value::SmallUnsigned(v) => v.map_or(Param::Null, |n| Param::Integer(n.into())),
        Value::Unsigned(v) => v.map_or(Param::Null, |n| Param::Integer(n.into())),
        Value::BigUnsigned(v) => match v {
            None => Param::Null,
            Some(n) => Param::Integer(i64::try_from(*n).ok()?),
        },
        Value::Float(v) => v.map_or(Param::Null, |n| Param::Real(n.into())),
        Value::Double(v) => v.map_or(Param::Null, Param::Real),
        Value::String(v) => v.as_ref().map_or(Param::Null, |s| Param::Text(s.clone())),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("fathom-inline-{name}-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);
             INSERT INTO t (name) VALUES ('a'), ('b');",
        )
        .unwrap();
        path
    }

    fn statement(sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(sea_orm::DbBackend::Sqlite, sql, values)
    }

    #[test]
    fn a_short_statement_is_answered_in_place_with_its_values_bound() {
        let reads = InlineReads::new(&file("short"));
        let asked = statement(
            "SELECT json_array(name, ?2, ?3) FROM t WHERE id = ?1",
            vec![
                Value::BigInt(Some(2)),
                Value::Bool(Some(true)),
                Value::String(Some("x".into())),
            ],
        );
        assert_eq!(
            reads.query_one_text(&asked).as_deref(),
            Some(r#"["b",1,"x"]"#)
        );
        // Again, from the kept connection and its kept statement.
        assert_eq!(
            reads.query_one_text(&asked).as_deref(),
            Some(r#"["b",1,"x"]"#)
        );
        assert_eq!(reads.open.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn what_it_cannot_bind_or_run_is_declined_for_the_pool() {
        let reads = InlineReads::new(&file("declined"));
        let dated = statement(
            "SELECT json_array(?1)",
            vec![Value::ChronoDate(Some(
                chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
            ))],
        );
        assert_eq!(reads.query_one_text(&dated), None);
        assert_eq!(
            reads.query_one_text(&statement("SELECT nope FROM t", vec![])),
            None
        );
        // A write is refused by the read-only connection, and the file is unchanged.
        assert_eq!(
            reads.query_one_text(&statement("DELETE FROM t RETURNING 'gone'", vec![])),
            None
        );
        let count: i64 = Connection::open(&reads.path)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 2);
    }

    #[test]
    fn a_statement_past_its_budget_is_stopped_and_left_to_the_pool_from_then_on() {
        let reads = InlineReads::new(&file("slow"));
        let endless = statement(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) \
             SELECT CAST(MAX(i) AS TEXT) FROM n",
            vec![],
        );
        for tried in 1..=OVERRUNS {
            assert!(!reads.slow_statement(&endless.sql));
            let started = Instant::now();
            assert_eq!(reads.query_one_text(&endless), None, "try {tried}");
            assert!(
                started.elapsed() < BUDGET * 20,
                "stopped after {:?}",
                started.elapsed()
            );
        }
        assert!(reads.slow_statement(&endless.sql));
        // The connection is still good for the next statement.
        let quick = statement("SELECT name FROM t WHERE id = 1", vec![]);
        assert_eq!(reads.query_one_text(&quick).as_deref(), Some("a"));
        assert_eq!(reads.open.load(Ordering::Relaxed), 1);
    }
}
