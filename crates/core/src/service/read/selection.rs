//! Reads compiled to one statement: a tree of pages, rows and relations becomes a single
//! `SELECT` whose one value is a JSON document holding every row the request needs.
//!
//! PostgreSQL builds it with `json_build_array`/`json_agg`, SQLite with `json_array`/
//! `json_group_array`. To-one relations by id are `LEFT JOIN`s; to-many relations (and a
//! to-one by another column) are correlated subqueries, an index lookup per parent row, as
//! PostGraphile does. Pages are `ORDER BY … LIMIT … OFFSET` inside a derived table so that only
//! the page's rows have their relations read, and a page's total is counted only when asked
//! for. `LIMIT` and `OFFSET` are bound values, so every page of a query is the same prepared
//! statement (PostgreSQL plans it once). A root page past the first finds its ids first, from
//! an index alone where one covers its filter and order, and reads only those rows whole
//! ([`Sql::page_rows`]): a deep page no longer reads every row it skips. On PostgreSQL a
//! page's rows are made in order in a subquery and aggregated in that order, without the sort
//! an `ORDER BY` inside `json_agg` costs. The statement may also confirm a cached
//! authentication (see [`statement`]). bench/RESULTS.md ("Reads at twice PostGraphile 5") has the
//! plans beside the SQL floors'.
//!
//! The document is positional, to stay small: `[stamp, page, …]`, a page is
//! `[total or null, [row, …] or null]` and a row is an array of its items in the order of
//! [`RowShape::items`]. The GraphQL layer
//! (`crate::graphql::execution::compiled`) knows which position answers which field.
//!
//! Column names reach this module from the entity descriptions (static allowlists), never from
//! a client; every value is a bound parameter. Filters have the same meaning as in
//! [`crate::service::read::collection`] (a differential test holds the two equal).

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use crate::db::inline::InlineReads;
use crate::error::{AppError, AppResult};
use crate::service::{
    access::tokens,
    read::collection::CollectionArgs,
    read::counts,
    read::filter::{Filter, Test},
};

/// The most items one row array may hold (PostgreSQL passes at most 100 arguments to a
/// function); a selection needing more is answered by the general resolvers.
pub const MAX_ROW_ITEMS: usize = 90;

/// A table, with what the compiler needs to know of its columns.
#[derive(Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    /// The kind of a column, `None` when the table has no such column.
    pub column: fn(&str) -> Option<ColumnKind>,
}

/// How a column is stored, which decides how its JSON value is read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// A 32-bit integer column.
    Int,
    /// A 64-bit integer column.
    BigInt,
    Bool,
    Double,
    Text,
    Date,
    /// An instant (`timestamptz` on PostgreSQL, text on SQLite).
    DateTimeUtc,
    /// Anything else (decimal, JSON, …): no field reads one today.
    Other,
}

/// How a relation finds its rows: `target.target_column = parent.source_column`, and
/// optionally `target.fixed.0 = fixed.1`.
#[derive(Clone)]
pub struct Join {
    pub source_column: &'static str,
    pub target_column: &'static str,
    pub fixed: Option<(&'static str, &'static str)>,
}

/// One page of a table: the rows matching `args` (and the table's hidden-row rule), counted
/// when `count`, read when `rows` says what to read of each.
pub struct Page {
    pub table: Table,
    pub args: CollectionArgs,
    /// A column that must be NULL for a row to be listed (removed and archived rows).
    pub hidden_unless_null: Option<&'static str>,
    pub count: bool,
    pub rows: Option<RowShape>,
}

/// What is read of each row, in order.
#[derive(Default)]
pub struct RowShape {
    pub items: Vec<Item>,
}

pub enum Item {
    Column(&'static str),
    /// The first row (by id) of `table` joined by `join`, or null.
    ToOne {
        table: Table,
        join: Join,
        hidden_unless_null: Option<&'static str>,
        row: RowShape,
    },
    /// A page of the rows joined by `join`.
    ToMany {
        join: Join,
        page: Page,
    },
}

impl RowShape {
    /// The position of `column` in the row, added if not there yet.
    pub fn column(&mut self, column: &'static str) -> usize {
        if let Some(i) = self
            .items
            .iter()
            .position(|item| matches!(item, Item::Column(c) if *c == column))
        {
            return i;
        }
        self.push(Item::Column(column))
    }

    pub fn push(&mut self, item: Item) -> usize {
        self.items.push(item);
        self.items.len() - 1
    }
}

/// Reads `pages` in one statement ([`statement`]) and gives its one value. On SQLite, `inline`
/// runs it on this thread when it can ([`crate::db::inline`]); `db`'s pool otherwise.
pub async fn read<C: ConnectionTrait>(
    db: &C,
    inline: Option<&InlineReads>,
    token_hash: Option<&str>,
    pages: &[Page],
) -> AppResult<String> {
    let statement = statement(db.get_database_backend(), token_hash, pages)?;
    if let Some(json) = inline.and_then(|i| i.query_one_text(&statement)) {
        return Ok(json);
    }
    let row = db
        .query_one_raw(statement)
        .await?
        .ok_or_else(|| AppError::internal("a compiled read returned no row"))?;
    Ok(row.try_get_by_index::<String>(0)?)
}

/// The one statement that reads `pages`. Its answer ([`read`]) is a JSON array: first the
/// stamp of the token whose hash is `token_hash`
/// ([`crate::service::access::tokens::stamp_subquery`]; null when not asked for, or when the
/// token is no longer valid), then one `[total, rows]` per page.
pub fn statement(
    backend: DbBackend,
    token_hash: Option<&str>,
    pages: &[Page],
) -> AppResult<Statement> {
    let mut sql = Sql {
        text: String::with_capacity(1024),
        values: Vec::new(),
        pg: backend == DbBackend::Postgres,
        aliases: 0,
    };
    sql.text.push_str("SELECT ");
    if sql.pg {
        sql.text.push_str("CAST(");
    }
    sql.array_open();
    match token_hash {
        Some(hash) => {
            let param = sql.capture(|sql| {
                sql.bind(Value::String(Some(hash.to_owned())));
                Ok(())
            })?;
            sql.text.push_str(&tokens::stamp_subquery(&param));
        }
        None => sql.text.push_str("NULL"),
    }
    for page in pages {
        sql.text.push_str(", ");
        sql.page(page, None)?;
    }
    sql.text.push(')');
    if sql.pg {
        sql.text.push_str(" AS TEXT)");
    }
    Ok(Statement::from_sql_and_values(
        backend, sql.text, sql.values,
    ))
}

struct Sql {
    text: String,
    values: Vec<Value>,
    pg: bool,
    aliases: usize,
}

impl Sql {
    fn alias(&mut self) -> String {
        self.aliases += 1;
        format!("t{}", self.aliases)
    }

    fn array_open(&mut self) {
        self.text.push_str(if self.pg {
            "json_build_array("
        } else {
            "json_array("
        });
    }

    /// A bound value, numbered (`$n`, `?n`) so that text written out of order (joins, which
    /// are written after the rows that use them) still binds the right value.
    fn bind(&mut self, value: Value) {
        self.values.push(value);
        self.text.push(if self.pg { '$' } else { '?' });
        self.text.push_str(&self.values.len().to_string());
    }

    /// What `f` writes, taken out of the statement's text.
    fn capture(&mut self, f: impl FnOnce(&mut Self) -> AppResult<()>) -> AppResult<String> {
        let outer = std::mem::take(&mut self.text);
        let result = f(self);
        let captured = std::mem::replace(&mut self.text, outer);
        result.map(|()| captured)
    }

    fn col(&mut self, alias: &str, column: &str) {
        self.text.push_str(alias);
        self.text.push_str(".\"");
        self.text.push_str(column);
        self.text.push('"');
    }

    /// A nested JSON value (a subquery's answer): SQLite must be told it is JSON, not text.
    fn nested(&mut self, f: impl FnOnce(&mut Self) -> AppResult<()>) -> AppResult<()> {
        self.text.push_str(if self.pg { "(" } else { "json((" });
        f(self)?;
        self.text.push_str(if self.pg { ")" } else { "))" });
        Ok(())
    }

    /// `[total or null, rows or null]` of `page`, joined to the row `parent` when a relation.
    fn page(&mut self, page: &Page, parent: Option<(&str, &Join)>) -> AppResult<()> {
        let a = self.alias();
        self.array_open();
        let counted = match page.count {
            true => counts::of(
                page.table.name,
                parent.is_none(),
                page.hidden_unless_null,
                &Filter::of(&page.args)?,
            ),
            false => None,
        };
        if let Some(counted) = counted {
            // Kept counts (`account_counts`): a sum over a few rows.
            let text = counted.sql(|v| {
                self.capture(|sql| {
                    sql.bind(v);
                    Ok(())
                })
                .unwrap_or_default()
            });
            self.text.push('(');
            self.text.push_str(&text);
            self.text.push(')');
        } else if page.count {
            self.text.push_str("(SELECT COUNT(*) FROM \"");
            self.text.push_str(page.table.name);
            self.text.push_str("\" ");
            self.text.push_str(&a);
            self.where_clause(&a, page, parent)?;
            self.text.push(')');
        } else {
            self.text.push_str("NULL");
        }
        self.text.push_str(", ");
        match &page.rows {
            None => self.text.push_str("NULL"),
            Some(shape) => self.nested(|sql| {
                let mut joins = String::new();
                if sql.pg {
                    // The rows are made in order in a subquery and aggregated as they come
                    // (PostgreSQL feeds an aggregate a subquery's rows in its order), which
                    // spares the sort an `ORDER BY` inside `json_agg` would do again.
                    sql.text
                        .push_str("SELECT COALESCE(json_agg(r.j), '[]'::json) FROM (SELECT ");
                    sql.row(&a, page.table, shape, &mut joins)?;
                    sql.text.push_str(" AS j FROM ");
                    sql.page_rows(&a, page, parent)?;
                    sql.text.push_str(&joins);
                    sql.text.push_str(" ORDER BY ");
                    sql.order(&a, page)?;
                    sql.text.push_str(") r");
                } else {
                    sql.text.push_str("SELECT json_group_array(");
                    sql.row(&a, page.table, shape, &mut joins)?;
                    sql.text.push_str(" ORDER BY ");
                    sql.order(&a, page)?;
                    sql.text.push_str(") FROM ");
                    sql.page_rows(&a, page, parent)?;
                    sql.text.push_str(&joins);
                }
                Ok(())
            })?,
        }
        self.text.push(')');
        Ok(())
    }

    /// The rows of `page` as a derived table named `a`. `LIMIT` and `OFFSET` are bound, so
    /// that every page of a query is one prepared statement. A root page past the first finds
    /// its ids first (`… LIMIT n OFFSET m` over the ids alone, which an index covering the
    /// filter and order answers without reading the rows it skips) and then reads only those
    /// rows whole; the rows are the same, in no particular order (the caller orders them).
    fn page_rows(&mut self, a: &str, page: &Page, parent: Option<(&str, &Join)>) -> AppResult<()> {
        let offset = (page.args.page - 1) * page.args.records_per_page;
        self.text.push_str("(SELECT * FROM \"");
        self.text.push_str(page.table.name);
        self.text.push_str("\" ");
        self.text.push_str(a);
        let deferred = parent.is_none() && offset > 0;
        if deferred {
            self.text.push_str(" WHERE ");
            self.col(a, "id");
            // `= ANY(ARRAY(…))`: PostgreSQL looks the ids up by primary key (with `IN` it may
            // hash-join a scan of the whole table); SQLite looks `IN` ids up by rowid.
            self.text.push_str(if self.pg {
                " = ANY(ARRAY(SELECT "
            } else {
                " IN (SELECT "
            });
            self.col(a, "id");
            self.text.push_str(" FROM \"");
            self.text.push_str(page.table.name);
            self.text.push_str("\" ");
            self.text.push_str(a);
        }
        self.where_clause(a, page, parent)?;
        self.text.push_str(" ORDER BY ");
        self.order(a, page)?;
        self.text.push_str(" LIMIT ");
        self.bind(Value::BigInt(Some(page.args.records_per_page as i64)));
        self.text.push_str(" OFFSET ");
        self.bind(Value::BigInt(Some(offset as i64)));
        if deferred {
            self.text.push_str(if self.pg { "))" } else { ")" });
        }
        self.text.push_str(") ");
        self.text.push_str(a);
        Ok(())
    }

    /// The JSON array of one row of `table` (alias `a`). To-one relations by id become
    /// `LEFT JOIN`s, written into `joins` for the caller to put after its `FROM`; other
    /// relations are correlated subqueries.
    fn row(
        &mut self,
        a: &str,
        table: Table,
        shape: &RowShape,
        joins: &mut String,
    ) -> AppResult<()> {
        if shape.items.len() > MAX_ROW_ITEMS {
            return Err(AppError::internal("a compiled row holds too many items"));
        }
        self.array_open();
        for (i, item) in shape.items.iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            match item {
                Item::Column(column) => {
                    known(table, column)?;
                    self.col(a, column);
                }
                Item::ToOne {
                    table: target,
                    join,
                    hidden_unless_null,
                    row,
                } if join.target_column == "id" => {
                    // At most one row: a LEFT JOIN, which the planner serves far more cheaply
                    // than a lookup per row.
                    known(table, join.source_column)?;
                    let b = self.alias();
                    let on = self.capture(|sql| {
                        sql.text.push_str(" LEFT JOIN \"");
                        sql.text.push_str(target.name);
                        sql.text.push_str("\" ");
                        sql.text.push_str(&b);
                        sql.text.push_str(" ON ");
                        sql.join(&b, *target, a, join)?;
                        if let Some(column) = hidden_unless_null {
                            sql.text.push_str(" AND ");
                            sql.col(&b, column);
                            sql.text.push_str(" IS NULL");
                        }
                        Ok(())
                    })?;
                    joins.push_str(&on);
                    self.text.push_str(if self.pg {
                        "CASE WHEN "
                    } else {
                        "json(CASE WHEN "
                    });
                    self.col(&b, "id");
                    self.text.push_str(" IS NULL THEN NULL ELSE ");
                    self.row(&b, *target, row, joins)?;
                    self.text.push_str(if self.pg { " END" } else { " END)" });
                }
                Item::ToOne {
                    table: target,
                    join,
                    hidden_unless_null,
                    row,
                } => {
                    known(table, join.source_column)?;
                    let b = self.alias();
                    self.nested(|sql| {
                        let mut inner = String::new();
                        sql.text.push_str("SELECT ");
                        sql.row(&b, *target, row, &mut inner)?;
                        sql.text.push_str(" FROM \"");
                        sql.text.push_str(target.name);
                        sql.text.push_str("\" ");
                        sql.text.push_str(&b);
                        sql.text.push_str(&inner);
                        sql.text.push_str(" WHERE ");
                        sql.join(&b, *target, a, join)?;
                        if let Some(column) = hidden_unless_null {
                            sql.text.push_str(" AND ");
                            sql.col(&b, column);
                            sql.text.push_str(" IS NULL");
                        }
                        sql.text.push_str(" ORDER BY ");
                        sql.col(&b, "id");
                        sql.text.push_str(" LIMIT 1");
                        Ok(())
                    })?;
                }
                Item::ToMany { join, page } => {
                    known(table, join.source_column)?;
                    self.page(page, Some((a, join)))?;
                }
            }
        }
        self.text.push(')');
        Ok(())
    }

    fn join(&mut self, b: &str, target: Table, a: &str, join: &Join) -> AppResult<()> {
        known(target, join.target_column)?;
        self.col(b, join.target_column);
        self.text.push_str(" = ");
        self.col(a, join.source_column);
        if let Some((column, value)) = join.fixed {
            known(target, column)?;
            self.text.push_str(" AND ");
            self.col(b, column);
            self.text.push_str(" = ");
            self.bind(Value::String(Some(value.to_owned())));
        }
        Ok(())
    }

    fn order(&mut self, a: &str, page: &Page) -> AppResult<()> {
        for (column, descending) in &page.args.sort {
            known(page.table, column)?;
            self.col(a, column);
            self.text
                .push_str(if *descending { " DESC, " } else { " ASC, " });
        }
        self.col(a, "id");
        self.text.push_str(" ASC");
        Ok(())
    }

    fn where_clause(
        &mut self,
        a: &str,
        page: &Page,
        parent: Option<(&str, &Join)>,
    ) -> AppResult<()> {
        self.text.push_str(" WHERE ");
        let mut first = true;
        let mut and = |sql: &mut Self| {
            if !std::mem::take(&mut first) {
                sql.text.push_str(" AND ");
            }
        };
        if let Some((parent, join)) = parent {
            and(self);
            self.join(a, page.table, parent, join)?;
        }
        if let Some(column) = page.hidden_unless_null {
            known(page.table, column)?;
            and(self);
            self.col(a, column);
            self.text.push_str(" IS NULL");
        }
        // The filter's top level is an AND, joined with the conditions above.
        let Filter::All(parts) = Filter::of(&page.args)? else {
            return Err(AppError::internal("a collection filter is not an AND"));
        };
        for part in &parts {
            and(self);
            self.filter(a, page.table, part)?;
        }
        if first {
            self.text.push_str("1 = 1");
        }
        Ok(())
    }

    /// One clause, with the meaning [`crate::service::read::collection`] gives it.
    /// Renders a [`Filter`] (what the general path renders with sea-query) as SQL text.
    fn filter(&mut self, a: &str, table: Table, filter: &Filter) -> AppResult<()> {
        match filter {
            Filter::All(parts) | Filter::Any(parts) => {
                let (join, empty) = match filter {
                    Filter::All(_) => (" AND ", "1 = 1"),
                    _ => (" OR ", "1 = 0"),
                };
                self.text.push('(');
                if parts.is_empty() {
                    self.text.push_str(empty);
                }
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        self.text.push_str(join);
                    }
                    self.filter(a, table, part)?;
                }
                self.text.push(')');
            }
            Filter::Column { column, test } => {
                known(table, column)?;
                match test {
                    Test::IsNull => {
                        self.col(a, column);
                        self.text.push_str(" IS NULL");
                    }
                    Test::IsNotNull => {
                        self.col(a, column);
                        self.text.push_str(" IS NOT NULL");
                    }
                    Test::Like { pattern, negated } => {
                        self.text.push_str("LOWER(");
                        self.col(a, column);
                        self.text
                            .push_str(if *negated { ") NOT LIKE " } else { ") LIKE " });
                        self.bind(Value::String(Some(pattern.clone())));
                        self.text.push_str(" ESCAPE '\\'");
                    }
                    Test::Compare(cmp, value) => {
                        self.col(a, column);
                        self.text.push_str(cmp.sql());
                        self.bind(value.clone());
                    }
                    Test::NotEqualOrNull(value) => {
                        self.text.push('(');
                        self.col(a, column);
                        self.text.push_str(" <> ");
                        self.bind(value.clone());
                        self.text.push_str(" OR ");
                        self.col(a, column);
                        self.text.push_str(" IS NULL)");
                    }
                }
            }
        }
        Ok(())
    }
}

/// Checks that `column` is a column of `table` (a description naming a field that is not a
/// column is answered by the general resolvers instead).
fn known(table: Table, column: &str) -> AppResult<()> {
    (table.column)(column)
        .map(|_| ())
        .ok_or_else(|| AppError::internal(format!("{} has no column {column}", table.name)))
}
