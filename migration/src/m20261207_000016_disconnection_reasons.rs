//! Why customers leave: the `disconnection_reasons` list (seeded with the common reasons, the
//! delinquency pass's `Non-payment` among them), the reason and comment a disconnection log and
//! a scheduled disconnection carry, and billing settings' `disconnection_reason_required` and
//! `delinquency_disconnection_reason_id` (what the delinquency pass records). Existing logs
//! written for non-payment get that reason; the others keep none.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

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
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX IF EXISTS ix_disconnection_logs_reason")
            .await?;
        for (table, column) in [
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
