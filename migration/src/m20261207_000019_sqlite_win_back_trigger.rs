//! SQLite's trigger on a new disconnection log, written again so that it finds the account's
//! activations by index ([`super::m20261207_000018_maintained_counts::sqlite_disconnection_trigger`]):
//! the first version read every activation of the book for each log, which made each
//! disconnection, and seeding, slower the bigger the book. Same counts. PostgreSQL's statement
//! trigger is unchanged.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use super::m20261207_000018_maintained_counts::sqlite_disconnection_trigger;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        // One string, so that both run on one connection: another connection of the pool would
        // still have the old trigger in its cached schema and refuse the new one's name.
        let replace = format!(
            "DROP TRIGGER IF EXISTS tr_disconnection_logs_tallied; {}",
            sqlite_disconnection_trigger()
        );
        manager
            .get_connection()
            .execute_unprepared(&replace)
            .await?;
        Ok(())
    }

    /// The new trigger counts what the first did: nothing to take back.
    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
