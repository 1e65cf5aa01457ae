//! Delinquency: Sonar's `BillingDefault` (its delinquency fields: grace days, the status switch
//! and its statuses, by account type or as the default), billing settings' fathom extensions
//! (the minimum amount due, the check days, disconnecting after further days and the user the
//! pass acts as), each invoice's `delinquency_date` (its due date for every existing one: no
//! grace before this migration), a disconnection's `for_non_payment`, and one row per date whose
//! delinquency pass completed (`delinquency_passes`). Partial indexes find what the pass looks
//! at without reading the paid invoices or the accounts in good standing.

use sea_orm_migration::sea_orm::ConnectionTrait;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk(table: &'static str, column: &'static str, to: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{column}"))
        .from(table, column)
        .to(to, "id")
        .on_delete(ForeignKeyAction::Restrict)
        .on_update(ForeignKeyAction::Restrict)
        .take()
}

fn stamps(table: &mut TableCreateStatement) -> &mut TableCreateStatement {
    table
        .col(timestamp_with_time_zone("created_at"))
        .col(timestamp_with_time_zone("updated_at"))
        .col(big_integer("version").default(1).take())
}

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut defaults = Table::create();
        defaults
            .table("billing_defaults")
            .if_not_exists()
            .col(big_pk_auto("id"))
            .col(string("name"))
            .col(big_integer_null("account_type_id"))
            .col(boolean("default").default(false).take())
            .col(integer("grace_days").default(0).take())
            .col(
                boolean("switch_status_after_delinquency")
                    .default(false)
                    .take(),
            )
            .col(integer_null("days_of_delinquency_for_status_switch"))
            .col(big_integer_null("delinquency_account_status_id"))
            .col(big_integer_null("delinquency_removal_account_status_id"))
            .foreign_key(&mut fk(
                "billing_defaults",
                "account_type_id",
                "account_types",
            ))
            .foreign_key(&mut fk(
                "billing_defaults",
                "delinquency_account_status_id",
                "account_statuses",
            ))
            .foreign_key(&mut fk(
                "billing_defaults",
                "delinquency_removal_account_status_id",
                "account_statuses",
            ));
        manager.create_table(stamps(&mut defaults).take()).await?;

        let mut passes = Table::create();
        passes
            .table("delinquency_passes")
            .if_not_exists()
            .col(big_pk_auto("id"))
            .col(date("date").unique_key())
            .col(integer("runs"))
            .col(timestamp_with_time_zone("started_at"))
            .col(timestamp_with_time_zone("finished_at"))
            .col(boolean("acted"))
            .col(big_integer("accounts_switched"))
            .col(big_integer("accounts_restored"))
            .col(big_integer("accounts_disconnected"))
            .col(big_integer("accounts_failed"));
        manager.create_table(stamps(&mut passes).take()).await?;

        let mut columns = vec![
            big_integer("minimum_amount_due_for_delinquency")
                .default(0)
                .take(),
            integer_null("delinquency_disconnect_days"),
            big_integer_null("delinquency_user_id"),
        ];
        for day in WEEKDAYS {
            columns.push(
                boolean(format!("delinquency_check_day_{day}"))
                    .default(true)
                    .take(),
            );
        }
        // SQLite alters one column per statement.
        for column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table("billing_settings")
                        .add_column(column)
                        .take(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("disconnection_logs")
                    .add_column(boolean("for_non_payment").default(false).take())
                    .take(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE invoices SET delinquency_date = due_date WHERE delinquency_date IS NULL",
        )
        .await?;
        for sql in [
            // The invoices that may become delinquent: unpaid and not void.
            "CREATE INDEX IF NOT EXISTS ix_invoices_unpaid ON invoices (delinquency_date, account_id) \
             WHERE remaining_due > 0 AND void = FALSE AND delinquent = FALSE",
            "CREATE INDEX IF NOT EXISTS ix_invoices_delinquent ON invoices (account_id) \
             WHERE delinquent = TRUE",
            "CREATE INDEX IF NOT EXISTS ix_accounts_delinquent ON accounts (id) \
             WHERE is_delinquent = TRUE",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for index in [
            "ix_invoices_unpaid",
            "ix_invoices_delinquent",
            "ix_accounts_delinquent",
        ] {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {index}"))
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("disconnection_logs")
                    .drop_column("for_non_payment")
                    .take(),
            )
            .await?;
        let mut columns = vec![
            "minimum_amount_due_for_delinquency".to_owned(),
            "delinquency_disconnect_days".to_owned(),
            "delinquency_user_id".to_owned(),
        ];
        columns.extend(WEEKDAYS.map(|d| format!("delinquency_check_day_{d}")));
        for column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table("billing_settings")
                        .drop_column(column)
                        .take(),
                )
                .await?;
        }
        for table in ["delinquency_passes", "billing_defaults"] {
            manager
                .drop_table(Table::drop().table(table).if_exists().take())
                .await?;
        }
        Ok(())
    }
}
