//! Bulk disconnection runs: a run (what to disconnect, when, with which proration and reason,
//! and its progress) and one item per selected account (pending, done, failed with its error,
//! or cancelled). The worker takes pending items of due runs in account order; the partial
//! index finds them without reading finished items.

use sea_orm_migration::sea_orm::ConnectionTrait;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn stamps(table: &mut TableCreateStatement) -> &mut TableCreateStatement {
    table
        .col(timestamp_with_time_zone("created_at"))
        .col(timestamp_with_time_zone("updated_at"))
        .col(big_integer("version").default(1).take())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut runs = Table::create();
        runs.table("disconnection_runs")
            .if_not_exists()
            .col(big_pk_auto("id"))
            .col(string("name"))
            .col(string("status"))
            .col(timestamp_with_time_zone("datetime"))
            .col(boolean_null("prorate"))
            .col(big_integer_null("disconnection_reason_id"))
            .col(text_null("comment"))
            .col(big_integer_null("company_id"))
            .col(integer("total"))
            .col(integer("done").default(0).take())
            .col(integer("failed").default(0).take())
            .col(integer("cancelled").default(0).take())
            .col(integer("remaining"))
            .col(big_integer("created_by_user_id"))
            .col(timestamp_with_time_zone_null("started_at"))
            .col(timestamp_with_time_zone_null("finished_at"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_disconnection_runs_reason")
                    .from("disconnection_runs", "disconnection_reason_id")
                    .to("disconnection_reasons", "id")
                    .on_delete(ForeignKeyAction::Restrict),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_disconnection_runs_user")
                    .from("disconnection_runs", "created_by_user_id")
                    .to("users", "id")
                    .on_delete(ForeignKeyAction::Restrict),
            );
        manager.create_table(stamps(&mut runs).take()).await?;

        let mut items = Table::create();
        items
            .table("disconnection_run_items")
            .if_not_exists()
            .col(big_pk_auto("id"))
            .col(big_integer("disconnection_run_id"))
            .col(big_integer("account_id"))
            .col(string("status"))
            .col(string_null("error_code"))
            .col(text_null("error_message"))
            .col(timestamp_with_time_zone_null("finished_at"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_disconnection_run_items_run")
                    .from("disconnection_run_items", "disconnection_run_id")
                    .to("disconnection_runs", "id")
                    .on_delete(ForeignKeyAction::Restrict),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_disconnection_run_items_account")
                    .from("disconnection_run_items", "account_id")
                    .to("accounts", "id")
                    .on_delete(ForeignKeyAction::Restrict),
            );
        manager.create_table(stamps(&mut items).take()).await?;
        let db = manager.get_connection();
        for sql in [
            "CREATE UNIQUE INDEX IF NOT EXISTS ux_disconnection_run_items_account \
             ON disconnection_run_items (disconnection_run_id, account_id)",
            "CREATE INDEX IF NOT EXISTS ix_disconnection_run_items_pending \
             ON disconnection_run_items (account_id) WHERE status = 'PENDING'",
            "CREATE INDEX IF NOT EXISTS ix_disconnection_runs_open \
             ON disconnection_runs (datetime) WHERE status IN ('PENDING', 'RUNNING')",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("disconnection_run_items").take())
            .await?;
        manager
            .drop_table(Table::drop().table("disconnection_runs").take())
            .await
    }
}
