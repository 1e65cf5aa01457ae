//! Why customers leave: the `disconnection_reasons` list (seeded with the common reasons, the
//! delinquency pass's `Non-payment` among them), the reason and comment a disconnection log and
//! a scheduled disconnection carry, and billing settings' `disconnection_reason_required` and
//! `delinquency_disconnection_reason_id` (what the delinquency pass records). Existing logs
//! written for non-payment get that reason; the others keep none.
//!
//! For churn: each disconnection log keeps `monthly_recurring_amount`, what the account's
//! recurring services came to per month when it was disconnected (the report's lost MRR;
//! existing logs get it from the services the account had then), and the report's views are
//! made again with the reason, the amount and (activations) whether an activation won back an
//! account disconnected before.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

// The views as migration 4 made them, for `down`.
use super::m20261122_000004_create_report_views::{
    ACTIVATIONS as OLD_ACTIVATIONS, DISCONNECTIONS as OLD_DISCONNECTIONS,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The reasons an empty list starts with: name, and whether the customer chose to leave.
pub const DEFAULT_REASONS: &[(&str, bool)] = &[
    ("Non-payment", false),
    ("Moving away", true),
    ("Price", true),
    ("Switched provider", true),
    ("Service quality", true),
    ("No longer needed", true),
    ("Service area closed", false),
    ("Other", true),
];

/// The reason the delinquency pass records, by name.
pub const NON_PAYMENT: &str = "Non-payment";

/// Each existing log's `monthly_recurring_amount`: the account's recurring services added
/// before the disconnection and not removed by then, each price (or its override) times its
/// quantity over its billing frequency in months, rounded half away from zero (credit
/// services count against).
const BACKFILL_MONTHLY_RECURRING_AMOUNT: &str =
    "UPDATE disconnection_logs SET monthly_recurring_amount = COALESCE((
  SELECT SUM(CAST(ROUND(1.0 * (CASE WHEN v.application = 'CREDIT' THEN -1 ELSE 1 END)
                              * COALESCE(s.price_override, v.amount) * s.quantity
                              / COALESCE(NULLIF(v.billing_frequency, 0), 1)) AS BIGINT))
  FROM account_services s JOIN services v ON v.id = s.service_id
  WHERE s.account_id = disconnection_logs.account_id AND v.type = 'RECURRING'
    AND s.created_at <= disconnection_logs.disconnected_at
    AND (s.removed_at IS NULL OR s.removed_at > disconnection_logs.disconnected_at)), 0)";

/// One row per `ACTIVATED` account event. `reactivation`: the account had been activated
/// before; `win_back`: it had been disconnected before (a disconnection log at or before the
/// activation). `serviceable_address_id`: the account's serviceable address now.
const ACTIVATIONS: &str = "CREATE VIEW report_activations AS
SELECT e.id AS id,
       e.id AS account_event_id,
       e.account_id AS account_id,
       a.name AS account_name,
       a.account_type_id AS account_type_id,
       a.account_status_id AS account_status_id,
       a.company_id AS company_id,
       e.event_datetime AS activated_at,
       EXISTS (SELECT 1 FROM account_events p
               WHERE p.account_id = e.account_id AND p.event = 'ACTIVATED'
                 AND (p.event_datetime < e.event_datetime OR (p.event_datetime = e.event_datetime AND p.id < e.id))) AS reactivation,
       EXISTS (SELECT 1 FROM disconnection_logs l
               WHERE l.account_id = e.account_id AND l.disconnected_at <= e.event_datetime) AS win_back,
       (SELECT MIN(ad.id) FROM addresses ad WHERE ad.addressable_id = e.account_id AND ad.serviceable = TRUE) AS serviceable_address_id
FROM account_events e JOIN accounts a ON a.id = e.account_id
WHERE e.event = 'ACTIVATED'";

/// One row per disconnection log, with its reason (and whether the reason is voluntary) and
/// the recurring amount per month the account was billed when it left.
const DISCONNECTIONS: &str = "CREATE VIEW report_disconnections AS
SELECT l.id AS id,
       l.id AS disconnection_log_id,
       l.account_id AS account_id,
       a.name AS account_name,
       a.account_type_id AS account_type_id,
       a.company_id AS company_id,
       l.disconnected_at AS disconnected_at,
       l.disconnected_by_user_id AS disconnected_by_user_id,
       l.serviceable_address_reference_record AS serviceable_address_reference_record,
       l.final_invoice_id AS final_invoice_id,
       i.total_debits AS final_invoice_total,
       l.credit_total AS credit_total,
       (l.scheduled_event_id IS NOT NULL) AS scheduled,
       l.disconnection_reason_id AS disconnection_reason_id,
       r.voluntary AS voluntary,
       l.for_non_payment AS for_non_payment,
       l.comment AS comment,
       l.monthly_recurring_amount AS monthly_recurring_amount
FROM disconnection_logs l
JOIN accounts a ON a.id = l.account_id
LEFT JOIN invoices i ON i.id = l.final_invoice_id
LEFT JOIN disconnection_reasons r ON r.id = l.disconnection_reason_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("disconnection_reasons")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(string("name").unique_key())
                    .col(boolean("voluntary"))
                    .col(boolean("active").default(true).take())
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(big_integer("version").default(1).take())
                    .take(),
            )
            .await?;
        let db = manager.get_connection();
        let now = match manager.get_database_backend() {
            DbBackend::Sqlite => "strftime('%Y-%m-%d %H:%M:%f+00:00', 'now')",
            _ => "CURRENT_TIMESTAMP",
        };
        for (name, voluntary) in DEFAULT_REASONS {
            db.execute_unprepared(&format!(
                "INSERT INTO disconnection_reasons (name, voluntary, active, created_at, updated_at, version) \
                 VALUES ('{name}', {voluntary}, TRUE, {now}, {now}, 1)"
            ))
            .await?;
        }
        // SQLite alters one column per statement; the references are checked by fathom (an
        // added column cannot take a foreign key on SQLite).
        for (table, column) in [
            (
                "disconnection_logs",
                big_integer_null("disconnection_reason_id"),
            ),
            ("disconnection_logs", text_null("comment")),
            (
                "scheduled_events",
                big_integer_null("disconnection_reason_id"),
            ),
            ("scheduled_events", text_null("comment")),
            (
                "billing_settings",
                boolean("disconnection_reason_required")
                    .default(false)
                    .take(),
            ),
            (
                "billing_settings",
                big_integer_null("delinquency_disconnection_reason_id"),
            ),
            (
                "disconnection_logs",
                big_integer("monthly_recurring_amount").default(0).take(),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).add_column(column).take())
                .await?;
        }
        let non_payment =
            format!("(SELECT id FROM disconnection_reasons WHERE name = '{NON_PAYMENT}')");
        db.execute_unprepared(&format!(
            "UPDATE billing_settings SET delinquency_disconnection_reason_id = {non_payment}"
        ))
        .await?;
        db.execute_unprepared(&format!(
            "UPDATE disconnection_logs SET disconnection_reason_id = {non_payment} WHERE for_non_payment = TRUE"
        ))
        .await?;
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS ix_disconnection_logs_reason ON disconnection_logs (disconnection_reason_id)",
        )
        .await?;
        db.execute_unprepared(BACKFILL_MONTHLY_RECURRING_AMOUNT)
            .await?;
        for sql in [
            "DROP VIEW IF EXISTS report_disconnections",
            "DROP VIEW IF EXISTS report_activations",
            ACTIVATIONS,
            DISCONNECTIONS,
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in [
            "DROP VIEW IF EXISTS report_disconnections",
            "DROP VIEW IF EXISTS report_activations",
            OLD_ACTIVATIONS,
            OLD_DISCONNECTIONS,
            "DROP INDEX IF EXISTS ix_disconnection_logs_reason",
        ] {
            db.execute_unprepared(sql).await?;
        }
        for (table, column) in [
            ("disconnection_logs", "monthly_recurring_amount"),
            ("disconnection_logs", "disconnection_reason_id"),
            ("disconnection_logs", "comment"),
            ("scheduled_events", "disconnection_reason_id"),
            ("scheduled_events", "comment"),
            ("billing_settings", "disconnection_reason_required"),
            ("billing_settings", "delinquency_disconnection_reason_id"),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).take())
                .await?;
        }
        manager
            .drop_table(Table::drop().table("disconnection_reasons").take())
            .await
    }
}
