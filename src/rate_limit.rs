//! The per-token rate limit: a token bucket per personal access token, in memory (each fathom
//! server keeps its own; behind a load balancer the limit applies per server).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<i64, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_minute` sustained operations, `burst` at once; `per_minute == 0` disables it.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        RateLimiter {
            per_second: per_minute as f64 / 60.0,
            burst: burst.max(1) as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `cost` operations from `token_id`'s bucket, or says how long to wait.
    pub fn check(&self, token_id: i64, cost: u32) -> Result<(), Duration> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 100_000 {
            // Forget idle tokens rather than grow without bound.
            buckets.retain(|_, (_, seen)| now.duration_since(*seen) < Duration::from_secs(3600));
        }
        let (tokens, last) = buckets.entry(token_id).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        // A batch larger than the burst could never pass: it costs the whole burst instead.
        let cost = (cost as f64).min(self.burst);
        if *tokens >= cost {
            *tokens -= cost;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((cost - *tokens) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_next_request_waits() {
        let limiter = RateLimiter::new(60, 3);
        for _ in 0..3 {
            assert!(limiter.check(1, 1).is_ok());
        }
        let wait = limiter.check(1, 1).unwrap_err();
        assert!(
            wait <= Duration::from_secs(1) && wait > Duration::from_millis(900),
            "{wait:?}"
        );
        // Another token has its own bucket.
        assert!(limiter.check(2, 1).is_ok());
    }

    #[test]
    fn a_zero_rate_means_no_limit() {
        let limiter = RateLimiter::new(0, 1);
        for _ in 0..1000 {
            assert!(limiter.check(1, 1).is_ok());
        }
    }
}
