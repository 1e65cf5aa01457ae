//! The report's figures from the tallies the database keeps (migration 18): per quarter hour
//! and company, the activations and win-backs, the disconnections by reason with their lost
//! MRR, and the status changes by previous and current status, each with all-time rows. A
//! summary costs three grouped statements over the period's quarter hours (and, for the
//! accounts active at its start, those after it), whatever the number of accounts.

use sea_orm::ConnectionTrait;

use migration::m20261207_000018_maintained_counts::{ALL_TIME, TALLY_SECONDS};

use super::{Binds, Bucket, DisconnectionGroup, Parts, Period, Table};
use crate::error::AppResult;
use crate::service::base::settings;

/// Whether the tallies can answer for the period: its bounds and its months' bounds all fall
/// on a tally's quarter hour.
pub(super) fn usable(period: &Period, buckets: &[Bucket]) -> bool {
    let on_bucket = |t: &chrono::DateTime<chrono::Utc>| {
        t.timestamp().rem_euclid(TALLY_SECONDS) == 0 && t.timestamp_subsec_nanos() == 0
    };
    on_bucket(&period.from)
        && on_bucket(&period.to)
        && buckets
            .iter()
            .all(|(_, from, to)| on_bucket(from) && on_bucket(to))
}

/// ` AND company_id = …` when the period names a company.
fn company(binds: &mut Binds, period: &Period) -> String {
    match period.company_id {
        Some(id) => format!(" AND company_id = {}", binds.bind(id)),
        None => String::new(),
    }
}

/// Where a tally row falls: `-1` all time, `-2` after the period, else its month.
fn place(binds: &mut Binds, buckets: &[Bucket], to: &str) -> String {
    let month = binds.month_of_bucket(buckets);
    format!("CAST(CASE WHEN bucket = {ALL_TIME} THEN -1 WHEN bucket >= {to} THEN -2 ELSE {month} END AS BIGINT)")
}

pub(super) async fn parts<C: ConnectionTrait>(
    db: &C,
    settings: &settings::Snapshot,
    buckets: &[Bucket],
    period: &Period,
    with_churn: bool,
) -> AppResult<Parts> {
    let backend = db.get_database_backend();
    let n = buckets.len();
    let mut parts = Parts {
        activations: vec![0; n],
        disconnections: vec![0; n],
        active: vec![0; n],
        win_backs: vec![0; n],
        groups: Vec::new(),
    };

    // Activations and win-backs per month; with churn, all time and after the period too.
    let mut binds = Binds::new(backend);
    let (from, to) = (
        binds.bind(period.from.timestamp()),
        binds.bind(period.to.timestamp()),
    );
    let place_of = place(&mut binds, buckets, &to);
    let company_is = company(&mut binds, period);
    let rows = if with_churn {
        format!("(bucket = {ALL_TIME} OR bucket >= {from})")
    } else {
        format!("bucket >= {from} AND bucket < {to}")
    };
    let sql = format!(
        "SELECT {place_of} AS m, CAST(SUM(activations) AS BIGINT) AS a, CAST(SUM(win_backs) AS BIGINT) AS w \
         FROM report_activation_tallies WHERE {rows}{company_is} GROUP BY 1"
    );
    let (mut all_time, mut after) = (0i64, 0i64);
    for row in db.query_all_raw(binds.statement(sql)).await? {
        let m: i64 = row.try_get("", "m")?;
        let a: i64 = row.try_get("", "a")?;
        let w: i64 = row.try_get("", "w")?;
        match m {
            -1 => all_time = a,
            -2 => after = a,
            m => {
                if let Some(i) = usize::try_from(m).ok().filter(|i| *i < n) {
                    parts.activations[i] += a;
                    if with_churn {
                        parts.win_backs[i] += w;
                    }
                }
            }
        }
    }
    let activated_before = all_time - after - parts.activations.iter().sum::<i64>();

    // Disconnections per month, by reason and for non-payment or not.
    let mut binds = Binds::new(backend);
    let (from, to) = (
        binds.bind(period.from.timestamp()),
        binds.bind(period.to.timestamp()),
    );
    let month = binds.month_of_bucket(buckets);
    let company_is = company(&mut binds, period);
    let sql = format!(
        "SELECT CAST({month} AS BIGINT) AS m, reason_id, for_non_payment, \
         CAST(SUM(disconnections) AS BIGINT) AS n, CAST(SUM(lost_mrr) AS BIGINT) AS mrr \
         FROM report_disconnection_tallies WHERE bucket >= {from} AND bucket < {to}{company_is} GROUP BY 1, 2, 3"
    );
    for row in db.query_all_raw(binds.statement(sql)).await? {
        let m: i64 = row.try_get("", "m")?;
        let Some(i) = usize::try_from(m).ok().filter(|i| *i < n) else {
            continue;
        };
        let reason: i64 = row.try_get("", "reason_id")?;
        let count: i64 = row.try_get("", "n")?;
        parts.disconnections[i] += count;
        if with_churn {
            let reason_id = (reason != 0).then_some(reason);
            parts.groups.push(DisconnectionGroup {
                bucket: i,
                reason_id,
                voluntary: reason_id
                    .and_then(|id| settings.disconnection_reason(id))
                    .map(|r| r.voluntary),
                for_non_payment: row.try_get("", "for_non_payment")?,
                count,
                mrr: row.try_get("", "mrr")?,
            });
        }
    }
    if !with_churn {
        return Ok(parts);
    }

    // Status changes out of an activating status, per month, all time and after the period:
    // with the activations, the accounts active at the start of each month.
    let activating: Vec<String> = settings
        .activating()
        .iter()
        .map(|id| id.to_string())
        .collect();
    let left = |previous: &str, current: &str| {
        activating.iter().any(|a| a == previous) && !activating.iter().any(|a| a == current)
    };
    let mut binds = Binds::new(backend);
    let (from, to) = (
        binds.bind(period.from.timestamp()),
        binds.bind(period.to.timestamp()),
    );
    let place_of = place(&mut binds, buckets, &to);
    let company_is = company(&mut binds, period);
    let sql = format!(
        "SELECT {place_of} AS m, previous_status, current_status, CAST(SUM(n) AS BIGINT) AS n \
         FROM report_status_tallies WHERE (bucket = {ALL_TIME} OR bucket >= {from}){company_is} GROUP BY 1, 2, 3"
    );
    let mut left_in = vec![0i64; n];
    let (mut left_all_time, mut left_after) = (0i64, 0i64);
    for row in db.query_all_raw(binds.statement(sql)).await? {
        let previous: String = row.try_get("", "previous_status")?;
        let current: String = row.try_get("", "current_status")?;
        if !left(&previous, &current) {
            continue;
        }
        let m: i64 = row.try_get("", "m")?;
        let count: i64 = row.try_get("", "n")?;
        match m {
            -1 => left_all_time += count,
            -2 => left_after += count,
            m => {
                if let Some(i) = usize::try_from(m).ok().filter(|i| *i < n) {
                    left_in[i] += count;
                }
            }
        }
    }
    let left_before = left_all_time - left_after - left_in.iter().sum::<i64>();
    let mut active = activated_before - left_before;
    for ((slot, activated), left) in parts
        .active
        .iter_mut()
        .zip(&parts.activations)
        .zip(&left_in)
    {
        *slot = active;
        active += activated - left;
    }
    Ok(parts)
}

/// The number of rows of `table` in the period.
pub(super) async fn total<C: ConnectionTrait>(
    db: &C,
    period: &Period,
    table: Table,
) -> AppResult<u64> {
    let (tally, column) = match table {
        Table::Activations => ("report_activation_tallies", "activations"),
        Table::Disconnections => ("report_disconnection_tallies", "disconnections"),
    };
    let mut binds = Binds::new(db.get_database_backend());
    let (from, to) = (
        binds.bind(period.from.timestamp()),
        binds.bind(period.to.timestamp()),
    );
    let company_is = company(&mut binds, period);
    let sql = format!(
        "SELECT CAST(COALESCE(SUM({column}), 0) AS BIGINT) AS n FROM {tally} \
         WHERE bucket >= {from} AND bucket < {to}{company_is}"
    );
    let n: i64 = match db.query_one_raw(binds.statement(sql)).await? {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    Ok(n.max(0) as u64)
}
