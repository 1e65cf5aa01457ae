//! Configuration from flags and the environment (DESIGN §2, §7).

use crate::service::webhooks::endpoints;
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database URL: `sqlite://path?mode=rwc` (embedded default) or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://fathom.db?mode=rwc",
        global = true
    )]
    pub database_url: String,
    /// Address the HTTP server binds to.
    #[arg(
        long,
        env = "FATHOM_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: String,
    /// Log filter (tracing-subscriber syntax).
    #[arg(long, env = "FATHOM_LOG", default_value = "info", global = true)]
    pub log: String,
    /// Log format: `text` for people, `json` (one object per line) for log collectors.
    #[arg(
        long,
        env = "FATHOM_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text,
        global = true
    )]
    pub log_format: LogFormat,
    /// Comma-separated front-end origins allowed to call the API (CORS). None by default.
    #[arg(long, env = "FATHOM_CORS_ORIGINS", default_value = "", global = true)]
    pub cors_origins: String,
    /// Answer the queries the read compiler understands with one SQL statement each
    /// (`false`: every request goes through the general resolvers, e.g. to compare the two).
    #[arg(
        long,
        env = "FATHOM_COMPILED_READS",
        default_value_t = true,
        action = clap::ArgAction::Set,
        global = true
    )]
    pub compiled_reads: bool,
    /// The background jobs `serve` runs: a comma-separated list of `scheduler` (due scheduled
    /// events), `billing` (the daily billing pass), `delinquency` (the daily delinquency pass)
    /// and `webhooks` (delivery); `all` or `none`.
    /// With several servers, choose where each runs (any number of instances may run each:
    /// they share the work without doing any twice).
    #[arg(long, env = "FATHOM_JOBS", default_value = "all", global = true)]
    pub jobs: String,
    /// A PostgreSQL streaming replica for the Activations & Disconnections report
    /// (`crates/core/src/replica.rs`); none by default.
    #[arg(long, env = "FATHOM_READ_REPLICA_URL", global = true)]
    pub read_replica_url: Option<String>,
    /// Seconds a replica may lag before reports read the primary instead.
    #[arg(
        long,
        env = "FATHOM_MAX_REPLICA_LAG",
        default_value_t = 30,
        global = true
    )]
    pub max_replica_lag: u64,
    /// How long, in seconds, a check of the read replica's health stands before the next read
    /// checks it again. A replica that dies in between is noticed by the read that fails on it,
    /// which is then read from the primary.
    #[arg(
        long,
        env = "FATHOM_REPLICA_CHECK_SECS",
        default_value_t = 2,
        global = true
    )]
    pub replica_check_secs: u64,
    /// Accounts a disconnection run's worker disconnects in one transaction (1 to 1,000), in
    /// `serve`'s scheduler and `run-scheduled`: smaller batches show a run's progress sooner and
    /// hold fewer accounts locked; larger ones commit less often.
    #[arg(
        long,
        env = "FATHOM_DISCONNECTION_RUN_BATCH",
        default_value_t = crate::service::lifecycle::disconnection_runs::DEFAULT_BATCH,
        value_parser = clap::value_parser!(u64).range(1..=1000),
        global = true
    )]
    pub disconnection_run_batch: u64,
    /// Database connections per server (PostgreSQL; SQLite uses 4 for reads and 2 for writes).
    /// By default twice the cores this process may use, 4 to 32 ([`default_pool_size`]).
    #[arg(long, env = "FATHOM_DB_POOL_SIZE", default_value_t = default_pool_size(), global = true)]
    pub db_pool_size: u32,
    #[command(flatten)]
    pub limits: Limits,
}

/// Which background jobs a server runs ([`Config::jobs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jobs {
    pub scheduler: bool,
    pub billing: bool,
    pub delinquency: bool,
    pub webhooks: bool,
}

impl Jobs {
    pub const ALL: Jobs = Jobs {
        scheduler: true,
        billing: true,
        delinquency: true,
        webhooks: true,
    };

    /// Parses `FATHOM_JOBS`; an unknown name is an error naming the known ones.
    pub fn parse(text: &str) -> Result<Jobs, String> {
        let mut jobs = Jobs {
            scheduler: false,
            billing: false,
            delinquency: false,
            webhooks: false,
        };
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "all" => jobs = Jobs::ALL,
                "none" => {}
                "scheduler" => jobs.scheduler = true,
                "billing" => jobs.billing = true,
                "delinquency" => jobs.delinquency = true,
                "webhooks" => jobs.webhooks = true,
                other => {
                    return Err(format!(
                        "unknown job {other:?} in FATHOM_JOBS: use scheduler, billing, delinquency, webhooks, all or none"
                    ))
                }
            }
        }
        Ok(jobs)
    }
}

/// How log lines are written (`FATHOM_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, the event's fields at the top level.
    Json,
}

/// Request limits; all on by default.
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Maximum query depth.
    #[arg(long, env = "FATHOM_MAX_DEPTH", default_value_t = 20, global = true)]
    pub max_depth: usize,
    /// Maximum query complexity (a connection costs records_per_page × its selection).
    #[arg(
        long,
        env = "FATHOM_MAX_COMPLEXITY",
        default_value_t = 1_000_000,
        global = true
    )]
    pub max_complexity: usize,
    /// Maximum directives on one field.
    #[arg(
        long,
        env = "FATHOM_MAX_DIRECTIVES",
        default_value_t = 5,
        global = true
    )]
    pub max_directives: usize,
    /// Maximum request body, in bytes.
    #[arg(long, env = "FATHOM_MAX_BODY_BYTES", default_value_t = 1024 * 1024, global = true)]
    pub max_body_bytes: usize,
    /// Maximum operations in one batched request.
    #[arg(long, env = "FATHOM_MAX_BATCH", default_value_t = 10, global = true)]
    pub max_batch: usize,
    /// Request timeout, in seconds.
    #[arg(
        long,
        env = "FATHOM_REQUEST_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub request_timeout_secs: u64,
    /// Sustained GraphQL operations per minute per personal access token (0: no limit).
    #[arg(
        long,
        env = "FATHOM_RATE_LIMIT_PER_MINUTE",
        default_value_t = 1200,
        global = true
    )]
    pub rate_limit_per_minute: u32,
    /// Operations a token may send at once before the sustained rate applies.
    #[arg(
        long,
        env = "FATHOM_RATE_LIMIT_BURST",
        default_value_t = 600,
        global = true
    )]
    pub rate_limit_burst: u32,
    #[command(flatten)]
    pub webhooks: WebhookOptions,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 20,
            max_complexity: 1_000_000,
            max_directives: 5,
            max_body_bytes: 1024 * 1024,
            max_batch: 10,
            request_timeout_secs: 10,
            rate_limit_per_minute: 1200,
            rate_limit_burst: 600,
            webhooks: WebhookOptions::default(),
        }
    }
}

/// Where webhooks may be sent (DESIGN §5). Both are off in production: endpoints are
/// `https://` and public. Tests, and receivers on a private network, turn them on.
#[derive(Debug, Clone, Default, Args)]
pub struct WebhookOptions {
    /// Allow `http://` webhook endpoints.
    #[arg(
        long = "webhook-allow-http",
        env = "FATHOM_WEBHOOK_ALLOW_HTTP",
        default_value_t = false,
        action = clap::ArgAction::Set,
        global = true
    )]
    pub allow_http: bool,
    /// Allow webhook endpoints on loopback, private, link-local and metadata addresses.
    #[arg(
        long = "webhook-allow-private",
        env = "FATHOM_WEBHOOK_ALLOW_PRIVATE",
        default_value_t = false,
        action = clap::ArgAction::Set,
        global = true
    )]
    pub allow_private: bool,
}

impl WebhookOptions {
    pub fn policy(&self) -> endpoints::Policy {
        endpoints::Policy {
            allow_http: self.allow_http,
            allow_private: self.allow_private,
        }
    }
}

impl Limits {
    /// How long one database statement may run while serving: a second past the request
    /// timeout, so that the query of a request that timed out stops too.
    pub fn statement_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.request_timeout_secs.saturating_add(1))
    }
}

impl Config {
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Config {
            database_url: database_url.into(),
            bind: "127.0.0.1:0".into(),
            log: "info".into(),
            log_format: LogFormat::Text,
            cors_origins: String::new(),
            compiled_reads: true,
            jobs: "all".into(),
            read_replica_url: None,
            max_replica_lag: 30,
            replica_check_secs: 2,
            disconnection_run_batch: crate::service::lifecycle::disconnection_runs::DEFAULT_BATCH,
            db_pool_size: default_pool_size(),
            limits: Limits::default(),
        }
    }

    pub fn cors_origin_list(&self) -> Vec<String> {
        self.cors_origins
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }
}

/// PostgreSQL connections per server when `FATHOM_DB_POOL_SIZE` is not set: twice the cores
/// this process may use, at least 4 and at most 32. More connections than the machine can run
/// at once only make the database's backends take turns: on 2 cores, 16 connections under 16
/// clients cost PostgreSQL 0.21–0.24 ms of CPU per compiled read against 0.16–0.17 ms with 4,
/// and answered 4,900–5,400 reads a second against 6,100–6,400 (bench/RESULTS.md, issue 32).
/// Requests beyond the pool wait for a connection in the server, which costs nothing.
pub fn default_pool_size() -> u32 {
    std::thread::available_parallelism()
        .map_or(4, |n| {
            u32::try_from(n.get()).unwrap_or(16).saturating_mul(2)
        })
        .clamp(4, 32)
}
