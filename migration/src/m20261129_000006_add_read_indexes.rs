//! Indexes for the read path at scale (issue: reads compiled to SQL).
//!
//! `accounts_listed`: the ids of unarchived accounts, the rows every `accounts` page lists by
//! default. `total_count` of that default page becomes an index-only scan of this index (on
//! PostgreSQL as long as the visibility map is current, which autovacuum keeps), instead of
//! a scan of the whole table. The raw SQL of a partial index is valid on both databases.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS accounts_listed ON accounts (id) WHERE archived_at IS NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS accounts_listed")
            .await?;
        Ok(())
    }
}
