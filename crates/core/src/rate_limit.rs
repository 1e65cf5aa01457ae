//! The per-token rate limit: a token bucket per personal access token (`per_minute` sustained,
//! `burst` at once).
//!
//! On PostgreSQL the bucket is shared by every server on the database (DESIGN §10), in the
//! table `rate_limit_buckets`. A server does not ask the database for every request: it takes
//! permits from the shared bucket in chunks of a fifth of a second's worth (at least what the
//! request costs), by one `INSERT … ON CONFLICT DO UPDATE … RETURNING` that refills the bucket
//! for the time elapsed and grants what it holds, and spends them locally. Every request that
//! passes has spent a permit of the shared bucket, so N servers never allow more than the
//! limit; permits a server took and did not spend (at most a chunk per token per server) are
//! lost, which errs on the side of refusing, by a fifth of a second's worth. At the default
//! 1,200 per minute that is one statement per 4 requests of a token at full rate, and none for
//! a token that has permits left. A read answered by the compiled path keeps its single
//! statement most of the time.
//!
//! On SQLite (one machine) the buckets are in memory, per server.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

/// How far ahead a server takes permits: a fifth of a second's worth.
const CHUNK_SECONDS: f64 = 0.2;

pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    /// The database whose shared buckets count (PostgreSQL), if any.
    shared: Option<DatabaseConnection>,
    /// In memory: the bucket itself (`tokens`, last refill). Shared: the permits this server
    /// holds (`tokens`), and when they were taken.
    buckets: Mutex<HashMap<i64, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_minute` sustained operations, `burst` at once; `per_minute == 0` disables it.
    /// Buckets are in memory.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        RateLimiter {
            per_second: per_minute as f64 / 60.0,
            burst: burst.max(1) as f64,
            shared: None,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Like [`RateLimiter::new`], the buckets shared through `db` when it is PostgreSQL.
    pub fn for_database(per_minute: u32, burst: u32, db: &DatabaseConnection) -> Self {
        let mut limiter = Self::new(per_minute, burst);
        if db.get_database_backend() == DbBackend::Postgres {
            limiter.shared = Some(db.clone());
        }
        limiter
    }

    fn buckets(&self) -> std::sync::MutexGuard<'_, HashMap<i64, (f64, Instant)>> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 100_000 {
            // Forget idle tokens rather than grow without bound.
            let now = Instant::now();
            buckets.retain(|_, (_, seen)| now.duration_since(*seen) < Duration::from_secs(3600));
        }
        buckets
    }

    /// Takes `cost` operations from `token_id`'s bucket, or says how long to wait.
    pub async fn check(&self, token_id: i64, cost: u32) -> Result<(), Duration> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        // A batch larger than the burst could never pass: it costs the whole burst instead.
        let cost = (cost as f64).min(self.burst);
        let Some(db) = &self.shared else {
            return self.check_in_memory(token_id, cost);
        };
        {
            let mut buckets = self.buckets();
            if let Some((held, _)) = buckets.get_mut(&token_id) {
                if *held >= cost {
                    *held -= cost;
                    return Ok(());
                }
            }
        }
        let want = (self.per_second * CHUNK_SECONDS)
            .ceil()
            .max(cost)
            .min(self.burst);
        let (granted, left) = match self.take(db, token_id, want).await {
            Ok(taken) => taken,
            Err(err) => {
                // The database will refuse the request itself if it is down; a limiter that
                // cannot count lets it through rather than refuse every caller.
                tracing::warn!(error = %err, "the shared rate limit could not be read");
                return Ok(());
            }
        };
        let mut buckets = self.buckets();
        let (held, taken_at) = buckets.entry(token_id).or_insert((0.0, Instant::now()));
        *held += granted;
        *taken_at = Instant::now();
        if *held >= cost {
            *held -= cost;
            Ok(())
        } else {
            // The shared bucket's fraction of a permit counts towards the wait.
            let short = (cost - *held - left).max(0.0);
            Err(Duration::from_secs_f64(short / self.per_second))
        }
    }

    fn check_in_memory(&self, token_id: i64, cost: f64) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets();
        let (tokens, last) = buckets.entry(token_id).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= cost {
            *tokens -= cost;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((cost - *tokens) / self.per_second))
        }
    }

    /// Refills `token_id`'s shared bucket for the time since its last refill and takes up to
    /// `want` whole permits from it; what was granted, and what is left in it.
    async fn take(
        &self,
        db: &DatabaseConnection,
        token_id: i64,
        want: f64,
    ) -> Result<(f64, f64), sea_orm::DbErr> {
        let available =
            "LEAST($3, b.tokens + GREATEST(0, EXTRACT(EPOCH FROM now() - b.refilled_at)) * $4)";
        let granted = format!("LEAST($2, FLOOR({available}))");
        let sql = format!(
            "INSERT INTO rate_limit_buckets AS b (token_id, tokens, granted, refilled_at) \
             VALUES ($1, $3 - LEAST($2, $3), LEAST($2, $3), now()) \
             ON CONFLICT (token_id) DO UPDATE SET \
               granted = {granted}, tokens = {available} - {granted}, \
               refilled_at = GREATEST(b.refilled_at, now()) \
             RETURNING granted, tokens"
        );
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                [
                    token_id.into(),
                    want.into(),
                    self.burst.into(),
                    self.per_second.into(),
                ],
            ))
            .await?;
        let Some(row) = row else {
            return Ok((0.0, 0.0));
        };
        let granted: f64 = row.try_get("", "granted")?;
        let left: f64 = row.try_get("", "tokens")?;
        Ok((granted.max(0.0), left.max(0.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_passes_then_the_next_request_waits() {
        let limiter = RateLimiter::new(60, 3);
        for _ in 0..3 {
            assert!(limiter.check(1, 1).await.is_ok());
        }
        let wait = limiter.check(1, 1).await.unwrap_err();
        assert!(
            wait <= Duration::from_secs(1) && wait > Duration::from_millis(900),
            "{wait:?}"
        );
        // Another token has its own bucket.
        assert!(limiter.check(2, 1).await.is_ok());
    }

    #[tokio::test]
    async fn a_zero_rate_means_no_limit() {
        let limiter = RateLimiter::new(0, 1);
        for _ in 0..1000 {
            assert!(limiter.check(1, 1).await.is_ok());
        }
    }
}
