//! Money in (Sonar's `Payment`, `ReversedPayment`, `VoidedPayment`): a payment is applied to
//! invoices (`invoice_payment_applications`, a fathom table: Sonar keeps the link internally),
//! and what it did not pay stays as `amount_remaining` for the next invoice. A reversal or a
//! void is a row of its own; the payment is marked `reversed` and its applications `undone`,
//! never deleted. A voided invoice gives its credits back: its discount applications are
//! marked `undone` too (a new column, false for every existing row).

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
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

const HISTORY: &[&str] = &[
    "payments",
    "reversed_payments",
    "voided_payments",
    "invoice_payment_applications",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut payments = Table::create();
        payments
            .table("payments")
            .if_not_exists()
            .col(big_pk_auto("id"))
            .col(big_integer("account_id"))
            .col(big_integer("company_id"))
            .col(big_integer("amount").check(Expr::col("amount").gt(0)))
            .col(big_integer("amount_remaining"))
            .col(string("payment_type"))
            .col(timestamp_with_time_zone("payment_datetime"))
            .col(string_null("reference"))
            .col(text_null("description"))
            .col(string_null("payment_tracker_id"))
            .col(string_null("transaction_id"))
            .col(string("status"))
            .col(boolean("successful"))
            .col(boolean("reversed").default(false).take())
            .col(big_integer_null("user_id"))
            .col(big_integer_null("bank_account_id"))
            .col(big_integer_null("credit_card_id"))
            .col(big_integer_null("deposit_slip_id"))
            .col(string_null("creation_token"))
            .col(big_integer_null("fee"))
            .col(big_integer_null("fractional_fee"))
            .col(text_null("full_processor_response"))
            .col(boolean_null("is_autopay"))
            .col(boolean_null("passed_3ds_check"))
            .col(boolean_null("passed_avs_check"))
            .col(boolean_null("passed_cvv_check"))
            .col(string_null("processor_message"))
            .col(string_null("processor_status"))
            .check(Expr::col("amount_remaining").gte(0))
            .check(Expr::col("amount_remaining").lte(Expr::col("amount")))
            .foreign_key(&mut fk("payments", "account_id", "accounts"))
            .foreign_key(&mut fk("payments", "company_id", "companies"))
            .foreign_key(&mut fk("payments", "user_id", "users"));
        manager.create_table(stamps(&mut payments).take()).await?;

        let mut reversed = Table::create();
        reversed
            .table("reversed_payments")
            .if_not_exists()
            .col(big_pk_auto("id"))
            .col(big_integer("payment_id"))
            .col(big_integer("amount"))
            .col(text_null("description"))
            .col(big_integer_null("user_id"))
            .foreign_key(&mut fk("reversed_payments", "payment_id", "payments"))
            .foreign_key(&mut fk("reversed_payments", "user_id", "users"));
        manager.create_table(stamps(&mut reversed).take()).await?;

        let mut voided = Table::create();
        voided
            .table("voided_payments")
            .if_not_exists()
            .col(big_pk_auto("id"))
            .col(big_integer("payment_id"))
            .col(big_integer("amount"))
            .col(text_null("description"))
            .col(string_null("payment_tracker_id"))
            .col(string_null("transaction_id"))
            .col(string_null("processor_response_message"))
            .col(big_integer_null("user_id"))
            .foreign_key(&mut fk("voided_payments", "payment_id", "payments"))
            .foreign_key(&mut fk("voided_payments", "user_id", "users"));
        manager.create_table(stamps(&mut voided).take()).await?;

        let mut applications = Table::create();
        applications
            .table("invoice_payment_applications")
            .if_not_exists()
            .col(big_pk_auto("id"))
            .col(big_integer("invoice_id"))
            .col(big_integer("payment_id"))
            .col(big_integer("amount").check(Expr::col("amount").gt(0)))
            .col(boolean("undone").default(false).take())
            .foreign_key(&mut fk(
                "invoice_payment_applications",
                "invoice_id",
                "invoices",
            ))
            .foreign_key(&mut fk(
                "invoice_payment_applications",
                "payment_id",
                "payments",
            ));
        manager
            .create_table(stamps(&mut applications).take())
            .await?;

        for (name, table, columns) in [
            (
                "ix_payments_account_id",
                "payments",
                vec!["account_id", "id"],
            ),
            (
                "ix_reversed_payments_payment_id",
                "reversed_payments",
                vec!["payment_id"],
            ),
            (
                "ix_voided_payments_payment_id",
                "voided_payments",
                vec!["payment_id"],
            ),
            (
                "ix_invoice_payment_applications_invoice_id",
                "invoice_payment_applications",
                vec!["invoice_id"],
            ),
            (
                "ix_invoice_payment_applications_payment_id",
                "invoice_payment_applications",
                vec!["payment_id"],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(table).if_not_exists();
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.take()).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("invoice_discount_applications")
                    .add_column(boolean("undone").default(false).take())
                    .take(),
            )
            .await?;
        // What is left of an account's payments, found without reading its others.
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS ix_payments_unapplied ON payments (account_id, id) \
             WHERE amount_remaining > 0 AND reversed = FALSE",
        )
        .await?;
        for table in HISTORY {
            let sql = match manager.get_database_backend() {
                DbBackend::Postgres => format!(
                    "CREATE TRIGGER tr_{table}_no_delete BEFORE DELETE ON {table} \
                     FOR EACH ROW EXECUTE FUNCTION fathom_forbid_delete()"
                ),
                _ => format!(
                    "CREATE TRIGGER IF NOT EXISTS tr_{table}_no_delete BEFORE DELETE ON {table} \
                     BEGIN SELECT RAISE(ABORT, 'fathom keeps history: rows of {table} are never deleted'); END"
                ),
            };
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("invoice_discount_applications")
                    .drop_column("undone")
                    .take(),
            )
            .await?;
        for table in [
            "invoice_payment_applications",
            "voided_payments",
            "reversed_payments",
            "payments",
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().take())
                .await?;
        }
        Ok(())
    }
}
