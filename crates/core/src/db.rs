//! Connecting to SQLite or PostgreSQL, migrating, and opening write transactions.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

pub mod failover;
pub mod inline;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

/// Opens a pool. SQLite runs in WAL mode with `synchronous = FULL` (an acknowledged commit
/// survives a process crash or power loss), a busy timeout and foreign keys on every connection.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_in_schema(url, None).await
}

/// Like [`connect`]; on PostgreSQL, `schema` (when given) becomes the search path, so that a
/// test can have a schema of its own.
pub async fn connect_in_schema(
    url: &str,
    schema: Option<&str>,
) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, schema, None).await
}

/// Like [`connect_in_schema`], with a bound on how long one statement may run: PostgreSQL's
/// `statement_timeout` on every connection; on SQLite, a progress handler that interrupts a
/// statement running longer. The server sets it a little above its request timeout, so a
/// request that timed out does not leave its query running. Migrations and bulk commands
/// connect without it.
pub async fn connect_with(
    url: &str,
    schema: Option<&str>,
    statement_timeout: Option<Duration>,
) -> Result<DatabaseConnection, DbErr> {
    connect_sized(url, schema, statement_timeout, None).await
}

/// Like [`connect_with`], with `pool_size` connections on PostgreSQL (default 16).
pub async fn connect_sized(
    url: &str,
    schema: Option<&str>,
    statement_timeout: Option<Duration>,
    pool_size: Option<u32>,
) -> Result<DatabaseConnection, DbErr> {
    let db = open(url, schema, statement_timeout, pool_size, false).await?;
    // An in-memory database cannot be opened twice: it keeps the busy handler alone.
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    if let Some(path) = sqlite_file(&db).filter(|_| !in_memory) {
        let writer = open(url, schema, statement_timeout, None, true).await?;
        writers().lock().unwrap().insert(path, writer);
    }
    Ok(db)
}

/// How long a statement waits for a connection before it is `UNAVAILABLE`: a third of the
/// statement bound when there is one (the server's: its request timeout and a second, so a
/// request that waits for a connection twice, for its cached token's read and then for its
/// full authentication, still answers 503 before its time limit), else 30 seconds (migrations
/// and bulk commands). While the database restarts, a request that arrives waits this long for
/// it to come back (sqlx keeps trying to connect) before it is told to retry.
fn acquire_timeout(statement_timeout: Option<Duration>) -> Duration {
    statement_timeout.map_or(Duration::from_secs(30), |limit| {
        (limit / 3).clamp(Duration::from_secs(1), Duration::from_secs(30))
    })
}

/// SQLite's `wal_autocheckpoint` (pages of WAL after which a commit checkpoints): SQLite's
/// 1,000 unless `FATHOM_SQLITE_WAL_AUTOCHECKPOINT` says otherwise (the fault tests set 1, so
/// that a process killed under writes is killed mid-checkpoint).
fn wal_autocheckpoint() -> String {
    std::env::var("FATHOM_SQLITE_WAL_AUTOCHECKPOINT")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(1000)
        .to_string()
}

/// One pool; `writer` opens SQLite's pool for write transactions ([`WRITERS_PER_FILE`] connections).
async fn open(
    url: &str,
    schema: Option<&str>,
    statement_timeout: Option<Duration>,
    pool_size: Option<u32>,
    writer: bool,
) -> Result<DatabaseConnection, DbErr> {
    // A URL of several hosts is given to sea-orm with its first host alone ([`failover`]).
    let single = match url.starts_with("sqlite:") {
        true => None,
        false => failover::parse(url)?.map(|hosts| hosts.single),
    };
    let mut opts = ConnectOptions::new(single.clone().unwrap_or_else(|| url.to_owned()));
    if let Some(schema) = schema {
        opts.set_schema_search_path(schema.to_owned());
    }
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(acquire_timeout(statement_timeout));
    // sqlx pings a connection when it goes back to the pool, after every use; pinging it
    // again when it is taken out is a second round trip per statement (to PostgreSQL's
    // backend, or to a SQLite connection's thread). Only a connection idle for a second or
    // more is pinged when taken: one that a database restart broke while in use or since is
    // found by a ping, or by its next statement's error (UNAVAILABLE, as a restart under load
    // gives anyway), and is then closed and replaced.
    opts.test_before_acquire_if_idle_for(Duration::from_secs(1));
    if url.starts_with("sqlite:") {
        if writer {
            // Idle writers of databases no longer used (a test's) close their connections.
            opts.max_connections(WRITERS_PER_FILE)
                .min_connections(0)
                .idle_timeout(Duration::from_secs(30))
                .acquire_timeout(Duration::from_secs(10));
        } else {
            opts.max_connections(4).min_connections(1);
        }
        opts.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .create_if_missing(true)
                // 32 MiB of page cache per connection (SQLite's default is 2 MiB): a large
                // book's indexes stay in memory instead of being read through the OS.
                .pragma("cache_size", "-32768")
                .pragma("wal_autocheckpoint", wal_autocheckpoint())
        });
        // A connection whose transaction could not be ended (a COMMIT refused for a full disk,
        // after which SQLite may already have rolled back, so that the ROLLBACK fails too)
        // still counts as inside it for sqlx, which would then open the next "transaction" as a
        // savepoint of it: such a connection is closed instead of reused. The pool's ping runs
        // first, so the rollback queued when the transaction was dropped has been carried out.
        opts.map_sqlx_sqlite_before_acquire(|conn, _| {
            Box::pin(async move {
                use sea_orm::sqlx::Connection;
                Ok(!conn.is_in_transaction())
            })
        });
        opts.map_sqlx_sqlite_pool_opts(move |pool| {
            pool.after_connect(move |conn, _| {
                Box::pin(async move {
                    sqlite_busy::install(conn).await?;
                    sqlite_stable_plans(conn).await?;
                    match statement_timeout {
                        Some(limit) => sqlite_statement_limit::install(conn, limit).await,
                        None => Ok(()),
                    }
                })
            })
        });
    } else {
        opts.max_connections(pool_size.unwrap_or(16).max(1))
            .min_connections(1);
        let hosts = failover::parse(url)?;
        // With several hosts: the first that accepts writes, and a watcher that follows them.
        let first = match &hosts {
            Some(hosts) => Some(first_host(hosts).await?),
            None => None,
        };
        let at = first.and_then(|i| hosts.as_ref().map(|h| h.hosts[i].clone()));
        let timeout = statement_timeout.map(|limit| format!("{}ms", limit.as_millis()));
        if at.is_some() || timeout.is_some() {
            opts.map_sqlx_postgres_opts(move |mut o| {
                if let Some((host, port)) = &at {
                    o = o.host(host).port(*port);
                }
                if let Some(value) = &timeout {
                    o = o.options([("statement_timeout", value.clone())]);
                }
                o
            });
        }
        if let (Some(hosts), Some(first)) = (hosts, first) {
            // sea-orm sets the search path in a hook of its own, which this one replaces.
            let search_path =
                schema.map(|s| format!("SET search_path = \"{}\"", s.replace('"', "")));
            let read_write = hosts.read_write;
            opts.map_sqlx_postgres_pool_opts(move |pool| {
                let search_path = search_path.clone();
                pool.after_connect(move |conn, _| {
                    let search_path = search_path.clone();
                    Box::pin(async move {
                        failover::acceptable(conn, read_write).await?;
                        if let Some(sql) = search_path {
                            let sql = sea_orm::sqlx::AssertSqlSafe(sql);
                            sea_orm::sqlx::Executor::execute(&mut *conn, sql).await?;
                        }
                        Ok(())
                    })
                })
            });
            let db = Database::connect(opts).await?;
            failover::watch(db.get_postgres_connection_pool().clone(), hosts, first);
            return Ok(db);
        }
    }
    Database::connect(opts).await
}

/// Whether every connection of `db`'s pool is in use (none idle, no room for another): a
/// statement would wait for one.
pub fn pool_saturated(db: &DatabaseConnection) -> bool {
    fn full<DB: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<DB>) -> bool {
        pool.num_idle() == 0 && pool.size() >= pool.options().get_max_connections()
    }
    match db.get_database_backend() {
        DbBackend::Postgres => full(db.get_postgres_connection_pool()),
        DbBackend::Sqlite => full(db.get_sqlite_connection_pool()),
        _ => false,
    }
}

/// The first host of a multi-host URL that answers and accepts writes.
async fn first_host(hosts: &failover::Hosts) -> Result<usize, DbErr> {
    let base: sea_orm::sqlx::postgres::PgConnectOptions = hosts
        .single
        .parse()
        .map_err(|e| DbErr::Custom(format!("DATABASE_URL: {e}")))?;
    failover::find(hosts, &base).await.ok_or_else(|| {
        DbErr::Conn(sea_orm::RuntimeErr::Internal(
            "no host of DATABASE_URL answers and accepts writes".into(),
        ))
    })
}

/// Waiting for SQLite's write lock. SQLite's own busy timeout sleeps ever longer between
/// tries (1, 2, 5, 10, … 100 ms), so under a burst of writers the lock often sits free while
/// every waiter sleeps; this handler tries again every 0.2 ms for the first 20 ms, then every
/// millisecond, up to the same 10 seconds. It runs on the connection's own thread (sqlx gives
/// each SQLite connection one), so sleeping there blocks nothing else.
mod sqlite_busy {
    use std::ffi::{c_int, c_void};
    use std::time::Duration;

    use sea_orm::sqlx::SqliteConnection;

    const QUICK_TRIES: c_int = 100;
    /// 100 tries at 0.2 ms, then 1 ms each: 10 seconds in all.
    const TRIES: c_int = QUICK_TRIES + 9_980;

    unsafe extern "C" fn busy(_context: *mut c_void, tries: c_int) -> c_int {
        if tries >= TRIES {
            return 0;
        }
        std::thread::sleep(if tries < QUICK_TRIES {
            Duration::from_micros(200)
        } else {
            Duration::from_millis(1)
        });
        1
    }

    pub async fn install(conn: &mut SqliteConnection) -> Result<(), sea_orm::sqlx::Error> {
        let mut handle = conn.lock_handle().await?;
        // SAFETY: a valid open connection; the handler keeps no state.
        unsafe {
            libsqlite3_sys::sqlite3_busy_handler(
                handle.as_raw_handle().as_ptr(),
                Some(busy),
                std::ptr::null_mut(),
            );
        }
        Ok(())
    }
}

/// Asks SQLite to keep each statement's plan whatever values are bound to it
/// (`SQLITE_DBCONFIG_ENABLE_QPSG`, the query planner stability guarantee). Without it SQLite
/// prepares a cached statement again whenever a new value is bound to a parameter its plan
/// looked at (with STAT4, which the bundled SQLite has, a key compared to an indexed column;
/// a bound `LIMIT`): for a compiled read that was every request, its full compilation each
/// time (bench/RESULTS.md, issue 32). Every connection fathom opens has it, and so has the
/// benchmark's SQL floor (`examples/sql_floor.rs`).
pub async fn sqlite_stable_plans(
    conn: &mut sea_orm::sqlx::SqliteConnection,
) -> Result<(), sea_orm::sqlx::Error> {
    use std::ffi::c_int;
    let mut handle = conn.lock_handle().await?;
    // SAFETY: a valid open connection; the option takes an int and a nullable pointer to an
    // int for the setting it had.
    let code = unsafe {
        libsqlite3_sys::sqlite3_db_config(
            handle.as_raw_handle().as_ptr(),
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as c_int,
            std::ptr::null_mut::<c_int>(),
        )
    };
    match code {
        libsqlite3_sys::SQLITE_OK => Ok(()),
        _ => Err(sea_orm::sqlx::Error::Configuration(
            "SQLite refused the query planner stability guarantee".into(),
        )),
    }
}

/// Milliseconds since the first call: the clock the SQLite progress handlers compare against
/// (the pool's statement limit, [`inline`]'s budget).
fn millis() -> u64 {
    static BASE: OnceLock<std::time::Instant> = OnceLock::new();
    BASE.get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
}

/// SQLite has no statement timeout: a progress handler, called every few thousand virtual
/// machine steps, interrupts the statement once it has run longer than the limit. When a
/// statement starts and ends comes from SQLite's trace hook (`SQLITE_TRACE_STMT`,
/// `SQLITE_TRACE_PROFILE`).
mod sqlite_statement_limit {
    use std::ffi::{c_int, c_uint, c_void};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use sea_orm::sqlx::SqliteConnection;

    /// No statement is running.
    const IDLE: u64 = u64::MAX;

    use super::millis;

    /// Marks a statement's start (`SQLITE_TRACE_STMT`) and end (`SQLITE_TRACE_PROFILE`).
    unsafe extern "C" fn trace(
        event: c_uint,
        context: *mut c_void,
        _statement: *mut c_void,
        _detail: *mut c_void,
    ) -> c_int {
        let value = if event == libsqlite3_sys::SQLITE_TRACE_STMT as c_uint {
            millis()
        } else {
            IDLE
        };
        // SAFETY: `context` is the `AtomicU64` that the progress handler's closure keeps alive
        // for as long as the connection is open (see `install`).
        unsafe { (*(context as *const AtomicU64)).store(value, Ordering::Relaxed) };
        0
    }

    pub async fn install(
        conn: &mut SqliteConnection,
        limit: Duration,
    ) -> Result<(), sea_orm::sqlx::Error> {
        let limit = limit.as_millis() as u64;
        let mut handle = conn.lock_handle().await?;
        let started = Arc::new(AtomicU64::new(IDLE));
        let context = Arc::as_ptr(&started) as *mut c_void;
        // The closure owns `started`; sqlx drops it when the connection closes, after which
        // SQLite calls neither hook again.
        handle.set_progress_handler(10_000, move || {
            let since = started.load(Ordering::Relaxed);
            since == IDLE || millis().saturating_sub(since) <= limit
        });
        // SAFETY: a valid open connection; the callback only stores into `context`.
        unsafe {
            libsqlite3_sys::sqlite3_trace_v2(
                handle.as_raw_handle().as_ptr(),
                (libsqlite3_sys::SQLITE_TRACE_STMT | libsqlite3_sys::SQLITE_TRACE_PROFILE)
                    as c_uint,
                Some(trace),
                context,
            );
        }
        Ok(())
    }
}

/// SQLite lets one transaction write at a time. Write transactions of one process take turns
/// on a small pool per database file (opened beside the main pool by [`connect_with`]): a
/// writer waits for its turn asleep in the pool's queue, where waiting in SQLite's busy
/// handler would poll and would hold one of the main pool's connections, which reads need. Other processes on the
/// same file (a `run-scheduled` worker, `fathom bill`) still take turns through the busy
/// handler.
/// Connections of a file's writer pool. Two, not one: after a commit, SQLite may checkpoint
/// the write-ahead log on the committing connection (its automatic checkpoint), which at a
/// million accounts can take long; the second connection lets the next writer go on
/// meanwhile (bench/RESULTS.md). The two meet at SQLite's lock through the busy handler.
const WRITERS_PER_FILE: u32 = 2;

fn writers() -> &'static Mutex<HashMap<PathBuf, DatabaseConnection>> {
    static WRITERS: OnceLock<Mutex<HashMap<PathBuf, DatabaseConnection>>> = OnceLock::new();
    WRITERS.get_or_init(Default::default)
}

/// The database file behind a SQLite pool (none for PostgreSQL or an in-memory database).
fn sqlite_file(db: &DatabaseConnection) -> Option<PathBuf> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return None;
    }
    let options = db.get_sqlite_connection_pool().connect_options();
    let path = options.get_filename();
    (!path.as_os_str().is_empty()).then(|| path.to_path_buf())
}

fn writer_of(db: &DatabaseConnection) -> Option<DatabaseConnection> {
    let path = sqlite_file(db)?;
    writers().lock().unwrap().get(&path).cloned()
}

/// Calls `callback` for every statement sent through `db`, write transactions included (on
/// SQLite they run on the file's writer pool, which gets the callback too). Tests count
/// statements with it.
pub fn on_each_statement(
    db: &mut DatabaseConnection,
    callback: impl Fn(&sea_orm::metric::Info<'_>) + Send + Sync + 'static,
) {
    let callback: StatementHook = Arc::new(callback);
    let shared = callback.clone();
    db.set_metric_callback(move |info| shared(info));
    if let Some(path) = sqlite_file(db) {
        inline_hooks()
            .lock()
            .unwrap()
            .insert(path.clone(), callback.clone());
        let mut writers = writers().lock().unwrap();
        if let Some(writer) = writers.get_mut(&path) {
            writer.set_metric_callback(move |info| callback(info));
        }
    }
}

/// A callback for each statement ([`on_each_statement`]).
pub type StatementHook = Arc<dyn Fn(&sea_orm::metric::Info<'_>) + Send + Sync>;

/// The [`on_each_statement`] callback of each SQLite file, for the statements that
/// [`inline::InlineReads`] made for that file afterwards run outside the pool.
fn inline_hooks() -> &'static Mutex<HashMap<PathBuf, StatementHook>> {
    static HOOKS: OnceLock<Mutex<HashMap<PathBuf, StatementHook>>> = OnceLock::new();
    HOOKS.get_or_init(Default::default)
}

/// Calls `callback` each time [`begin_immediate`] opens a write transaction on `db`'s pool
/// (through `db` or any clone of it), until the returned guard is dropped. Every transaction
/// fathom's services open is one; sea-orm's statement hook ([`on_each_statement`]) sees
/// neither its `BEGIN` nor the `COMMIT` or `ROLLBACK` that ends it. Tests count statements
/// with both.
pub fn on_each_transaction(
    db: &DatabaseConnection,
    callback: impl Fn() + Send + Sync + 'static,
) -> TransactionHook {
    let pool = pool_id(db).expect("a SQLite file or a PostgreSQL pool");
    transaction_hooks()
        .lock()
        .unwrap()
        .insert(pool.clone(), Arc::new(callback));
    TRANSACTION_HOOKED.store(true, Ordering::SeqCst);
    TransactionHook { pool }
}

/// Registered by [`on_each_transaction`]; dropping it removes the callback.
#[must_use = "the callback is removed when this is dropped"]
pub struct TransactionHook {
    pool: PoolId,
}

impl Drop for TransactionHook {
    fn drop(&mut self) {
        transaction_hooks().lock().unwrap().remove(&self.pool);
    }
}

/// A pool, whichever clone of its `DatabaseConnection` is used: a SQLite file (whose write
/// transactions all run on its writer pool), or a PostgreSQL pool's shared connect options.
#[derive(Clone, PartialEq, Eq, Hash)]
enum PoolId {
    File(PathBuf),
    Postgres(usize),
}

fn pool_id(db: &DatabaseConnection) -> Option<PoolId> {
    match db.get_database_backend() {
        DbBackend::Sqlite => sqlite_file(db).map(PoolId::File),
        DbBackend::Postgres => {
            let options = db.get_postgres_connection_pool().connect_options();
            Some(PoolId::Postgres(Arc::as_ptr(&options) as *const () as usize))
        }
        _ => None,
    }
}

/// Whether any [`on_each_transaction`] callback was ever registered: until then a write
/// transaction does not look for one.
static TRANSACTION_HOOKED: AtomicBool = AtomicBool::new(false);

type TransactionCallback = Arc<dyn Fn() + Send + Sync>;

fn transaction_hooks() -> &'static Mutex<HashMap<PoolId, TransactionCallback>> {
    static HOOKS: OnceLock<Mutex<HashMap<PoolId, TransactionCallback>>> = OnceLock::new();
    HOOKS.get_or_init(Default::default)
}

fn transaction_opened(db: &DatabaseConnection) {
    if !TRANSACTION_HOOKED.load(Ordering::Relaxed) {
        return;
    }
    let Some(pool) = pool_id(db) else {
        return;
    };
    let callback = transaction_hooks().lock().unwrap().get(&pool).cloned();
    if let Some(callback) = callback {
        callback();
    }
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Begins a transaction that will write. On SQLite it takes the write lock at `BEGIN`
/// (`IMMEDIATE`), on the file's writer pool, so two writers never deadlock on a lock upgrade;
/// the busy timeout queues them. Services begin theirs with `service::base::store::begin_write`, which adds
/// the idempotency marker.
pub async fn begin_immediate(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let mut options = TransactionOptions::default();
    let mut on = db;
    let writer;
    if db.get_database_backend() == DbBackend::Sqlite {
        options.sqlite_transaction_mode = Some(SqliteTransactionMode::Immediate);
        if let Some(found) = writer_of(db) {
            writer = found;
            on = &writer;
        }
    }
    let txn = on.begin_with_options(options).await?;
    transaction_opened(db);
    Ok(txn)
}
