//! The settings generation (issue: write path within its statement budget).
//!
//! Servers keep the billing settings, the system setting and the account statuses in memory.
//! Every mutation of those rows adds one to `generation` in its own transaction; a server reads
//! `instance` and `generation` inside a statement it sends anyway (the account's lock, for a
//! disconnection) and reloads its copy when they differ from the ones it holds, so a change
//! made through any server is seen by every server on its next use. `instance` is a random
//! number chosen when the database is created, so that one process serving several databases
//! (tests do) never takes one database's copy for another's.

use std::hash::{BuildHasher, Hasher};

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE TABLE IF NOT EXISTS settings_generations (\
             id INTEGER PRIMARY KEY, instance BIGINT NOT NULL, generation BIGINT NOT NULL)",
        )
        .await?;
        // A random positive number (the standard library's per-process random hash keys).
        let instance = (std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
            >> 2) as i64;
        db.execute_unprepared(&format!(
            "INSERT INTO settings_generations (id, instance, generation) VALUES (1, {instance}, 1)"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS settings_generations")
            .await?;
        Ok(())
    }
}
