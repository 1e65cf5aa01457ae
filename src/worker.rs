//! The background work of `serve`: the daily billing pass.
//!
//! The pass is idempotent, so the worker simply runs it for the local "today" at start and
//! then every hour; only the first run of a day finds anything to bill.

use std::time::Duration;

use sea_orm::DatabaseConnection;

use crate::service::{billing, now, settings};

pub const BILLING_INTERVAL: Duration = Duration::from_secs(3600);

pub fn spawn(db: DatabaseConnection) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(err) = bill_today(&db).await {
                tracing::error!(error = ?err, "billing pass failed; retrying in an hour");
            }
            tokio::time::sleep(BILLING_INTERVAL).await;
        }
    })
}

async fn bill_today(db: &DatabaseConnection) -> crate::error::AppResult<()> {
    let today = settings::local_date(db, now()).await?;
    let report = billing::run_pass(db, today).await?;
    if report.accounts_billed > 0 {
        tracing::info!(?report, %today, "billing pass");
    }
    Ok(())
}
