//! Disconnected accounts are whole: status, address released, no disconnection left pending.
//! Which accounts are disconnected, and the rules, are in the parent module's doc.

use sea_orm::DatabaseConnection;

use super::{count, each_row, get, Rule, Violation};
use crate::error::AppResult;

/// The disconnected accounts (see the module's doc): each with the instant of its latest
/// disconnection log and its status.
const DISCONNECTED: &str = "
WITH last_log AS (
  SELECT account_id, MAX(disconnected_at) AS disconnected_at
  FROM disconnection_logs GROUP BY account_id
), disconnected AS (
  SELECT l.account_id, l.disconnected_at, a.account_status_id, s.activates_account
  FROM last_log l
  JOIN accounts a ON a.id = l.account_id
  JOIN account_statuses s ON s.id = a.account_status_id
  LEFT JOIN (SELECT account_id, MAX(event_datetime) AS activated_at FROM account_events
             WHERE event = 'ACTIVATED' GROUP BY account_id) v ON v.account_id = l.account_id
  WHERE v.activated_at IS NULL OR l.disconnected_at > v.activated_at
     OR (l.disconnected_at = v.activated_at AND s.activates_account = FALSE)
)";

fn disconnected_violations_sql() -> String {
    format!(
        "{DISCONNECTED}
SELECT 'status' AS kind, d.account_id AS account_id, d.account_status_id AS other_id
FROM disconnected d WHERE d.activates_account = TRUE
UNION ALL
SELECT 'address', d.account_id, ad.id
FROM disconnected d JOIN addresses ad ON ad.addressable_id = d.account_id AND ad.serviceable = TRUE
WHERE NOT EXISTS (
  SELECT 1 FROM serviceable_address_account_assignment_histories h
  WHERE h.address_id = ad.id AND h.account_id = d.account_id AND h.end_date IS NULL
    AND h.created_at > d.disconnected_at)
UNION ALL
SELECT 'assignment', d.account_id, h.id
FROM disconnected d JOIN serviceable_address_account_assignment_histories h
  ON h.account_id = d.account_id AND h.end_date IS NULL AND h.created_at <= d.disconnected_at
UNION ALL
SELECT 'pending', d.account_id, e.id
FROM disconnected d JOIN scheduled_events e
  ON e.account_id = d.account_id AND e.event = 'DISCONNECT_ACCOUNT' AND e.status = 'PENDING'
     AND e.created_at <= d.disconnected_at
UNION ALL
SELECT 'final_invoice', l.id, i.id
FROM disconnection_logs l JOIN invoices i ON i.id = l.final_invoice_id
WHERE i.account_id <> l.account_id
ORDER BY 2, 1, 3"
    )
}

pub(super) async fn disconnected_accounts(
    db: &DatabaseConnection,
    found: &mut impl FnMut(Violation),
) -> AppResult<u64> {
    each_row(db, &disconnected_violations_sql(), |row| {
        let kind: String = get(row, "kind")?;
        let id: i64 = get(row, "account_id")?;
        let other: i64 = get(row, "other_id")?;
        found(match kind.as_str() {
            "status" => Violation::new(
                Rule::DisconnectedButActive,
                id,
                "a status that does not activate",
                format!("account status {other}"),
            ),
            "address" => Violation::new(
                Rule::AddressNotReleased,
                id,
                "no address, or one assigned after the disconnection",
                format!("address {other} assigned without a later assignment"),
            ),
            "assignment" => Violation::new(
                Rule::AssignmentNotClosed,
                id,
                "an end_date",
                format!("assignment history {other} still open"),
            ),
            "pending" => Violation::new(
                Rule::DisconnectionStillPending,
                id,
                "it cancelled",
                format!("scheduled event {other} PENDING"),
            ),
            _ => Violation::new(
                Rule::FinalInvoiceOfAnotherAccount,
                id,
                "an invoice of the log's account",
                format!("invoice {other} of another account"),
            ),
        });
        Ok(())
    })
    .await?;
    count(
        db,
        &format!("{DISCONNECTED} SELECT COUNT(*) AS n FROM disconnected"),
    )
    .await
}
