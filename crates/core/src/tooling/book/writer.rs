//! Writing encoded chunks ([`super::encode`]), one transaction per chunk.
//!
//! PostgreSQL: one binary `COPY … FROM STDIN` per table per chunk, `synchronous_commit` off for
//! those transactions only (a crash can lose the last chunks committed, never consistency), and
//! two chunks at once on connections of their own (a chunk is self-contained). Foreign keys stay
//! and every row is checked against them: row by row by PostgreSQL's own triggers, or — when the
//! seeding role may set `session_replication_role` (a superuser: the local benchmark), which
//! skips those triggers for the seeding transactions only — by the seeder, exactly and in bulk:
//! a reference to an id the same chunk inserts exists by construction (the encoder checks that
//! the chunk's rows hold exactly the ids of their range), and every other reference (the
//! catalogue: statuses, types, company, services, users) is looked up and locked
//! `FOR KEY SHARE`, as the triggers would, in one query per foreign key per chunk
//! ([`Writer::check_references`]); a missing row rolls the chunk back. Row-by-row checks lock
//! every referenced row, one statement each, and were three quarters of the seeding's time.
//!
//! SQLite: multi-row `INSERT`s prepared once per table, `synchronous = OFF` and a large page
//! cache on the seeding connection only; foreign keys checked by SQLite as always.
//!
//! Indexes and triggers stay on both. Ids: the generator numbers rows itself from the first free
//! id of each table ([`Writer::bases`]: past both the largest id and the identity sequence, or
//! SQLite's `AUTOINCREMENT` counter). Each chunk's transaction moves PostgreSQL's sequences past
//! its rows (as [`crate::service::lifecycle::addresses::bump_sequence`] does), so the API's next rows never
//! collide; SQLite moves its counter itself. Nothing else may insert into these tables while
//! seeding.

use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{self, AssertSqlSafe, Connection, PgConnection, Postgres, Row, Sqlite};
use sea_orm::{DatabaseConnection, DbBackend};

use super::encode::{Body, Encoded, ForeignKey, Format};
use super::rows::{Bases, N_TABLES, TABLES};
use crate::error::{AppError, AppResult};

fn sql_err(what: &str) -> impl Fn(sqlx::Error) -> AppError + '_ {
    move |e| AppError::internal(format!("seeding ({what}): {e}"))
}

/// A connection of its own, for the whole seeding.
pub enum Writer {
    Postgres {
        conn: PoolConnection<Postgres>,
        /// The foreign keys to check set-based, when row-by-row checks are skipped.
        set_based: Option<Vec<ForeignKey>>,
    },
    Sqlite(PoolConnection<Sqlite>),
}

impl Writer {
    pub async fn open(db: &DatabaseConnection) -> AppResult<Writer> {
        Ok(match db.get_database_backend() {
            DbBackend::Postgres => {
                let mut conn = db
                    .get_postgres_connection_pool()
                    .acquire()
                    .await
                    .map_err(sql_err("connect"))?;
                let superuser: String =
                    sqlx::query_scalar("SELECT current_setting('is_superuser')")
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(sql_err("role"))?;
                let set_based = if superuser == "on" {
                    foreign_keys(&mut conn).await?
                } else {
                    None
                };
                Writer::Postgres { conn, set_based }
            }
            _ => {
                let mut conn = db
                    .get_sqlite_connection_pool()
                    .acquire()
                    .await
                    .map_err(sql_err("connect"))?;
                // This connection only: it goes back to `synchronous = FULL` in `finish`.
                for pragma in ["PRAGMA synchronous = OFF", "PRAGMA cache_size = -262144"] {
                    sqlx::query(pragma)
                        .execute(&mut *conn)
                        .await
                        .map_err(sql_err(pragma))?;
                }
                Writer::Sqlite(conn)
            }
        })
    }

    /// How many chunks to write at once: PostgreSQL takes several (a server process each);
    /// SQLite has one writer.
    /// The foreign keys the encoder sorts references by (none: the database checks them).
    pub fn keys(&self) -> Vec<ForeignKey> {
        match self {
            Writer::Postgres {
                set_based: Some(keys),
                ..
            } => keys.clone(),
            _ => Vec::new(),
        }
    }

    pub fn parallelism(&self) -> usize {
        match self {
            Writer::Postgres { .. } => 2,
            Writer::Sqlite(_) => 1,
        }
    }

    pub async fn format(&mut self) -> AppResult<Format> {
        match self {
            Writer::Postgres { .. } => Ok(Format::Copy),
            Writer::Sqlite(conn) => {
                let mut handle = conn.lock_handle().await.map_err(sql_err("limits"))?;
                // SAFETY: a valid open connection, held locked; reading a limit changes nothing.
                let limit = unsafe {
                    libsqlite3_sys::sqlite3_limit(
                        handle.as_raw_handle().as_ptr(),
                        libsqlite3_sys::SQLITE_LIMIT_VARIABLE_NUMBER,
                        -1,
                    )
                };
                Ok(Format::Sqlite {
                    max_params: usize::try_from(limit).unwrap_or(999).max(999),
                })
            }
        }
    }

    /// The first free id of each table, in [`TABLES`] order.
    pub async fn bases(&mut self) -> AppResult<Bases> {
        let mut bases = [1i64; N_TABLES];
        for (base, table) in bases.iter_mut().zip(TABLES) {
            *base = match self {
                Writer::Postgres { conn, .. } => {
                    let sql = format!(
                        "SELECT GREATEST(COALESCE((SELECT MAX(id) FROM {table}), 0), \
                         COALESCE(pg_sequence_last_value(pg_get_serial_sequence('{table}', 'id')::regclass), 0)) + 1"
                    );
                    sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
                        .fetch_one(&mut **conn)
                        .await
                        .map_err(sql_err(table))?
                }
                Writer::Sqlite(conn) => {
                    let sql = format!(
                        "SELECT MAX(COALESCE((SELECT MAX(id) FROM {table}), 0), \
                         COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0)) + 1"
                    );
                    sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
                        .fetch_one(&mut **conn)
                        .await
                        .map_err(sql_err(table))?
                }
            };
        }
        Ok(Bases(bases))
    }

    /// Writes one chunk in one transaction.
    pub async fn write(&mut self, chunk: Encoded) -> AppResult<()> {
        match (self, chunk.body) {
            (Writer::Postgres { conn, set_based }, Body::Copy(tables)) => {
                let mut tx = conn.begin().await.map_err(sql_err("begin"))?;
                let mut settings = "SET LOCAL synchronous_commit = off".to_owned();
                if set_based.is_some() {
                    settings.push_str("; SET LOCAL session_replication_role = replica");
                }
                sqlx::raw_sql(AssertSqlSafe(settings))
                    .execute(&mut *tx)
                    .await
                    .map_err(sql_err("settings"))?;
                let mut setvals = Vec::new();
                for (table, statement, data) in tables {
                    let mut copy = tx.copy_in_raw(&statement).await.map_err(sql_err(table))?;
                    copy.send(data).await.map_err(sql_err(table))?;
                    copy.finish().await.map_err(sql_err(table))?;
                    setvals.push(format!(
                        "setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                    ));
                }
                if set_based.is_some() {
                    Self::check_references(&mut tx, &chunk.outside).await?;
                }
                if !setvals.is_empty() {
                    let sql = format!("SELECT {}", setvals.join(", "));
                    sqlx::query(AssertSqlSafe(sql))
                        .execute(&mut *tx)
                        .await
                        .map_err(sql_err("sequences"))?;
                }
                tx.commit().await.map_err(sql_err("commit"))
            }
            (Writer::Sqlite(conn), Body::Sqlite(statements)) => {
                let mut tx = conn
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(sql_err("begin"))?;
                for (sql, args) in statements {
                    sqlx::query_with(AssertSqlSafe(sql), args)
                        .execute(&mut *tx)
                        .await
                        .map_err(sql_err("insert"))?;
                }
                tx.commit().await.map_err(sql_err("commit"))
            }
            _ => Err(AppError::internal(
                "seeding: a chunk encoded for the other database",
            )),
        }
    }

    /// The chunk's references to rows outside it (the catalogue, mostly), checked as
    /// PostgreSQL's own triggers would: each referenced row must exist, and is locked
    /// (`FOR KEY SHARE`) until the commit, so that it cannot be deleted meanwhile. References to
    /// rows of the chunk itself need no look-up (see [`super::encode::encode`]).
    async fn check_references(
        tx: &mut PgConnection,
        outside: &[(ForeignKey, Vec<i64>)],
    ) -> AppResult<()> {
        for (key, values) in outside {
            let sql = format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM \"{}\" WHERE \"{}\" = ANY($1) FOR KEY SHARE) x",
                key.parent, key.parent_column
            );
            let found: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
                .bind(values)
                .fetch_one(&mut *tx)
                .await
                .map_err(sql_err("foreign keys"))?;
            if found != values.len() as i64 {
                return Err(AppError::internal(format!(
                    "seeding: rows of {} would break foreign key {} ({} of {} referenced rows exist); nothing of this chunk was written",
                    key.table,
                    key.name,
                    found,
                    values.len()
                )));
            }
        }
        Ok(())
    }

    /// Once every writer is done: each table's id sequence after its largest id (the chunks'
    /// own `setval`s, made by several writers at once, can leave one behind a chunk that
    /// committed later), fresh statistics for the planner, and the connection's settings back.
    pub async fn finish(mut self) -> AppResult<()> {
        match &mut self {
            Writer::Postgres { conn, .. } => {
                let setvals = TABLES
                    .iter()
                    .map(|t| {
                        format!(
                            "setval(pg_get_serial_sequence('{t}', 'id'), \
                             COALESCE((SELECT MAX(id) FROM {t}), 0) + 1, false)"
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                sqlx::query(AssertSqlSafe(format!("SELECT {setvals}")))
                    .execute(&mut **conn)
                    .await
                    .map_err(sql_err("sequences"))?;
                // One row per bucket per chunk in the kept counts, folded, and the tables
                // rewritten to the size of what is left (readers scan them).
                for sql in migration::m20261207_000018_maintained_counts::compaction() {
                    sqlx::query(AssertSqlSafe(sql))
                        .execute(&mut **conn)
                        .await
                        .map_err(sql_err("kept counts"))?;
                }
                sqlx::query(
                    "VACUUM FULL account_counts, report_activation_tallies, \
                     report_disconnection_tallies, report_status_tallies",
                )
                .execute(&mut **conn)
                .await
                .map_err(sql_err("kept counts"))?;
                let sql = format!(
                    "ANALYZE {}, account_counts, report_activation_tallies, \
                     report_disconnection_tallies, report_status_tallies",
                    TABLES.join(", ")
                );
                sqlx::query(AssertSqlSafe(sql))
                    .execute(&mut **conn)
                    .await
                    .map_err(sql_err("ANALYZE"))?;
            }
            Writer::Sqlite(conn) => {
                for sql in [
                    "ANALYZE",
                    "PRAGMA optimize",
                    "PRAGMA synchronous = FULL",
                    "PRAGMA cache_size = -2000",
                ] {
                    sqlx::query(sql)
                        .execute(&mut **conn)
                        .await
                        .map_err(sql_err(sql))?;
                }
            }
        }
        Ok(())
    }
}

/// The single-column foreign keys of the seeded tables (in the search path's schema); `None`
/// when one is not single-column (then PostgreSQL's own checks are kept).
async fn foreign_keys(conn: &mut PgConnection) -> AppResult<Option<Vec<ForeignKey>>> {
    let tables = TABLES
        .iter()
        .map(|t| format!("'{t}'::regclass"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT c.conname::text AS name, cl.relname::text AS child, a.attname::text AS col, \
                pl.relname::text AS parent, pa.attname::text AS pcol, cardinality(c.conkey) AS n \
         FROM pg_constraint c \
         JOIN pg_class cl ON cl.oid = c.conrelid \
         JOIN pg_class pl ON pl.oid = c.confrelid \
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
         JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1] \
         WHERE c.contype = 'f' AND c.conrelid = ANY(ARRAY[{tables}]) ORDER BY 1"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_err("foreign keys"))?;
    let mut keys = Vec::new();
    for row in rows {
        let get = |c: &str| row.try_get::<String, _>(c).map_err(sql_err("foreign keys"));
        let n: i32 = row.try_get("n").map_err(sql_err("foreign keys"))?;
        if n != 1 {
            return Ok(None);
        }
        keys.push(ForeignKey {
            name: get("name")?,
            table: get("child")?,
            column: get("col")?,
            parent: get("parent")?,
            parent_column: get("pcol")?,
        });
    }
    Ok(Some(keys))
}
