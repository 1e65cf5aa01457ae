//! The clock: the current instant, which tests and replays can fix for a task.

use chrono::{DateTime, SubsecRound, Utc};

tokio::task_local! {
    /// A fixed "now" for the work done inside [`at_instant`] (tests, and replays of the past).
    static FIXED_NOW: DateTime<Utc>;
}

/// The current instant, to the microsecond (what both databases keep).
pub fn now() -> DateTime<Utc> {
    FIXED_NOW
        .try_with(|t| *t)
        .unwrap_or_else(|_| Utc::now())
        .trunc_subsecs(6)
}

/// The instant [`now`] is fixed at in this task, if any (to carry it onto a spawned task).
pub fn fixed_now() -> Option<DateTime<Utc>> {
    FIXED_NOW.try_with(|t| *t).ok()
}

/// Runs `work` with [`now`] fixed at `instant`.
pub async fn at_instant<F: std::future::Future>(instant: DateTime<Utc>, work: F) -> F::Output {
    FIXED_NOW.scope(instant, work).await
}
