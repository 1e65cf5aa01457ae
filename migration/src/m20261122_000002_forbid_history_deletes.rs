//! History is never deleted: the database itself refuses `DELETE` on accounts, debits,
//! discounts, invoices, invoice discount applications, disconnection logs, account events and
//! audit logs, whether or not another row refers to them (foreign keys only cover the latter).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

const TABLES: &[&str] = &[
    "accounts",
    "debits",
    "discounts",
    "invoices",
    "invoice_discount_applications",
    "disconnection_logs",
    "account_events",
    "logs",
];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE OR REPLACE FUNCTION fathom_forbid_delete() RETURNS trigger AS $$ \
                     BEGIN RAISE EXCEPTION 'fathom keeps history: rows of % are never deleted', TG_TABLE_NAME; END; \
                     $$ LANGUAGE plpgsql",
                )
                .await?;
                for table in TABLES {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER tr_{table}_no_delete BEFORE DELETE ON {table} \
                         FOR EACH ROW EXECUTE FUNCTION fathom_forbid_delete()"
                    ))
                    .await?;
                }
            }
            _ => {
                for table in TABLES {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER IF NOT EXISTS tr_{table}_no_delete BEFORE DELETE ON {table} \
                         BEGIN SELECT RAISE(ABORT, 'fathom keeps history: rows of {table} are never deleted'); END"
                    ))
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for table in TABLES {
            let sql = match manager.get_database_backend() {
                DbBackend::Postgres => {
                    format!("DROP TRIGGER IF EXISTS tr_{table}_no_delete ON {table}")
                }
                _ => format!("DROP TRIGGER IF EXISTS tr_{table}_no_delete"),
            };
            db.execute_unprepared(&sql).await?;
        }
        if manager.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared("DROP FUNCTION IF EXISTS fathom_forbid_delete()")
                .await?;
        }
        Ok(())
    }
}
