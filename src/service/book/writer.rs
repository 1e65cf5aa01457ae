//! Writing chunks with bulk statements, one transaction per chunk.
//!
//! PostgreSQL: one `COPY … FROM STDIN` (text format) per table per chunk, with
//! `synchronous_commit` off for those transactions only (a crash loses at most the last chunks
//! committed, never consistency). SQLite: multi-row `INSERT`s with as many rows as the bound
//! parameter limit allows (`SQLITE_LIMIT_VARIABLE_NUMBER`, read from the connection), prepared
//! once per table, with `synchronous = OFF` and a large page cache on the seeding connection
//! only. Indexes, foreign keys and triggers all stay: every row is checked as the API's would be.
//!
//! Encoding (COPY text, or SQLite arguments) happens on the generator's thread
//! ([`encode`]), so the database connection only ships bytes.
//!
//! Ids: the generator numbers rows itself from the first free id of each table ([`Writer::bases`]:
//! past both the largest id and, on PostgreSQL, the identity sequence, on SQLite the
//! `AUTOINCREMENT` counter). Each chunk's transaction moves PostgreSQL's sequences past its rows
//! (as [`crate::service::addresses::bump_sequence`] does), so the API's next rows never collide;
//! SQLite moves its counter itself. Nothing else may write these tables while seeding.

use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::sqlite::SqliteArguments;
use sea_orm::sqlx::{self, Arguments, AssertSqlSafe, Connection, Postgres, Sqlite};
use sea_orm::{DatabaseConnection, DbBackend, EntityTrait, ModelTrait, Value};

use super::rows::{columns, values, Bases, Chunk, TABLES};
use crate::entity::{
    account, account_event, account_service, address, contact, debit, disconnection_log, discount,
    invoice, invoice_discount_application as application, log, scheduled_event,
    serviceable_address_account_assignment_history as history,
};
use crate::error::{AppError, AppResult};

/// How rows are encoded for the database at hand.
#[derive(Debug, Clone, Copy)]
pub enum Format {
    Copy,
    Sqlite { max_params: usize },
}

/// A chunk ready to send.
pub struct Encoded {
    pub accounts: u64,
    pub rows: [usize; 13],
    body: Body,
}

enum Body {
    /// `(table, its COPY statement, the rows as COPY text)`.
    Copy(Vec<(&'static str, String, Vec<u8>)>),
    /// `(statement, its arguments)`, in order.
    Sqlite(Vec<(Arc<str>, SqliteArguments)>),
}

fn sql_err(what: &str) -> impl Fn(sqlx::Error) -> AppError + '_ {
    move |e| AppError::internal(format!("seeding ({what}): {e}"))
}

/// Encodes a chunk's rows, table by table in [`TABLES`] order.
pub fn encode(chunk: Chunk, format: Format) -> AppResult<Encoded> {
    let rows = chunk.counts();
    let mut enc = Encoder {
        format,
        copy: Vec::new(),
        sqlite: Vec::new(),
    };
    enc.table::<account::Entity>(TABLES[0], &chunk.accounts)?;
    enc.table::<address::Entity>(TABLES[1], &chunk.addresses)?;
    enc.table::<history::Entity>(TABLES[2], &chunk.histories)?;
    enc.table::<contact::Entity>(TABLES[3], &chunk.contacts)?;
    enc.table::<account_service::Entity>(TABLES[4], &chunk.account_services)?;
    enc.table::<scheduled_event::Entity>(TABLES[5], &chunk.scheduled_events)?;
    enc.table::<invoice::Entity>(TABLES[6], &chunk.invoices)?;
    enc.table::<debit::Entity>(TABLES[7], &chunk.debits)?;
    enc.table::<discount::Entity>(TABLES[8], &chunk.discounts)?;
    enc.table::<application::Entity>(TABLES[9], &chunk.applications)?;
    enc.table::<disconnection_log::Entity>(TABLES[10], &chunk.disconnection_logs)?;
    enc.table::<account_event::Entity>(TABLES[11], &chunk.account_events)?;
    enc.table::<log::Entity>(TABLES[12], &chunk.logs)?;
    Ok(Encoded {
        accounts: chunk.book_accounts,
        rows,
        body: match format {
            Format::Copy => Body::Copy(enc.copy),
            Format::Sqlite { .. } => Body::Sqlite(enc.sqlite),
        },
    })
}

struct Encoder {
    format: Format,
    copy: Vec<(&'static str, String, Vec<u8>)>,
    sqlite: Vec<(Arc<str>, SqliteArguments)>,
}

impl Encoder {
    fn table<E: EntityTrait>(&mut self, name: &'static str, rows: &[E::Model]) -> AppResult<()>
    where
        E::Model: ModelTrait<Entity = E>,
    {
        if rows.is_empty() {
            return Ok(());
        }
        let cols = columns::<E>();
        let list = cols
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(",");
        match self.format {
            Format::Copy => {
                let mut out = Vec::with_capacity(rows.len() * cols.len() * 12);
                for row in rows {
                    for (i, value) in values(row).enumerate() {
                        if i > 0 {
                            out.push(b'\t');
                        }
                        copy_value(&mut out, value)?;
                    }
                    out.push(b'\n');
                }
                self.copy
                    .push((name, format!("COPY {name} ({list}) FROM STDIN"), out));
            }
            Format::Sqlite { max_params } => {
                let per_statement = (max_params / cols.len()).max(1);
                let tuple = format!("({})", vec!["?"; cols.len()].join(","));
                let statement = |n: usize| -> Arc<str> {
                    format!(
                        "INSERT INTO \"{name}\" ({list}) VALUES {}",
                        vec![tuple.as_str(); n].join(",")
                    )
                    .into()
                };
                let full = statement(per_statement);
                for batch in rows.chunks(per_statement) {
                    let mut args = SqliteArguments::default();
                    args.reserve(batch.len() * cols.len(), 0);
                    for row in batch {
                        for value in values(row) {
                            sqlite_value(&mut args, value)?;
                        }
                    }
                    let sql = if batch.len() == per_statement {
                        full.clone()
                    } else {
                        statement(batch.len())
                    };
                    self.sqlite.push((sql, args));
                }
            }
        }
        Ok(())
    }
}

fn unexpected(value: &Value) -> AppError {
    AppError::internal(format!("seeding: no bulk encoding for {value:?}"))
}

fn date_text(out: &mut Vec<u8>, d: NaiveDate) {
    let _ = write!(out, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
}

fn instant_text(out: &mut Vec<u8>, t: DateTime<Utc>) {
    date_text(out, t.date_naive());
    let _ = write!(
        out,
        " {:02}:{:02}:{:02}.{:06}+00",
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond() / 1000
    );
}

/// One field of PostgreSQL's COPY text format.
fn copy_value(out: &mut Vec<u8>, value: Value) -> AppResult<()> {
    match value {
        Value::Bool(Some(b)) => out.push(if b { b't' } else { b'f' }),
        Value::Int(Some(i)) => {
            let _ = write!(out, "{i}");
        }
        Value::BigInt(Some(i)) => {
            let _ = write!(out, "{i}");
        }
        Value::Double(Some(f)) => {
            let _ = write!(out, "{f}");
        }
        Value::String(Some(s)) => {
            for b in s.bytes() {
                match b {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    other => out.push(other),
                }
            }
        }
        Value::ChronoDate(Some(d)) => date_text(out, d),
        Value::ChronoDateTimeUtc(Some(t)) => instant_text(out, t),
        other if other.as_null() == other => out.extend_from_slice(b"\\N"),
        other => return Err(unexpected(&other)),
    }
    Ok(())
}

/// One bound parameter, encoded as sea-orm's own binding would (so dates and instants are the
/// same text the API writes and compares).
fn sqlite_value(args: &mut SqliteArguments, value: Value) -> AppResult<()> {
    let added = match value {
        Value::Bool(b) => args.add(b),
        Value::Int(i) => args.add(i),
        Value::BigInt(i) => args.add(i),
        Value::Double(f) => args.add(f),
        Value::String(s) => args.add(s),
        Value::ChronoDate(d) => args.add(d),
        Value::ChronoDateTimeUtc(t) => args.add(t),
        other => return Err(unexpected(&other)),
    };
    added.map_err(AppError::internal)
}

/// A connection of its own for the whole seeding.
pub enum Writer {
    Postgres(PoolConnection<Postgres>),
    Sqlite(PoolConnection<Sqlite>),
}

impl Writer {
    pub async fn open(db: &DatabaseConnection) -> AppResult<Writer> {
        Ok(match db.get_database_backend() {
            DbBackend::Postgres => Writer::Postgres(
                db.get_postgres_connection_pool()
                    .acquire()
                    .await
                    .map_err(sql_err("connect"))?,
            ),
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

    pub async fn format(&mut self) -> AppResult<Format> {
        match self {
            Writer::Postgres(_) => Ok(Format::Copy),
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
        let mut bases = [1i64; 13];
        for (base, table) in bases.iter_mut().zip(TABLES) {
            *base = match self {
                Writer::Postgres(conn) => {
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
            (Writer::Postgres(conn), Body::Copy(tables)) => {
                let mut tx = conn.begin().await.map_err(sql_err("begin"))?;
                sqlx::query("SET LOCAL synchronous_commit = off")
                    .execute(&mut *tx)
                    .await
                    .map_err(sql_err("synchronous_commit"))?;
                let mut setvals = Vec::new();
                for (table, statement, data) in tables {
                    let mut copy = tx.copy_in_raw(&statement).await.map_err(sql_err(table))?;
                    copy.send(data).await.map_err(sql_err(table))?;
                    copy.finish().await.map_err(sql_err(table))?;
                    setvals.push(format!(
                        "setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                    ));
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

    /// Fresh statistics for the planner, and the connection's settings back.
    pub async fn finish(mut self) -> AppResult<()> {
        match &mut self {
            Writer::Postgres(conn) => {
                let sql = format!("ANALYZE {}", TABLES.join(", "));
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
