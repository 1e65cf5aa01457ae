//! The kept counts' shards folded (migration 18): concurrent PostgreSQL writers spread each
//! count over up to 64 rows and a bulk load leaves a row per loading transaction; folding
//! them into one keeps what readers sum small. Each table is folded by one statement in its own
//! transaction, skipping the rows a writer holds, so it never waits for a writer nor makes one
//! wait long. SQLite keeps one shard: nothing to do.

use sea_orm::{ConnectionTrait, DbBackend};

use crate::error::AppResult;
use migration::m20261207_000018_maintained_counts::compaction;

/// How often the worker folds them.
pub const COMPACTION_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Folds every kept table's shards into shard 0.
pub async fn compact<C: ConnectionTrait>(db: &C) -> AppResult<()> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    for sql in compaction() {
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}
