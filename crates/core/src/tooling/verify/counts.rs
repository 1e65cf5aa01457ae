//! Kept counts (migration 18): `account_counts` and the report's tallies, summed over their
//! shards, equal a recount of the accounts, account events and disconnection logs they count.
//! Each table is compared with its recount in one grouped statement that returns only the keys
//! that differ.

use sea_orm::{DatabaseConnection, DbBackend};

use migration::m20261207_000018_maintained_counts::{bucket_sql, ALL_TIME};

use super::{each_row, get, Rule, Violation};
use crate::error::AppResult;

/// `(what, statement)`: each statement answers the `key` (text) of each kept row whose counts
/// (`kept`, `kept2`: e.g. disconnections and lost MRR; `kept2` 0 where a table keeps one
/// count) differ from the recount (`recounted`, `recounted2`).
fn statements(pg: bool) -> Vec<(&'static str, String)> {
    let event_bucket = bucket_sql(pg, "e.event_datetime");
    let log_bucket = bucket_sql(pg, "l.disconnected_at");
    let text = |column: &str| format!("CAST({column} AS TEXT)");
    let key = |columns: &[&str]| {
        columns
            .iter()
            .map(|c| text(c))
            .collect::<Vec<_>>()
            .join(" || '/' || ")
    };
    let sums = "CAST(SUM(kept) AS BIGINT) AS kept, CAST(SUM(recounted) AS BIGINT) AS recounted, \
                CAST(SUM(kept2) AS BIGINT) AS kept2, CAST(SUM(recounted2) AS BIGINT) AS recounted2";
    let differ = "HAVING SUM(kept) <> SUM(recounted) OR SUM(kept2) <> SUM(recounted2)";
    let win_back =
        "CASE WHEN EXISTS (SELECT 1 FROM disconnection_logs l WHERE l.account_id = e.account_id \
                    AND l.disconnected_at <= e.event_datetime) THEN 1 ELSE 0 END";
    vec![
        (
            "account_counts (company/status/type/archived)",
            format!(
                "SELECT {k} AS key, {sums} FROM (\
                 SELECT company_id, account_status_id, account_type_id, CASE WHEN archived THEN 1 ELSE 0 END AS archived, \
                 n AS kept, 0 AS recounted, 0 AS kept2, 0 AS recounted2 FROM account_counts \
                 UNION ALL SELECT company_id, account_status_id, account_type_id, \
                 CASE WHEN archived_at IS NULL THEN 0 ELSE 1 END, 0, 1, 0, 0 FROM accounts) x \
                 GROUP BY company_id, account_status_id, account_type_id, archived {differ}",
                k = key(&["company_id", "account_status_id", "account_type_id", "archived"]),
            ),
        ),
        (
            "report_activation_tallies (bucket/company: activations, win-backs)",
            format!(
                "SELECT {k} AS key, {sums} FROM (\
                 SELECT bucket, company_id, activations AS kept, 0 AS recounted, win_backs AS kept2, 0 AS recounted2 \
                 FROM report_activation_tallies \
                 UNION ALL SELECT {event_bucket}, a.company_id, 0, 1, 0, {win_back} \
                 FROM account_events e JOIN accounts a ON a.id = e.account_id WHERE e.event = 'ACTIVATED' \
                 UNION ALL SELECT {ALL_TIME}, a.company_id, 0, 1, 0, 0 \
                 FROM account_events e JOIN accounts a ON a.id = e.account_id WHERE e.event = 'ACTIVATED') x \
                 GROUP BY bucket, company_id {differ}",
                k = key(&["bucket", "company_id"]),
            ),
        ),
        (
            "report_status_tallies (bucket/company/previous/current)",
            format!(
                "SELECT {k} AS key, {sums} FROM (\
                 SELECT bucket, company_id, previous_status, current_status, n AS kept, 0 AS recounted, 0 AS kept2, 0 AS recounted2 \
                 FROM report_status_tallies \
                 UNION ALL SELECT {event_bucket}, a.company_id, COALESCE(e.previous, ''), COALESCE(e.current, ''), 0, 1, 0, 0 \
                 FROM account_events e JOIN accounts a ON a.id = e.account_id WHERE e.event = 'STATUS_UPDATED' \
                 UNION ALL SELECT {ALL_TIME}, a.company_id, COALESCE(e.previous, ''), COALESCE(e.current, ''), 0, 1, 0, 0 \
                 FROM account_events e JOIN accounts a ON a.id = e.account_id WHERE e.event = 'STATUS_UPDATED') x \
                 GROUP BY bucket, company_id, previous_status, current_status {differ}",
                k = key(&["bucket", "company_id", "previous_status", "current_status"]),
            ),
        ),
        (
            "report_disconnection_tallies (bucket/company/reason/for non-payment: disconnections, lost MRR)",
            format!(
                "SELECT {k} AS key, {sums} FROM (\
                 SELECT bucket, company_id, reason_id, CASE WHEN for_non_payment THEN 1 ELSE 0 END AS fnp, \
                 disconnections AS kept, 0 AS recounted, lost_mrr AS kept2, 0 AS recounted2 \
                 FROM report_disconnection_tallies \
                 UNION ALL SELECT {log_bucket}, a.company_id, COALESCE(l.disconnection_reason_id, 0), \
                 CASE WHEN l.for_non_payment THEN 1 ELSE 0 END, 0, 1, 0, l.monthly_recurring_amount \
                 FROM disconnection_logs l JOIN accounts a ON a.id = l.account_id) x \
                 GROUP BY bucket, company_id, reason_id, fnp {differ}",
                k = key(&["bucket", "company_id", "reason_id", "fnp"]),
            ),
        ),
    ]
}

/// Counts the kept keys checked; reports each that differs from its recount.
pub(super) async fn kept_counts(
    db: &DatabaseConnection,
    found: &mut impl FnMut(Violation),
) -> AppResult<u64> {
    let checked = super::count(
        db,
        "SELECT (SELECT COUNT(*) FROM account_counts) + (SELECT COUNT(*) FROM report_activation_tallies) \
         + (SELECT COUNT(*) FROM report_status_tallies) + (SELECT COUNT(*) FROM report_disconnection_tallies) AS n",
    )
    .await?;
    let pg = db.get_database_backend() == DbBackend::Postgres;
    for (what, sql) in statements(pg) {
        each_row(db, &sql, |row| {
            let key: String = get(row, "key")?;
            let kept: (i64, i64) = (get(row, "kept")?, get(row, "kept2")?);
            let recounted: (i64, i64) = (get(row, "recounted")?, get(row, "recounted2")?);
            found(Violation::new(
                Rule::KeptCountDrifted,
                0,
                format!("{what} {key}: {} / {}", recounted.0, recounted.1),
                format!("{} / {}", kept.0, kept.1),
            ));
            Ok(())
        })
        .await?;
    }
    Ok(checked)
}
