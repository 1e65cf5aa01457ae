//! PostgreSQL's indexes for the lists read by a parent's id, with the id after it
//! (`(parent_account_id, id)`, `(account_id, id)`, `(invoice_id, id)`, `(addressable_id, id)`):
//! a compiled read lists a parent's children in id order, and with the id in the index they
//! come out of it in that order, without a sort for each parent row (bench/RESULTS.md, "Reads
//! at twice PostGraphile 5"). Each replaces the index on the parent's id alone, which it serves
//! as well. SQLite needs none: its indexes end with the rowid (the id) already.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, parent column, index replaced or `None`).
const LISTS: [(&str, &str, Option<&str>); 4] = [
    (
        "accounts",
        "parent_account_id",
        Some("ix_accounts_parent_account_id"),
    ),
    ("invoices", "account_id", Some("ix_invoices_account_id")),
    ("debits", "invoice_id", Some("ix_debits_invoice_id")),
    ("addresses", "addressable_id", None),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for (table, parent, replaced) in LISTS {
            db.execute_unprepared(&format!(
                "CREATE INDEX IF NOT EXISTS ix_{table}_{parent}_id ON {table} ({parent}, id)"
            ))
            .await?;
            if let Some(old) = replaced {
                db.execute_unprepared(&format!("DROP INDEX IF EXISTS {old}"))
                    .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for (table, parent, replaced) in LISTS {
            if let Some(old) = replaced {
                db.execute_unprepared(&format!(
                    "CREATE INDEX IF NOT EXISTS {old} ON {table} ({parent})"
                ))
                .await?;
            }
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS ix_{table}_{parent}_id"))
                .await?;
        }
        Ok(())
    }
}
