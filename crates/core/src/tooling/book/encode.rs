//! Encoding a chunk for the database at hand, on the generator's thread (so the connection only
//! ships bytes): PostgreSQL's binary `COPY` format, which spares the server parsing every date,
//! instant and number from text; or SQLite multi-row `INSERT`s with as many rows per statement
//! as the bound parameter limit allows, each value bound as sea-orm itself binds it (so dates
//! and instants are the very text the API writes and compares).
//!
//! Values come from the entities' models column by column ([`values`]), so the encoding follows
//! the entities, which mirror the migrations.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;
use sea_orm::sqlx::sqlite::SqliteArguments;
use sea_orm::sqlx::Arguments;
use sea_orm::{EntityTrait, IdenStatic, Iterable, ModelTrait, Value};

use super::rows::{columns, values, Chunk, N_TABLES, TABLES};
use crate::entity::{
    account, account_event, account_service, address, contact, debit, disconnection_log, discount,
    invoice, invoice_discount_application as application,
    invoice_payment_application as payment_application, log, payment, scheduled_event,
    serviceable_address_account_assignment_history as history,
};
use crate::error::{AppError, AppResult};

/// How rows are encoded for the database at hand.
#[derive(Debug, Clone, Copy)]
pub enum Format {
    Copy,
    Sqlite { max_params: usize },
}

/// A single-column foreign key, from the database's catalogue.
#[derive(Debug, Clone)]
pub struct ForeignKey {
    pub name: String,
    pub table: String,
    pub column: String,
    pub parent: String,
    pub parent_column: String,
}

/// A chunk ready to send.
pub struct Encoded {
    pub accounts: u64,
    pub rows: [usize; N_TABLES],
    pub body: Body,
    /// The references of the chunk's rows that are not to rows of the chunk itself, by foreign
    /// key: `(key, distinct referenced values)`. The writer checks (and locks) them.
    pub outside: Vec<(ForeignKey, Vec<i64>)>,
}

pub enum Body {
    /// `(table, its COPY statement, the rows in COPY's binary format)`.
    Copy(Vec<(&'static str, String, Vec<u8>)>),
    /// `(statement, its arguments)`, in order.
    Sqlite(Vec<(Arc<str>, SqliteArguments)>),
}

/// Encodes a chunk's rows, table by table in [`TABLES`] order, and sorts the references of
/// its rows under `keys`: a reference to an id the chunk itself inserts exists once the chunk is
/// written (its rows have exactly the ids `[base, base + count)` of their table, checked here);
/// the others are returned for the writer to check.
pub fn encode(chunk: Chunk, format: Format, keys: &[ForeignKey]) -> AppResult<Encoded> {
    let rows = chunk.counts();
    let mut enc = Encoder {
        format,
        copy: Vec::new(),
        sqlite: Vec::new(),
        keys,
        bases: chunk.bases,
        rows,
        outside: BTreeMap::new(),
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
    enc.table::<payment::Entity>(TABLES[13], &chunk.payments)?;
    enc.table::<payment_application::Entity>(TABLES[14], &chunk.payment_applications)?;
    let outside = enc
        .outside
        .into_iter()
        .map(|(i, values)| (keys[i].clone(), values.into_iter().collect()))
        .collect();
    Ok(Encoded {
        accounts: chunk.book_accounts,
        rows,
        outside,
        body: match format {
            Format::Copy => Body::Copy(enc.copy),
            Format::Sqlite { .. } => Body::Sqlite(enc.sqlite),
        },
    })
}

struct Encoder<'k> {
    format: Format,
    copy: Vec<(&'static str, String, Vec<u8>)>,
    sqlite: Vec<(Arc<str>, SqliteArguments)>,
    keys: &'k [ForeignKey],
    bases: [i64; N_TABLES],
    rows: [usize; N_TABLES],
    /// Referenced values outside the chunk, by position in `keys`.
    outside: BTreeMap<usize, BTreeSet<i64>>,
}

/// The signature, flags and header extension length that open a binary COPY stream.
const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

impl Encoder<'_> {
    /// The position of `table`'s rows in the chunk: `[base, base + count)`.
    fn chunk_ids(&self, table: &str) -> Option<std::ops::Range<i64>> {
        let i = TABLES.iter().position(|t| *t == table)?;
        Some(self.bases[i]..self.bases[i] + self.rows[i] as i64)
    }

    fn references<E: EntityTrait>(&mut self, name: &str, rows: &[E::Model]) -> AppResult<()>
    where
        E::Model: ModelTrait<Entity = E>,
    {
        let ids = self.chunk_ids(name).unwrap_or_default();
        let id = E::Column::iter().find(|c| c.as_str() == "id");
        for (row, expected) in rows.iter().zip(ids) {
            if id.map(|c| row.get(c)) != Some(Value::BigInt(Some(expected))) {
                return Err(AppError::internal(format!(
                    "seeding: the rows of {name} are not numbered from their base"
                )));
            }
        }
        for (k, key) in self.keys.iter().enumerate() {
            if key.table != name {
                continue;
            }
            let Some(column) = E::Column::iter().find(|c| c.as_str() == key.column) else {
                continue;
            };
            let inside = (key.parent_column == "id")
                .then(|| self.chunk_ids(&key.parent))
                .flatten()
                .unwrap_or_default();
            for row in rows {
                if let Value::BigInt(Some(v)) = row.get(column) {
                    if !inside.contains(&v) {
                        self.outside.entry(k).or_default().insert(v);
                    }
                }
            }
        }
        Ok(())
    }

    fn table<E: EntityTrait>(&mut self, name: &'static str, rows: &[E::Model]) -> AppResult<()>
    where
        E::Model: ModelTrait<Entity = E>,
    {
        if rows.is_empty() {
            return Ok(());
        }
        self.references::<E>(name, rows)?;
        let cols = columns::<E>();
        let list = cols
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(",");
        match self.format {
            Format::Copy => {
                let mut out = Vec::with_capacity(rows.len() * cols.len() * 10);
                out.extend_from_slice(COPY_HEADER);
                for row in rows {
                    out.extend_from_slice(&(cols.len() as i16).to_be_bytes());
                    for value in values(row) {
                        copy_value(&mut out, value)?;
                    }
                }
                out.extend_from_slice(&(-1i16).to_be_bytes());
                let statement = format!("COPY \"{name}\" ({list}) FROM STDIN (FORMAT binary)");
                self.copy.push((name, statement, out));
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

/// PostgreSQL's epoch for dates and instants.
fn pg_epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default()
}

/// Microseconds from the Unix epoch to PostgreSQL's.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// One field of COPY's binary format: its length, then the type's binary send format
/// (`int8`, `int4`, `bool`, `float8`, text as UTF-8, `date` as days and `timestamptz` as
/// microseconds since 2000-01-01).
fn copy_value(out: &mut Vec<u8>, value: Value) -> AppResult<()> {
    match value {
        Value::Bool(Some(b)) => field(out, &[b as u8]),
        Value::Int(Some(i)) => field(out, &i.to_be_bytes()),
        Value::BigInt(Some(i)) => field(out, &i.to_be_bytes()),
        Value::Double(Some(f)) => field(out, &f.to_be_bytes()),
        Value::String(Some(s)) => field(out, s.as_bytes()),
        Value::ChronoDate(Some(d)) => {
            let days = (d - pg_epoch()).num_days() as i32;
            field(out, &days.to_be_bytes());
        }
        Value::ChronoDateTimeUtc(Some(t)) => {
            field(out, &(t.timestamp_micros() - PG_EPOCH_MICROS).to_be_bytes())
        }
        other if other.as_null() == other => out.extend_from_slice(&(-1i32).to_be_bytes()),
        other => return Err(unexpected(&other)),
    }
    Ok(())
}

/// One bound parameter, as sea-orm's SQLite binding would bind it.
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
