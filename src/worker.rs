//! The background work of `serve` (and `fathom run-scheduled`): the daily billing pass, the
//! daily delinquency pass, scheduled events as they fall due, webhook delivery, and folding
//! the kept counts' shards every minute.
//!
//! The pass is idempotent, so the worker simply runs it for the local "today" at start and
//! then every hour; only the first run of a day finds anything to bill. The same hourly loop
//! deletes idempotency keys older than 24 hours. The scheduler sleeps until the next event is
//! due (at most [`MAX_SCHEDULER_SLEEP`]), or until events change in this process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::DatabaseConnection;

use crate::config::Jobs;
use crate::metrics::Metrics;
use crate::service::{
    base::{clock::now, idempotency, kept_counts, settings},
    billing::pass,
    lifecycle::{delinquency, disconnection_runs, scheduled},
    webhooks::delivery::{self, Delivery},
};

pub const BILLING_INTERVAL: Duration = Duration::from_secs(3600);

/// Starts the scheduler, webhook delivery and the billing loop, those of them `jobs` names;
/// the billing passes are recorded in `metrics`; disconnection runs go `run_batch` accounts to a
/// transaction.
pub fn spawn(
    db: DatabaseConnection,
    metrics: Arc<Metrics>,
    delivery: Delivery,
    jobs: Jobs,
    run_batch: u64,
) {
    if jobs.scheduler {
        tokio::spawn(compaction_loop(db.clone()));
        tokio::spawn(scheduler_loop(db.clone(), scheduled::DEFAULT_BATCH));
        tokio::spawn(disconnection_run_loop(db.clone(), run_batch));
    }
    if jobs.webhooks {
        tokio::spawn(webhook_loop(db.clone(), delivery));
    }
    if jobs.delinquency {
        tokio::spawn(delinquency_loop(db.clone()));
    }
    if jobs.billing {
        spawn_billing(db, metrics);
    }
}

/// Folds the kept counts' shards ([`kept_counts`]) every
/// [`kept_counts::COMPACTION_INTERVAL`], forever (part of the scheduler job; several servers
/// may run it: each fold skips the rows another holds).
pub async fn compaction_loop(db: DatabaseConnection) {
    loop {
        if let Err(err) = kept_counts::compact(&db).await {
            tracing::warn!(error = ?err, "folding the kept counts failed; trying again in a minute");
        }
        tokio::time::sleep(kept_counts::COMPACTION_INTERVAL).await;
    }
}

/// How often the delinquency loop looks at the local date.
pub const DELINQUENCY_POLL: Duration = Duration::from_secs(60);

/// Runs the delinquency pass once for each local date, at start and within
/// [`DELINQUENCY_POLL`] of local midnight, forever; a failed pass is tried again at the next
/// look. Several servers may run it: the pass is exactly once per account and day whoever runs
/// it.
pub async fn delinquency_loop(db: DatabaseConnection) {
    let mut done = None;
    loop {
        match settings::local_date(&db, now()).await {
            Ok(today) if done != Some(today) => match delinquency::run_pass(&db, today).await {
                Ok(report) => {
                    tracing::info!(?report, %today, "delinquency pass");
                    done = Some(today);
                }
                Err(err) => {
                    tracing::error!(error = ?err, "delinquency pass failed; trying again in a minute")
                }
            },
            Ok(_) => {}
            Err(err) => tracing::error!(error = ?err, "reading the local date failed"),
        }
        tokio::time::sleep(DELINQUENCY_POLL).await;
    }
}

/// How often an idle webhook worker looks for due dispatches (one indexed read).
pub const WEBHOOK_POLL: Duration = Duration::from_millis(500);

/// Delivers webhook dispatches as they fall due, forever.
pub async fn webhook_loop(db: DatabaseConnection, delivery: Delivery) {
    loop {
        let busy = match delivery::deliver_due(&db, &delivery, now(), 64).await {
            Ok(report) => {
                if report.failed_attempts > 0 || report.given_up > 0 {
                    tracing::warn!(?report, "webhook deliveries failed");
                }
                report.delivered + report.failed_attempts > 0
            }
            Err(err) => {
                tracing::error!(error = ?err, "delivering webhooks failed");
                false
            }
        };
        if !busy {
            tokio::time::sleep(WEBHOOK_POLL).await;
        }
    }
}

/// Runs due scheduled events forever, `batch` per transaction.
pub async fn scheduler_loop(db: DatabaseConnection, batch: u64) {
    loop {
        let progress = match scheduled::run_due_in(&db, now(), batch).await {
            Ok(report) if report != scheduled::RunReport::default() => {
                tracing::info!(?report, "scheduled events");
                true
            }
            Ok(_) => false,
            Err(err) => {
                tracing::error!(error = ?err, "running scheduled events failed");
                false
            }
        };
        let mut wait = match scheduled::next_due(&db).await {
            Ok(Some(at)) => (at - now())
                .to_std()
                .unwrap_or_default()
                .min(MAX_SCHEDULER_SLEEP),
            _ => MAX_SCHEDULER_SLEEP,
        };
        if !progress {
            // A due event that another server holds, or one this run put off: do not spin.
            wait = wait.max(Duration::from_secs(1));
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = scheduled::changed().notified() => {}
        }
    }
}

/// Carries out due disconnection runs, forever: as long as there are pending items of due runs,
/// batch after batch; then it sleeps until a run is created in this process or
/// [`MAX_SCHEDULER_SLEEP`] passes (a run created through another server, or one scheduled for
/// later, is seen then). Part of the `scheduler` job.
pub async fn disconnection_run_loop(db: DatabaseConnection, batch: u64) {
    loop {
        let workers = disconnection_runs::workers_for(&db);
        match disconnection_runs::run_due_with_workers(&db, now(), batch, workers).await {
            Ok(report) if report != disconnection_runs::RunReport::default() => {
                tracing::info!(?report, "disconnection runs");
            }
            Ok(_) => {}
            Err(err) => tracing::error!(error = ?err, "running disconnection runs failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(MAX_SCHEDULER_SLEEP) => {}
            _ = disconnection_runs::changed().notified() => {}
        }
    }
}

/// The longest the scheduler sleeps without looking again: an event created through another
/// server (one that runs no scheduler, `FATHOM_JOBS`) is seen within this time, since only the
/// process that changed events is woken at once. The look is one indexed statement.
pub const MAX_SCHEDULER_SLEEP: Duration = Duration::from_secs(5);

/// How soon a failed billing pass is tried again.
const BILLING_RETRY: Duration = Duration::from_secs(60);

fn spawn_billing(db: DatabaseConnection, metrics: Arc<Metrics>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let billed = bill_today(&db, &metrics).await;
            if let Err(err) = &billed {
                tracing::error!(error = ?err, "billing pass failed; retrying in a minute");
            }
            // Idempotency keys count for 24 hours; the hourly pass deletes older ones.
            match idempotency::purge_expired(&db, now()).await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "expired idempotency keys deleted"),
                Err(err) => tracing::warn!(error = ?err, "purging idempotency keys failed"),
            }
            // A pass that failed (the database away, say) is tried again soon; each period is
            // billed once whenever the pass runs.
            let wait = match billed {
                Ok(_) => BILLING_INTERVAL,
                Err(_) => BILLING_RETRY,
            };
            tokio::time::sleep(wait).await;
        }
    })
}

/// Runs the billing pass for the local "today", recording its duration and what it billed.
pub async fn bill_today(
    db: &DatabaseConnection,
    metrics: &Metrics,
) -> crate::error::AppResult<pass::PassReport> {
    let started = Instant::now();
    let result = async {
        let today = settings::local_date(db, now()).await?;
        let report = pass::run_pass(db, today).await?;
        if report.accounts_billed > 0 {
            tracing::info!(?report, %today, "billing pass");
        }
        Ok(report)
    }
    .await;
    metrics.billing_pass(started.elapsed(), result.as_ref().ok());
    result
}
