//! A PostgreSQL streaming replica for the reads that may be a little stale (DESIGN §10):
//! the Activations & Disconnections report. Everything else (mutations, authentication, the
//! background jobs, every other read, and every read of a request that also carries a
//! mutation) goes to the primary.
//!
//! Before a read goes to the replica, its lag is known from a check at most
//! [`CHECK_EVERY`] old: `now() - pg_last_xact_replay_timestamp()`, or zero when the replica has
//! replayed all it received. When the replica is down or lags more than
//! `FATHOM_MAX_REPLICA_LAG`, the read goes to the primary instead: a warning is logged when
//! that starts, and `fathom_replica_fallbacks_total` counts each such read.
//!
//! A replica can also die between two checks. A read that then fails on it for a connection
//! reason ([`crate::error::is_unavailable`]: refused, reset, shutting down, no connection within
//! [`ACQUIRE_TIMEOUT`]) is read again from the primary in the same request
//! ([`Replica::failed`] marks the replica down until its next check and counts the fallback):
//! the client sees no error. Only reads are ever sent to the replica, so only reads are retried.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

/// How often the replica's lag is checked by default (at most; only when a read wants it).
pub const CHECK_EVERY: Duration = Duration::from_secs(2);

/// How long a read waits for a replica connection before it is read from the primary instead.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);

pub struct Replica {
    db: DatabaseConnection,
    max_lag: Duration,
    /// How long a check's verdict stands ([`CHECK_EVERY`] unless configured).
    check_every: Duration,
    /// When the lag was last checked, and whether the replica was usable then.
    checked: Mutex<Option<(Instant, bool)>>,
    /// The last lag read, in milliseconds (`u64::MAX`: unknown).
    lag_ms: AtomicU64,
    fallbacks: AtomicU64,
    reads: AtomicU64,
    warned: AtomicBool,
}

/// The replica's state, as `/readyz` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Ok,
    Lagging,
    Down,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Lagging => "lagging",
            Health::Down => "down",
        }
    }
}

impl Replica {
    /// A replica at `url`, connected on first use (so that a server starts with its replica
    /// down).
    pub fn new(url: &str, max_lag: Duration) -> Result<Replica, sea_orm::DbErr> {
        Replica::checked_every(url, max_lag, CHECK_EVERY)
    }

    /// Like [`Replica::new`], its health checked at most every `check_every`.
    pub fn checked_every(
        url: &str,
        max_lag: Duration,
        check_every: Duration,
    ) -> Result<Replica, sea_orm::DbErr> {
        use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e| sea_orm::DbErr::Custom(format!("FATHOM_READ_REPLICA_URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        Ok(Replica {
            db: sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(pool),
            max_lag,
            check_every,
            checked: Mutex::new(None),
            lag_ms: AtomicU64::new(u64::MAX),
            fallbacks: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            warned: AtomicBool::new(false),
        })
    }

    /// The replica's lag now; an error when it cannot be reached.
    pub async fn lag(&self) -> Result<Duration, sea_orm::DbErr> {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT CAST(CASE WHEN NOT pg_is_in_recovery() \
                   OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 \
                   ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 1e9) \
                 END AS DOUBLE PRECISION) AS lag",
            ))
            .await?
            .ok_or_else(|| sea_orm::DbErr::Custom("no answer".into()))?;
        let seconds: f64 = row.try_get("", "lag")?;
        Ok(Duration::from_secs_f64(seconds.clamp(0.0, 1e9)))
    }

    /// Checks the replica now: its health, remembered for [`CHECK_EVERY`].
    pub async fn check(&self) -> Health {
        let health = match self.lag().await {
            Ok(lag) => {
                self.lag_ms.store(
                    lag.as_millis().min(u64::MAX as u128) as u64,
                    Ordering::Relaxed,
                );
                if lag <= self.max_lag {
                    Health::Ok
                } else {
                    Health::Lagging
                }
            }
            Err(_) => {
                self.lag_ms.store(u64::MAX, Ordering::Relaxed);
                Health::Down
            }
        };
        *self.checked.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), health == Health::Ok));
        health
    }

    /// The connection a replica-safe read should use: the replica when it is usable, else
    /// `primary` (logged and counted).
    pub async fn reader<'a>(&'a self, primary: &'a DatabaseConnection) -> &'a DatabaseConnection {
        let recent = *self.checked.lock().unwrap_or_else(|e| e.into_inner());
        let usable = match recent {
            Some((at, usable)) if at.elapsed() < self.check_every => usable,
            _ => self.check().await == Health::Ok,
        };
        if usable {
            self.reads.fetch_add(1, Ordering::Relaxed);
            if self.warned.swap(false, Ordering::Relaxed) {
                tracing::info!("the read replica is back: reports read it again");
            }
            &self.db
        } else {
            self.fell_back("the read replica is down or lagging: reports read the primary");
            primary
        }
    }

    /// Whether `db` is this replica's connection (what [`Replica::reader`] gave a read).
    pub fn is_replica(&self, db: &DatabaseConnection) -> bool {
        std::ptr::eq(db, &self.db)
    }

    /// A read on the replica failed for a connection reason and is read again from the
    /// primary: the replica counts as down until its next check, and the fallback is counted.
    pub fn failed(&self, err: &dyn std::fmt::Display) {
        *self.checked.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), false));
        self.lag_ms.store(u64::MAX, Ordering::Relaxed);
        // The read was counted as the replica's when it was sent there.
        self.reads.fetch_sub(1, Ordering::Relaxed);
        tracing::warn!(error = %err, "a read failed on the read replica: read again from the primary");
        self.fell_back("the read replica is down: reports read the primary");
    }

    fn fell_back(&self, why: &str) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        if !self.warned.swap(true, Ordering::Relaxed) {
            let lag = self.lag_ms.load(Ordering::Relaxed);
            tracing::warn!(
                lag_ms = if lag == u64::MAX { None } else { Some(lag) },
                max_lag_ms = self.max_lag.as_millis() as u64,
                "{why}"
            );
        }
    }

    /// Prometheus lines: reads served by the replica, reads that fell back, the last lag.
    pub fn metrics(&self) -> String {
        let lag = self.lag_ms.load(Ordering::Relaxed);
        let lag = if lag == u64::MAX {
            "NaN".to_owned()
        } else {
            format!("{}", lag as f64 / 1000.0)
        };
        format!(
            "# HELP fathom_replica_reads_total Reads answered by the read replica.\n\
             # TYPE fathom_replica_reads_total counter\n\
             fathom_replica_reads_total {}\n\
             # HELP fathom_replica_fallbacks_total Replica-safe reads sent to the primary because the replica was down or lagging.\n\
             # TYPE fathom_replica_fallbacks_total counter\n\
             fathom_replica_fallbacks_total {}\n\
             # HELP fathom_replica_lag_seconds The read replica's lag at its last check (NaN: unreachable).\n\
             # TYPE fathom_replica_lag_seconds gauge\n\
             fathom_replica_lag_seconds {lag}\n",
            self.reads.load(Ordering::Relaxed),
            self.fallbacks.load(Ordering::Relaxed),
        )
    }
}
