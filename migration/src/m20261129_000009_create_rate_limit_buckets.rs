//! The per-token rate limit shared by every server on one PostgreSQL database (DESIGN §10):
//! one token bucket per personal access token. Servers take permits from it in small chunks
//! and spend them locally (`src/rate_limit.rs`), so the limit holds across servers at a
//! statement per chunk. Not history: a row is a counter, overwritten in place. SQLite (one
//! machine) keeps its buckets in memory and leaves this table empty.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("rate_limit_buckets")
                    .if_not_exists()
                    .col(big_integer("token_id").primary_key())
                    .col(double("tokens"))
                    .col(double("granted"))
                    .col(timestamp_with_time_zone("refilled_at"))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("rate_limit_buckets").if_exists().take())
            .await
    }
}
