//! The one collection mechanism: equality filters, `search` (AND inside a group, OR between
//! groups), `general_search`, sorting and paging, over any entity.
//!
//! Attribute names reach this module already checked against the entity's allowlist (the
//! GraphQL layer does that, naming the bad attribute in a `VALIDATION_FAILED`), so nothing a
//! client typed is ever spliced into SQL: names are `&'static str` from the allowlist and
//! values are bound parameters.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Func;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, ExprTrait, ModelTrait, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select, Value,
};

use super::filter::Filter;
use crate::error::AppResult;
use crate::service::base::{store::column, values::Page};

/// Largest page a client may ask for (as in Sonar).
pub const MAX_RECORDS_PER_PAGE: u64 = 10_000;
pub const DEFAULT_RECORDS_PER_PAGE: u64 = 100;
/// At most this many `sorter` entries (no entity has a use for more; SQLite refuses very long
/// `ORDER BY` lists).
pub const MAX_SORTERS: usize = 10;
/// At most this many `Search` alternatives in one `search` argument.
pub const MAX_SEARCHES: usize = 100;
/// At most this many fields in one `Search` (its lists together). With [`MAX_SEARCHES`], a
/// search stays far below SQLite's limit on expression depth.
pub const MAX_SEARCH_FIELDS: usize = 50;
/// At most this many characters in a text searched for (`general_search`, a `search_value`).
pub const MAX_SEARCH_TEXT: usize = 1_000;

/// A value to compare a column with.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    Int(i64),
    Str(String),
    Bool(bool),
    Date(NaiveDate),
    Datetime(DateTime<Utc>),
    Float(f64),
}

impl FilterValue {
    pub(crate) fn into_value(self) -> Value {
        match self {
            FilterValue::Int(v) => Value::BigInt(Some(v)),
            FilterValue::Str(v) => Value::String(Some(v)),
            FilterValue::Bool(v) => Value::Bool(Some(v)),
            FilterValue::Date(v) => Value::ChronoDate(Some(v)),
            FilterValue::Datetime(v) => Value::ChronoDateTimeUtc(Some(v)),
            FilterValue::Float(v) => Value::Double(Some(v)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    /// Case-insensitive substring match.
    Contains,
    NotContains,
    IsNull,
    IsNotNull,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub column: &'static str,
    pub op: Op,
    pub value: Option<FilterValue>,
}

/// Everything a client can say about which rows of a collection it wants.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionArgs {
    /// Equality filters, ANDed.
    pub equals: Vec<Clause>,
    /// Search groups: clauses inside a group AND, groups OR.
    pub search: Vec<Vec<Clause>>,
    /// Case-insensitive substring over the entity's general-search columns (ORed).
    pub general_search: Option<(String, Vec<&'static str>)>,
    pub sort: Vec<(&'static str, bool)>,
    pub page: u64,
    pub records_per_page: u64,
}

impl Default for CollectionArgs {
    fn default() -> Self {
        CollectionArgs {
            equals: Vec::new(),
            search: Vec::new(),
            general_search: None,
            sort: Vec::new(),
            page: 1,
            records_per_page: DEFAULT_RECORDS_PER_PAGE,
        }
    }
}

/// Rows that listings of a table leave out: archived accounts, unless the caller asks for
/// them (`include_archived`, on the root `accounts` collection only); removed account
/// services, deleted webhook endpoints and deleted subscriptions, always. One rule for both read paths (the general resolvers and reads compiled
/// to SQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hiding {
    /// The column that must be NULL for a row to be listed.
    pub column: &'static str,
    /// The argument of the root collection that shows the hidden rows too; `None`: they are
    /// never listed, by relations neither.
    pub shown_by: Option<&'static str>,
    /// What the hidden rows are, in words.
    pub what: &'static str,
}

/// How listings of `table` hide rows, if they do.
pub fn hiding(table: &str) -> Option<Hiding> {
    use crate::entity::{account, account_service, webhook_endpoint, webhook_endpoint_event};
    use sea_orm::EntityName;
    if table == webhook_endpoint::Entity.table_name() {
        Some(Hiding {
            column: "deleted_at",
            shown_by: None,
            what: "deleted webhook endpoints",
        })
    } else if table == webhook_endpoint_event::Entity.table_name() {
        Some(Hiding {
            column: "deleted_at",
            shown_by: None,
            what: "deleted subscriptions",
        })
    } else if table == account::Entity.table_name() {
        Some(Hiding {
            column: "archived_at",
            shown_by: Some("include_archived"),
            what: "archived accounts",
        })
    } else if table == account_service::Entity.table_name() {
        Some(Hiding {
            column: "removed_at",
            shown_by: None,
            what: "removed account services",
        })
    } else {
        None
    }
}

/// The column that must be NULL for a row of `table` to be listed: at the root, unless the
/// caller asked for hidden rows (`shown`); in a relation, only for rows never listed.
pub fn hidden_unless_null(table: &str, root: bool, shown: bool) -> Option<&'static str> {
    let hiding = hiding(table)?;
    match hiding.shown_by {
        Some(_) if !root || shown => None,
        _ => Some(hiding.column),
    }
}

/// [`hidden_unless_null`] as the condition a listing of `table` adds.
pub fn listed(table: &str, root: bool, shown: bool) -> Condition {
    use sea_orm::sea_query::{Alias, Expr};
    match hidden_unless_null(table, root, shown) {
        Some(column) => Condition::all().add(Expr::col(Alias::new(column)).is_null()),
        None => Condition::all(),
    }
}

/// The condition of a relation fixed to one value of a column (a contact's
/// `contactable_type` is `Account`): `column = value`, `column` from the entity descriptions.
pub fn fixed(column: &'static str, value: &'static str) -> Condition {
    use sea_orm::sea_query::{Alias, Expr};
    Condition::all().add(Expr::col(Alias::new(column)).eq(value))
}

/// The WHERE condition for `args` (without paging): [`Filter::of`] rendered for sea-query.
pub fn condition<E: EntityTrait>(args: &CollectionArgs) -> AppResult<Condition> {
    Filter::of(args)?.condition::<E>()
}

fn ordered<E: EntityTrait>(mut select: Select<E>, args: &CollectionArgs) -> AppResult<Select<E>> {
    for (name, descending) in &args.sort {
        let order = if *descending { Order::Desc } else { Order::Asc };
        select = select.order_by(column::<E>(name)?, order);
    }
    // A stable tiebreak so that pages never overlap or skip rows.
    Ok(select.order_by(column::<E>("id")?, Order::Asc))
}

/// One page of `E` matching `args` and `extra`, paged in SQL and counted there unless its
/// count is already known (`total`: from kept counts, [`super::counts`] or the report's
/// tallies).
pub async fn list<E, C>(
    db: &C,
    args: &CollectionArgs,
    extra: Condition,
    total: Option<u64>,
) -> AppResult<Page<E::Model>>
where
    E: EntityTrait,
    E::Model: Sync,
    C: ConnectionTrait,
{
    let filtered = E::find().filter(condition::<E>(args)?).filter(extra);
    let total_count = match total {
        Some(n) => n,
        None => filtered.clone().count(db).await?,
    };
    let select = ordered(filtered, args)?
        .offset((args.page - 1) * args.records_per_page)
        .limit(args.records_per_page);
    let items = select.all(db).await?;
    Ok(Page {
        items,
        page: args.page,
        records_per_page: args.records_per_page,
        total_count,
    })
}

/// The rows of `E` whose `match_column` is one of `keys`, grouped by that column and paged
/// per key — in SQL: a window function numbers each key's rows in the requested order and
/// only the requested page of each is read, and the totals are counted by a grouped query.
/// Two queries for any number of parents (the DataLoader batches the keys).
pub async fn list_grouped<E, C>(
    db: &C,
    match_column: &'static str,
    keys: &[i64],
    args: &CollectionArgs,
    extra: Condition,
) -> AppResult<HashMap<i64, Page<E::Model>>>
where
    E: EntityTrait,
    E::Model: Sync,
    C: ConnectionTrait,
{
    use sea_orm::sea_query::{Alias, Asterisk, Expr, Query, WindowStatement};
    use sea_orm::{FromQueryResult, QueryTrait};

    let col = column::<E>(match_column)?;
    let cond = condition::<E>(args)?;
    let start = (args.page - 1) * args.records_per_page;
    let end = start + args.records_per_page;
    let mut out: HashMap<i64, Page<E::Model>> = HashMap::new();
    for chunk in keys.chunks(500) {
        let filtered = E::find()
            .filter(col.is_in(chunk.iter().copied()))
            .filter(cond.clone())
            .filter(extra.clone());

        let totals: Vec<(i64, i64)> = filtered
            .clone()
            .select_only()
            .column(col)
            .column_as(Expr::col(col.as_column_ref()).count(), "n")
            .group_by(col)
            .into_tuple()
            .all(db)
            .await?;

        let mut window = WindowStatement::partition_by(col.as_column_ref());
        for (name, descending) in &args.sort {
            let order = if *descending { Order::Desc } else { Order::Asc };
            window.order_by(column::<E>(name)?.as_column_ref(), order);
        }
        window.order_by(column::<E>("id")?.as_column_ref(), Order::Asc);
        let mut inner = filtered.into_query();
        inner.expr_window_as(Func::cust("ROW_NUMBER"), window, Alias::new("fathom_rn"));
        let mut outer = Query::select();
        outer
            .column(Asterisk)
            .from_subquery(inner, Alias::new("fathom_page"))
            .and_where(Expr::col(Alias::new("fathom_rn")).gt(start as i64))
            .and_where(Expr::col(Alias::new("fathom_rn")).lte(end as i64))
            .order_by(Alias::new("fathom_rn"), Order::Asc);
        let statement = db.get_database_backend().build(&outer);
        let rows = E::Model::find_by_statement(statement).all(db).await?;

        for (key, total) in totals {
            out.insert(
                key,
                Page {
                    items: Vec::new(),
                    page: args.page,
                    records_per_page: args.records_per_page,
                    total_count: total as u64,
                },
            );
        }
        for model in rows {
            if let Value::BigInt(Some(key)) = model.get(col) {
                if let Some(page) = out.get_mut(&key) {
                    page.items.push(model);
                }
            }
        }
    }
    Ok(out)
}
