//! Active accounts billed through the last billing pass: a pass that could not bill an account
//! it should have leaves it behind, and the next one would again; this is where that shows.

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt;
use sea_orm::{DatabaseConnection, DbBackend, EntityTrait, QueryOrder, Statement, StreamTrait};

use super::{get, or_none, Rule, Violation};
use crate::entity::billing_pass;
use crate::error::AppResult;

/// The active, unarchived accounts with a recurring service in place that became active before
/// the pass began (`$1`), and whose next bill date is not after its date (`$2`).
fn behind_sql(backend: DbBackend) -> String {
    let (started, date) = match backend {
        DbBackend::Postgres => ("$1", "$2"),
        _ => ("?", "?"),
    };
    format!(
        "
SELECT a.id AS id, a.next_bill_date AS next_bill_date
FROM accounts a
WHERE a.archived_at IS NULL
  AND a.account_status_id IN (SELECT id FROM account_statuses WHERE activates_account = TRUE)
  AND EXISTS (SELECT 1 FROM account_services s JOIN services v ON v.id = s.service_id
              WHERE s.account_id = a.id AND s.removed_at IS NULL AND v.type = 'RECURRING')
  AND NOT EXISTS (SELECT 1 FROM account_events e
                  WHERE e.account_id = a.id AND e.event = 'ACTIVATED' AND e.event_datetime >= {started})
  AND (a.next_bill_date IS NULL OR a.next_bill_date <= {date})
ORDER BY a.id"
    )
}

const ACTIVE_SQL: &str = "
SELECT COUNT(*) AS n FROM accounts a
WHERE a.archived_at IS NULL
  AND a.account_status_id IN (SELECT id FROM account_statuses WHERE activates_account = TRUE)";

pub(super) async fn active_accounts(
    db: &DatabaseConnection,
    found: &mut impl FnMut(Violation),
) -> AppResult<u64> {
    let checked = super::count(db, ACTIVE_SQL).await?;
    // The latest date a pass completed for (a book no pass ran on has nothing to check).
    let Some(last) = billing_pass::Entity::find()
        .order_by_desc(billing_pass::Column::Date)
        .one(db)
        .await?
    else {
        return Ok(checked);
    };
    let backend = db.get_database_backend();
    let started: DateTime<Utc> = last.started_at;
    let date: NaiveDate = last.date;
    let statement =
        Statement::from_sql_and_values(backend, behind_sql(backend), [started.into(), date.into()]);
    let mut rows = db.stream_raw(statement).await?;
    while let Some(row) = rows.try_next().await? {
        let id: i64 = get(&row, "id")?;
        let next: Option<NaiveDate> = get(&row, "next_bill_date")?;
        found(Violation::new(
            Rule::NotBilledThroughLastPass,
            id,
            format!(
                "a next bill date after {date}, the date of the last billing pass (run at {})",
                started.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            format!("next bill date {}", or_none(next)),
        ));
    }
    Ok(checked)
}
