//! What `GET /metrics` shows, in Prometheus' text format (through `metrics-exporter-prometheus`).
//!
//! Each router has a recorder of its own (not the process-wide one of the `metrics` crate), so
//! that several servers in one process — the tests — do not count each other's requests.
//! Durations are histograms with fixed buckets, so that they add up across servers.
//!
//! Labels are bounded: `operation` is the operation's name when it is a plain GraphQL name of
//! at most 64 characters and one of the first [`MAX_OPERATION_NAMES`] seen, `anonymous` for an
//! unnamed operation, `other` past that, and `unknown` for a request refused before its
//! operation was read (no valid token, a body that is not a GraphQL request); `outcome` is `ok`
//! or the `extensions.code` of the first error, from the closed list of codes.
//!
//! Gauges that describe the present — connections of the database pool, the lag of scheduled
//! events — are computed when `/metrics` is read, with one cheap query.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::metrics::{Counter, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use sea_orm::{DatabaseConnection, DatabaseConnectionType};

use crate::service::{base::clock, billing::pass::PassReport, lifecycle::scheduled};

/// How many distinct operation names get a series of their own.
pub const MAX_OPERATION_NAMES: usize = 200;

const REQUEST_DURATION: &str = "fathom_graphql_request_duration_seconds";
const BILLING_PASS_DURATION: &str = "fathom_billing_pass_duration_seconds";
const POOL_CONNECTIONS: &str = "fathom_db_pool_connections";
const POOL_MAX: &str = "fathom_db_pool_max_connections";
const SCHEDULED_LAG: &str = "fathom_scheduled_event_lag_seconds";
const BILLING_LAST_PASS: &str = "fathom_billing_last_pass_timestamp_seconds";

/// Request durations: 1 ms to 10 s (the request timeout's default).
const REQUEST_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Billing passes: a second to an hour.
const BILLING_BUCKETS: &[f64] = &[1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0];

/// Histogram samples kept before they are folded into their buckets (they are also folded at
/// every scrape): bounds the memory of a server nobody scrapes.
const UPKEEP_EVERY: u64 = 4096;

pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    requests: Counter,
    operations: Counter,
    errors: Counter,
    unauthenticated: Counter,
    rate_limited: Counter,
    relation_batches_counter: Counter,
    accounts_billed: Counter,
    accounts_failed: Counter,
    /// Counted by the relation loader (a plain atomic, shared with it).
    pub relation_batches: Arc<AtomicU64>,
    names: Mutex<HashSet<String>>,
    samples: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.into()), REQUEST_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(BILLING_PASS_DURATION.into()),
                    BILLING_BUCKETS,
                )
            })
            .expect("bucket lists are not empty")
            .build_recorder();
        let handle = recorder.handle();
        let (
            requests,
            operations,
            errors,
            unauthenticated,
            rate_limited,
            relation_batches_counter,
            accounts_billed,
            accounts_failed,
        ) = metrics::with_local_recorder(&recorder, || {
            describe();
            (
                metrics::counter!("fathom_http_requests_total"),
                metrics::counter!("fathom_graphql_operations_total"),
                metrics::counter!("fathom_graphql_errors_total"),
                metrics::counter!("fathom_unauthenticated_total"),
                metrics::counter!("fathom_rate_limited_total"),
                metrics::counter!("fathom_relation_batches_total"),
                metrics::counter!("fathom_billing_accounts_billed_total"),
                metrics::counter!("fathom_billing_accounts_failed_total"),
            )
        });
        Metrics {
            recorder,
            handle,
            requests,
            operations,
            errors,
            unauthenticated,
            rate_limited,
            relation_batches_counter,
            accounts_billed,
            accounts_failed,
            relation_batches: Arc::new(AtomicU64::new(0)),
            names: Mutex::new(HashSet::new()),
            samples: AtomicU64::new(0),
        }
    }

    /// A GraphQL request arrived (a batch counts once).
    pub fn request(&self) {
        self.requests.increment(1);
    }

    /// A request was refused for want of a valid token.
    pub fn unauthenticated(&self) {
        self.unauthenticated.increment(1);
    }

    /// A request was refused by the per-token rate limit.
    pub fn rate_limited(&self) {
        self.rate_limited.increment(1);
    }

    /// One operation was answered: `operation` is a label from [`Metrics::operation_label`],
    /// `outcome` `ok` or an error code.
    pub fn operation(&self, operation: &str, outcome: &str, elapsed: Duration) {
        self.operations.increment(1);
        if outcome != "ok" {
            self.errors.increment(1);
        }
        self.observe_request(operation, outcome, elapsed);
    }

    /// A query the read compiler planned was answered by its one statement (`true`) or, having
    /// fallen back, by the general resolvers (`false`).
    pub fn compiled_read(&self, answered: bool) {
        let outcome = if answered { "compiled" } else { "fallback" };
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!("fathom_compiled_reads_total", "outcome" => outcome).increment(1);
        });
    }

    /// A request refused before any of its operations ran: timed, not counted as an operation.
    pub fn refused(&self, operation: &str, outcome: &str, elapsed: Duration) {
        self.observe_request(operation, outcome, elapsed);
    }

    fn observe_request(&self, operation: &str, outcome: &str, elapsed: Duration) {
        let outcome = outcome_label(outcome);
        metrics::with_local_recorder(&self.recorder, || {
            metrics::histogram!(
                REQUEST_DURATION,
                "operation" => operation.to_owned(),
                "outcome" => outcome.to_owned()
            )
            .record(elapsed.as_secs_f64());
        });
        self.sampled();
    }

    /// The label for an operation named `name` (`None`: unnamed).
    pub fn operation_label(&self, name: Option<&str>) -> String {
        let Some(name) = name else {
            return "anonymous".into();
        };
        if !is_plain_name(name) {
            return "other".into();
        }
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        if names.contains(name) {
            return name.to_owned();
        }
        if names.len() < MAX_OPERATION_NAMES {
            names.insert(name.to_owned());
            return name.to_owned();
        }
        "other".into()
    }

    /// A billing pass finished (`report` is `None` when it failed as a whole).
    pub fn billing_pass(&self, elapsed: Duration, report: Option<&PassReport>) {
        let outcome = if report.is_some() { "ok" } else { "failed" };
        if let Some(report) = report {
            self.accounts_billed.increment(report.accounts_billed);
            self.accounts_failed.increment(report.failed);
        }
        let now = chrono::Utc::now().timestamp() as f64;
        metrics::with_local_recorder(&self.recorder, || {
            metrics::histogram!(BILLING_PASS_DURATION).record(elapsed.as_secs_f64());
            metrics::counter!("fathom_billing_passes_total", "outcome" => outcome).increment(1);
            if report.is_some() {
                metrics::gauge!(BILLING_LAST_PASS).set(now);
            }
        });
        self.sampled();
    }

    fn sampled(&self) {
        if self.samples.fetch_add(1, Ordering::Relaxed) % UPKEEP_EVERY == UPKEEP_EVERY - 1 {
            self.handle.run_upkeep();
        }
    }

    /// The text for `GET /metrics`; the gauges of the present are computed first.
    pub async fn render(&self, db: &DatabaseConnection) -> String {
        self.relation_batches_counter
            .absolute(self.relation_batches.load(Ordering::Relaxed));
        let pool = pool_state(db);
        let lag = match scheduled::oldest_due(db, clock::now()).await {
            Ok(oldest) => Some(
                oldest
                    .map(|at| (clock::now() - at).num_milliseconds().max(0) as f64 / 1000.0)
                    .unwrap_or(0.0),
            ),
            Err(err) => {
                tracing::warn!(error = %err, "metrics: reading the scheduled-event lag failed");
                None
            }
        };
        metrics::with_local_recorder(&self.recorder, || {
            if let Some(pool) = pool {
                metrics::gauge!(POOL_CONNECTIONS, "state" => "in_use").set(pool.in_use as f64);
                metrics::gauge!(POOL_CONNECTIONS, "state" => "idle").set(pool.idle as f64);
                metrics::gauge!(POOL_MAX).set(pool.max as f64);
            }
            if let Some(lag) = lag {
                metrics::gauge!(SCHEDULED_LAG).set(lag);
            }
        });
        self.handle.render()
    }
}

/// The HELP text and unit of every series.
fn describe() {
    metrics::describe_counter!(
        "fathom_http_requests_total",
        "GraphQL requests received at /api/graphql (a batch counts once)"
    );
    metrics::describe_counter!(
        "fathom_graphql_operations_total",
        "GraphQL operations answered (each operation of a batch counts)"
    );
    metrics::describe_counter!(
        "fathom_graphql_errors_total",
        "GraphQL operations answered with at least one error"
    );
    metrics::describe_counter!(
        "fathom_unauthenticated_total",
        "Requests refused for want of a valid personal access token (UNAUTHENTICATED)"
    );
    metrics::describe_counter!(
        "fathom_rate_limited_total",
        "Requests refused by the per-token rate limit (RATE_LIMITED, HTTP 429)"
    );
    metrics::describe_counter!(
        "fathom_relation_batches_total",
        "Batched relation queries run by the relation loader"
    );
    metrics::describe_counter!(
        "fathom_compiled_reads_total",
        "Queries the read compiler planned, by outcome: compiled (one statement answered) or fallback (the general resolvers answered)"
    );
    metrics::describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "Time to answer a GraphQL operation (a request, or one operation of a batch), by operation name and outcome (ok or the error code)"
    );
    metrics::describe_gauge!(
        POOL_CONNECTIONS,
        "Database pool connections, by state (in_use, idle)"
    );
    metrics::describe_gauge!(POOL_MAX, "Most connections the database pool opens");
    metrics::describe_gauge!(
        SCHEDULED_LAG,
        Unit::Seconds,
        "Age of the oldest pending scheduled event that is due (0 when none is)"
    );
    metrics::describe_histogram!(
        BILLING_PASS_DURATION,
        Unit::Seconds,
        "Duration of the worker's billing passes"
    );
    metrics::describe_counter!(
        "fathom_billing_passes_total",
        "Billing passes run by the worker, by outcome (ok, failed)"
    );
    metrics::describe_counter!(
        "fathom_billing_accounts_billed_total",
        "Accounts billed by the worker's billing passes"
    );
    metrics::describe_counter!(
        "fathom_billing_accounts_failed_total",
        "Accounts whose billing failed in a pass (retried by the next pass)"
    );
    metrics::describe_gauge!(
        BILLING_LAST_PASS,
        Unit::Seconds,
        "When the last successful billing pass finished, in seconds since the Unix epoch"
    );
}

struct PoolState {
    in_use: u32,
    idle: u32,
    max: u32,
}

fn pool_state(db: &DatabaseConnection) -> Option<PoolState> {
    let (size, idle, max) = match &db.inner {
        DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        DatabaseConnectionType::SqlxSqlitePoolConnection(_) => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        _ => return None,
    };
    let idle = u32::try_from(idle).unwrap_or(u32::MAX).min(size);
    Some(PoolState {
        in_use: size - idle,
        idle,
        max,
    })
}

/// The outcome of an answered operation: `ok`, or the code of its first error.
pub fn outcome(response: &async_graphql::Response) -> &str {
    match response.errors.first() {
        None => "ok",
        Some(err) => match err.extensions.as_ref().and_then(|ext| ext.get("code")) {
            Some(async_graphql::Value::String(code)) => code.as_str(),
            _ => "INTERNAL",
        },
    }
}

/// `[A-Za-z_][A-Za-z0-9_]{0,63}`: a GraphQL name of at most 64 characters.
fn is_plain_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && (bytes[0].is_ascii_alphabetic() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// `ok`, or an error code (`[A-Z_]`, at most 32 characters); anything else is `other`.
fn outcome_label(outcome: &str) -> &str {
    let plain = !outcome.is_empty()
        && outcome.len() <= 32
        && outcome.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
    if outcome == "ok" || plain {
        outcome
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_plain_bounded_and_capped() {
        let metrics = Metrics::new();
        assert_eq!(metrics.operation_label(None), "anonymous");
        assert_eq!(metrics.operation_label(Some("GetAccounts")), "GetAccounts");
        assert_eq!(metrics.operation_label(Some("_x9")), "_x9");
        assert_eq!(metrics.operation_label(Some("9lives")), "other");
        assert_eq!(metrics.operation_label(Some("has space")), "other");
        assert_eq!(metrics.operation_label(Some("a\"}")), "other");
        assert_eq!(
            metrics.operation_label(Some(&"a".repeat(64))),
            "a".repeat(64)
        );
        assert_eq!(metrics.operation_label(Some(&"a".repeat(65))), "other");
        for i in 0..MAX_OPERATION_NAMES {
            metrics.operation_label(Some(&format!("op{i}")));
        }
        assert_eq!(metrics.operation_label(Some("oneTooMany")), "other");
        // Names seen before the cap keep their series.
        assert_eq!(metrics.operation_label(Some("GetAccounts")), "GetAccounts");
    }

    #[test]
    fn outcomes_are_ok_or_a_code() {
        assert_eq!(outcome_label("ok"), "ok");
        assert_eq!(outcome_label("NOT_FOUND"), "NOT_FOUND");
        assert_eq!(outcome_label("not a code"), "other");
        assert_eq!(outcome_label(""), "other");
    }
}
