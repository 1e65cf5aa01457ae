//! A reactivation inside a period already billed charges the days of it that its credits
//! gave back (`service::billing::reactivation`), and the billing passes are recorded.
//!
//! - `debits.reactivation_account_event_id`: the `ACTIVATED` account event whose reactivation
//!   charged the debit. Such a debit may start on the same day as an earlier one of its
//!   account service (a second same-day reactivation charges again what a second same-day
//!   disconnection credited), so the one-debit-per-period-start rule, which keeps two billing
//!   passes from billing one period twice, now holds for the other debits only: the unique
//!   index becomes partial.
//! - `billing_passes`: one row per billing date, written when a pass for it completes (how
//!   many runs, the last run's start and end, what it billed and how many accounts it could
//!   not bill). `fathom verify` reads the latest to check that every account due was billed.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "ALTER TABLE debits ADD COLUMN reactivation_account_event_id BIGINT \
             REFERENCES account_events (id) ON DELETE RESTRICT ON UPDATE RESTRICT",
        )
        .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS ux_debits_account_service_id_prorated_from")
            .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX IF NOT EXISTS ux_debits_account_service_id_prorated_from \
             ON debits (account_service_id, prorated_from) \
             WHERE reactivation_account_event_id IS NULL",
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table("billing_passes")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(date("date").unique_key())
                    .col(integer("runs"))
                    .col(timestamp_with_time_zone("started_at"))
                    .col(timestamp_with_time_zone("finished_at"))
                    .col(big_integer("accounts_billed"))
                    .col(big_integer("debits_created"))
                    .col(big_integer("invoices_created"))
                    .col(big_integer("accounts_failed"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(big_integer("version").default(1).take())
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("billing_passes").if_exists().take())
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX IF EXISTS ux_debits_account_service_id_prorated_from")
            .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX IF NOT EXISTS ux_debits_account_service_id_prorated_from \
             ON debits (account_service_id, prorated_from)",
        )
        .await?;
        db.execute_unprepared("ALTER TABLE debits DROP COLUMN reactivation_account_event_id")
            .await?;
        Ok(())
    }
}
