//! Exact counts that read no account: the `account_counts` table (kept by the database in
//! every transaction that creates an account or changes its company, status, type or
//! archiving; migration 18) answers the `total_count` of a root `accounts` listing whose filter
//! only names those columns, as a sum over a few rows instead of a count of every matching
//! account. Both read paths (the general resolvers and reads compiled to SQL) ask [`of`]
//! whether a listing qualifies, so both give the same totals.

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use super::filter::{Cmp, Filter, Test};
use crate::error::{AppError, AppResult};

/// The columns `account_counts` is kept by.
const KEPT: &[&str] = &["account_status_id", "account_type_id", "company_id"];

/// A root `accounts` listing that `account_counts` can count.
#[derive(Debug, Clone, PartialEq)]
pub struct Counted {
    /// `Some(false)`: unarchived accounts only; `Some(true)`: archived only; `None`: both.
    pub archived: Option<bool>,
    /// `column = value` conditions, each column one of [`KEPT`].
    pub equals: Vec<(&'static str, i64)>,
    /// The filter asks for archived and unarchived accounts at once: nothing matches.
    pub contradictory: bool,
}

/// Whether the listing of `table` (the root collection when `root`, hiding rows unless
/// `hidden_unless_null` is NULL) filtered by `filter` is counted by `account_counts`: only
/// when every condition is `=` on a kept column (or archived or not), in the top-level `AND`
/// or in a single `search` group.
pub fn of(
    table: &str,
    root: bool,
    hidden_unless_null: Option<&str>,
    filter: &Filter,
) -> Option<Counted> {
    if table != "accounts" || !root {
        return None;
    }
    let mut counted = Counted {
        archived: match hidden_unless_null {
            Some("archived_at") => Some(false),
            Some(_) => return None,
            None => None,
        },
        equals: Vec::new(),
        contradictory: false,
    };
    add(&mut counted, filter)?;
    Some(counted)
}

fn add(counted: &mut Counted, filter: &Filter) -> Option<()> {
    match filter {
        Filter::All(parts) => parts.iter().try_for_each(|p| add(counted, p)),
        Filter::Any(parts) if parts.len() == 1 => add(counted, &parts[0]),
        Filter::Any(_) => None,
        Filter::Column { column, test } => {
            let archived = match (*column, test) {
                ("archived_at", Test::IsNull) => Some(false),
                ("archived_at", Test::IsNotNull) => Some(true),
                _ => None,
            };
            if let Some(archived) = archived {
                if counted.archived.is_some_and(|a| a != archived) {
                    counted.contradictory = true;
                }
                counted.archived = Some(archived);
                return Some(());
            }
            let column = KEPT.iter().find(|k| **k == *column)?;
            match test {
                Test::Compare(Cmp::Eq, Value::BigInt(Some(v))) => {
                    counted.equals.push((column, *v));
                }
                Test::Compare(Cmp::Eq, Value::Int(Some(v))) => {
                    counted.equals.push((column, i64::from(*v)));
                }
                _ => return None,
            }
            Some(())
        }
    }
}

impl Counted {
    /// The counting statement's text, each value bound through `bind` (which returns its
    /// placeholder): one `BIGINT` value.
    pub fn sql(&self, mut bind: impl FnMut(Value) -> String) -> String {
        let mut sql = String::from(
            "SELECT CAST(COALESCE(SUM(c.n), 0) AS BIGINT) FROM account_counts c WHERE 1 = 1",
        );
        if let Some(archived) = self.archived {
            sql.push_str(if archived {
                " AND c.archived = TRUE"
            } else {
                " AND c.archived = FALSE"
            });
        }
        if self.contradictory {
            sql.push_str(" AND 1 = 0");
        }
        for (column, value) in &self.equals {
            sql.push_str(&format!(
                " AND c.{column} = {}",
                bind(Value::BigInt(Some(*value)))
            ));
        }
        sql
    }

    /// The count.
    pub async fn total<C: ConnectionTrait>(&self, db: &C) -> AppResult<u64> {
        let backend = db.get_database_backend();
        let mut values = Vec::new();
        let sql = self.sql(|v| {
            values.push(v);
            match backend {
                DbBackend::Postgres => format!("${}", values.len()),
                _ => format!("?{}", values.len()),
            }
        });
        let row = db
            .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?
            .ok_or_else(|| AppError::internal("no count row"))?;
        let n: i64 = row.try_get_by_index(0)?;
        Ok(n.max(0) as u64)
    }
}
