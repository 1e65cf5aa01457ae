//! The Activations & Disconnections report: activations (`ACTIVATED` account events) and
//! disconnections (disconnection logs) over a period of local dates, each table filtered,
//! sorted and paged by the collection mechanism over a database view, and a monthly summary
//! counted in SQL (whatever the number of months).
//!
//! Churn, per month and for the period ([`Churn`]): disconnections by reason and as voluntary,
//! involuntary or unspecified; lost MRR (the `monthly_recurring_amount` of the disconnections:
//! what the accounts' recurring services came to per month when they left); win-backs
//! (activations of accounts disconnected before); and the churn rate, disconnections over the
//! accounts active at the start (of the month's part of the period, or of the period): those
//! activated before it less those that left an activating status before it, counted from the
//! account events.
//!
//! Counting: the summary, its churn and an unfiltered table's `total_count` come from the
//! quarter-hour tallies the database keeps in every writing transaction ([`tallies`],
//! migration 18), so their cost follows the period, not the book; a period whose bounds are off
//! the quarter hour is counted from the rows ([`summary_from_rows`]), which the tallies must
//! equal.

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use chrono_tz::Tz;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbBackend, Statement};

use crate::entity::{report_activation, report_disconnection};
use crate::error::{AppError, AppResult};
use crate::service::base::{clock::now, settings};

mod tallies;

/// The longest period a report covers (a hundred years).
pub const MAX_MONTHS: u32 = 1200;

/// Months counted by one summary query (each is a column; databases cap their number).
const MONTHS_PER_QUERY: usize = 400;

/// A period of local dates and the UTC instants that bound it.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    /// The first instant of `start_date`, local.
    pub from: DateTime<Utc>,
    /// The first instant after `end_date`, local.
    pub to: DateTime<Utc>,
    pub zone: Tz,
    pub company_id: Option<i64>,
}

fn midnight(zone: Tz, date: NaiveDate) -> DateTime<Utc> {
    use chrono::TimeZone;
    let naive = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    zone.from_local_datetime(&naive)
        .earliest()
        // A day that starts in a DST gap starts an hour later.
        .or_else(|| {
            zone.from_local_datetime(&(naive + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|| naive.and_utc())
}

/// The report's period: `[start_date, end_date]`, by default the twelve months ending today
/// (local). `start_date` after `end_date` is `VALIDATION_FAILED`.
pub async fn period<C: ConnectionTrait>(
    db: &C,
    start_date: Option<NaiveDate>,
    end_date: Option<NaiveDate>,
    company_id: Option<i64>,
) -> AppResult<Period> {
    let zone = settings::time_zone(db).await?;
    let end_date = match end_date {
        Some(d) => d,
        None => now().with_timezone(&zone).date_naive(),
    };
    let start_date = match start_date {
        Some(d) => d,
        None => end_date
            .checked_sub_months(Months::new(12))
            .and_then(|d| d.succ_opt())
            .ok_or_else(|| AppError::validation("end_date", "end_date out of range"))?,
    };
    if start_date > end_date {
        return Err(AppError::validation(
            "start_date",
            "start_date is after end_date",
        ));
    }
    if start_date
        .checked_add_months(Months::new(MAX_MONTHS))
        .is_some_and(|limit| end_date >= limit)
    {
        return Err(AppError::validation(
            "start_date",
            format!("a report covers at most {MAX_MONTHS} months"),
        ));
    }
    let after_end = end_date
        .succ_opt()
        .ok_or_else(|| AppError::validation("end_date", "end_date out of range"))?;
    Ok(Period {
        start_date,
        end_date,
        from: midnight(zone, start_date),
        to: midnight(zone, after_end),
        zone,
        company_id,
    })
}

/// The rows of the activations table that fall in the period.
pub fn activations_in(period: &Period) -> Condition {
    let mut cond = Condition::all()
        .add(report_activation::Column::ActivatedAt.gte(period.from))
        .add(report_activation::Column::ActivatedAt.lt(period.to));
    if let Some(company) = period.company_id {
        cond = cond.add(report_activation::Column::CompanyId.eq(company));
    }
    cond
}

/// The rows of the disconnections table that fall in the period.
pub fn disconnections_in(period: &Period) -> Condition {
    let mut cond = Condition::all()
        .add(report_disconnection::Column::DisconnectedAt.gte(period.from))
        .add(report_disconnection::Column::DisconnectedAt.lt(period.to));
    if let Some(company) = period.company_id {
        cond = cond.add(report_disconnection::Column::CompanyId.eq(company));
    }
    cond
}

#[derive(Debug, Clone, PartialEq)]
pub struct Month {
    /// `YYYY-MM`.
    pub month: String,
    pub activations: i64,
    pub disconnections: i64,
    pub churn: Churn,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub activation_count: i64,
    pub disconnection_count: i64,
    /// Every month of the period, zeros included.
    pub months: Vec<Month>,
    pub churn: Churn,
}

/// The disconnections that gave one reason (or none: `disconnection_reason_id` null).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonCount {
    pub disconnection_reason_id: Option<i64>,
    pub name: Option<String>,
    pub voluntary: Option<bool>,
    pub disconnections: i64,
    pub lost_mrr: i64,
}

/// Why accounts left and what it cost, over a month or the period.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Churn {
    /// By reason, in reason id order (no reason last); only reasons with disconnections.
    pub by_reason: Vec<ReasonCount>,
    /// Disconnections whose reason is voluntary.
    pub voluntary: i64,
    /// Disconnections whose reason is not voluntary, or that the delinquency pass made
    /// without a reason.
    pub involuntary: i64,
    /// Disconnections without a reason (not for non-payment).
    pub unspecified: i64,
    /// The `monthly_recurring_amount` of the disconnections, in cents.
    pub lost_mrr: i64,
    /// Activations of accounts that had been disconnected before.
    pub win_backs: i64,
    /// Accounts active at the start.
    pub active_at_start: i64,
    /// Disconnections over `active_at_start`; `None` when nobody was active.
    pub churn_rate: Option<f64>,
}

impl Churn {
    fn add(&mut self, row: &DisconnectionGroup) {
        match row.voluntary {
            Some(true) => self.voluntary += row.count,
            Some(false) => self.involuntary += row.count,
            None if row.for_non_payment => self.involuntary += row.count,
            None => self.unspecified += row.count,
        }
        self.lost_mrr += row.mrr;
        match self
            .by_reason
            .iter_mut()
            .find(|r| r.disconnection_reason_id == row.reason_id)
        {
            Some(r) => {
                r.disconnections += row.count;
                r.lost_mrr += row.mrr;
            }
            None => self.by_reason.push(ReasonCount {
                disconnection_reason_id: row.reason_id,
                name: None,
                voluntary: row.voluntary,
                disconnections: row.count,
                lost_mrr: row.mrr,
            }),
        }
    }

    fn finish(&mut self, disconnections: i64, names: &settings::Snapshot) {
        self.by_reason.sort_by_key(|r| {
            (
                r.disconnection_reason_id.is_none(),
                r.disconnection_reason_id,
            )
        });
        for r in &mut self.by_reason {
            r.name = r
                .disconnection_reason_id
                .and_then(|id| names.disconnection_reason(id))
                .map(|reason| reason.name.clone());
        }
        self.churn_rate =
            (self.active_at_start > 0).then(|| disconnections as f64 / self.active_at_start as f64);
    }
}

/// Disconnections of one month with one reason, voluntary or not, for non-payment or not.
struct DisconnectionGroup {
    bucket: usize,
    reason_id: Option<i64>,
    voluntary: Option<bool>,
    for_non_payment: bool,
    count: i64,
    mrr: i64,
}

/// A month of the period: `(YYYY-MM, from, to)`, clipped to the period.
type Bucket = (String, DateTime<Utc>, DateTime<Utc>);

/// The local months of the period, each as `(YYYY-MM, from, to)` clipped to the period.
fn months(period: &Period) -> Vec<Bucket> {
    let mut out = Vec::new();
    let mut first = NaiveDate::from_ymd_opt(period.start_date.year(), period.start_date.month(), 1)
        .unwrap_or(period.start_date);
    while first <= period.end_date {
        let next = first.checked_add_months(Months::new(1)).unwrap_or(first);
        let from = Ord::max(midnight(period.zone, first), period.from);
        let to = Ord::min(midnight(period.zone, next), period.to);
        out.push((first.format("%Y-%m").to_string(), from, to));
        if next == first {
            break;
        }
        first = next;
    }
    out
}

/// Counts rows of `table` per month with one query: `SUM(CASE WHEN … THEN 1 ELSE 0 END)` per
/// month, over the period's range (which the index on the time column serves).
async fn count_by_month<C: ConnectionTrait>(
    db: &C,
    table: &str,
    time_column: &str,
    buckets: &[Bucket],
    period: &Period,
) -> AppResult<Vec<i64>> {
    let col = || Expr::col(Alias::new(time_column));
    let mut query = Query::select();
    query.from(Alias::new(table));
    for (i, (_, from, to)) in buckets.iter().enumerate() {
        let case: Expr = Expr::case(col().gte(*from).and(col().lt(*to)), 1i64)
            .finally(0i64)
            .into();
        let sum: Expr = Func::sum(case).into();
        // PostgreSQL sums bigints as numeric: cast back, so both databases give an integer.
        let total: Expr = Func::coalesce([sum, Expr::val(0i64)]).into();
        query.expr_as(
            Func::cast_as(total, Alias::new("BIGINT")),
            Alias::new(format!("m{i}")),
        );
    }
    query
        .and_where(col().gte(period.from))
        .and_where(col().lt(period.to));
    if let Some(company) = period.company_id {
        query.and_where(Expr::col(Alias::new("company_id")).eq(company));
    }
    let statement = db.get_database_backend().build(&query);
    let row = db
        .query_one_raw(statement)
        .await?
        .ok_or_else(|| AppError::internal("no summary row"))?;
    (0..buckets.len())
        .map(|i| {
            row.try_get::<i64>("", &format!("m{i}"))
                .map_err(|e| AppError::internal(format!("summary column: {e}")))
        })
        .collect()
}

/// What a summary is made of, per month of the period: from the rows ([`parts_from_rows`]) or
/// from the tallies ([`tallies::parts`]).
struct Parts {
    activations: Vec<i64>,
    disconnections: Vec<i64>,
    /// Accounts active at the start of each month (zeros without churn).
    active: Vec<i64>,
    win_backs: Vec<i64>,
    groups: Vec<DisconnectionGroup>,
}

/// The summary of the period; its [`Churn`] figures (zeros otherwise) only `with_churn`.
/// Counted from the tallies the database keeps (migration 18) when the period's bounds fall on
/// their quarter hours, as every time zone's midnights do since offsets settled; from the rows
/// otherwise ([`summary_from_rows`]). Both give the same answer (tests/api/tallies.rs).
pub async fn summary<C: ConnectionTrait>(
    db: &C,
    period: &Period,
    with_churn: bool,
) -> AppResult<Summary> {
    let buckets = months(period);
    let settings = settings::snapshot(db).await?;
    let parts = if tallies::usable(period, &buckets) {
        tallies::parts(db, &settings, &buckets, period, with_churn).await?
    } else {
        parts_from_rows(db, &settings, &buckets, period, with_churn).await?
    };
    Ok(assemble(parts, buckets, &settings))
}

/// The summary counted from the rows (the events, logs and accounts), whatever the period:
/// what [`summary`] falls back to, and what its tallies must equal.
pub async fn summary_from_rows<C: ConnectionTrait>(
    db: &C,
    period: &Period,
    with_churn: bool,
) -> AppResult<Summary> {
    let buckets = months(period);
    let settings = settings::snapshot(db).await?;
    let parts = parts_from_rows(db, &settings, &buckets, period, with_churn).await?;
    Ok(assemble(parts, buckets, &settings))
}

/// Whether the tallies answer for `period` (its bounds on their quarter hours); the rows do
/// otherwise.
pub fn from_tallies(period: &Period) -> bool {
    tallies::usable(period, &months(period))
}

/// The table's `total_count` over the period from the tallies, when they can say (`None`: count
/// the rows).
pub async fn tallied_total<C: ConnectionTrait>(
    db: &C,
    period: &Period,
    table: Table,
) -> AppResult<Option<u64>> {
    if !from_tallies(period) {
        return Ok(None);
    }
    tallies::total(db, period, table).await.map(Some)
}

/// One of the report's two tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Activations,
    Disconnections,
}

/// The months of the period counted from the rows: two statements, three more with churn.
async fn parts_from_rows<C: ConnectionTrait>(
    db: &C,
    settings: &settings::Snapshot,
    buckets: &[Bucket],
    period: &Period,
    with_churn: bool,
) -> AppResult<Parts> {
    let mut activations = Vec::with_capacity(buckets.len());
    let mut disconnections = Vec::with_capacity(buckets.len());
    let mut active = Vec::with_capacity(buckets.len());
    for chunk in buckets.chunks(MONTHS_PER_QUERY) {
        activations
            .extend(count_by_month(db, "report_activations", "activated_at", chunk, period).await?);
        disconnections.extend(
            count_by_month(
                db,
                "report_disconnections",
                "disconnected_at",
                chunk,
                period,
            )
            .await?,
        );
        if with_churn {
            active.extend(active_at(db, settings, chunk, period).await?);
        } else {
            active.extend(std::iter::repeat_n(0, chunk.len()));
        }
    }
    let (win_backs, groups) = if with_churn {
        (
            win_backs_by_month(db, buckets, period).await?,
            disconnection_groups(db, buckets, period).await?,
        )
    } else {
        (vec![0; buckets.len()], Vec::new())
    };
    Ok(Parts {
        activations,
        disconnections,
        active,
        win_backs,
        groups,
    })
}

/// The summary of `parts`: the months, their churn and the period's.
fn assemble(parts: Parts, buckets: Vec<Bucket>, settings: &settings::Snapshot) -> Summary {
    let Parts {
        activations,
        disconnections,
        active,
        win_backs,
        groups,
    } = parts;
    let mut churns: Vec<Churn> = vec![Churn::default(); buckets.len()];
    let mut total = Churn::default();
    for group in groups.iter().filter(|g| g.count != 0) {
        if let Some(churn) = churns.get_mut(group.bucket) {
            churn.add(group);
            total.add(group);
        }
    }
    for (i, churn) in churns.iter_mut().enumerate() {
        churn.win_backs = win_backs[i];
        churn.active_at_start = active[i];
        churn.finish(disconnections[i], settings);
    }
    let disconnection_count = disconnections.iter().sum();
    total.win_backs = win_backs.iter().sum();
    total.active_at_start = active.first().copied().unwrap_or(0);
    total.finish(disconnection_count, settings);
    let months: Vec<Month> = buckets
        .into_iter()
        .zip(activations.iter().zip(disconnections.iter()))
        .zip(churns)
        .map(|(((month, _, _), (a, d)), churn)| Month {
            month,
            activations: *a,
            disconnections: *d,
            churn,
        })
        .collect();
    Summary {
        activation_count: activations.iter().sum(),
        disconnection_count,
        months,
        churn: total,
    }
}

/// A statement's values in the order its text takes them, each with its placeholder (`$n`,
/// `?n`): the churn queries are written as SQL text around these.
struct Binds {
    backend: DbBackend,
    values: Vec<sea_orm::Value>,
}

impl Binds {
    fn new(backend: DbBackend) -> Self {
        Binds {
            backend,
            values: Vec::new(),
        }
    }

    /// Binds `value`; its placeholder.
    fn bind(&mut self, value: impl Into<sea_orm::Value>) -> String {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => format!("?{}", self.values.len()),
        }
    }

    /// `CASE WHEN column < <end of month 0> THEN 0 … END`: the month of a row of the period.
    fn month_of(&mut self, column: &str, buckets: &[Bucket]) -> String {
        let mut case = String::from("CASE");
        for (i, (_, _, to)) in buckets.iter().enumerate() {
            case.push_str(&format!(" WHEN {column} < {} THEN {i}", self.bind(*to)));
        }
        case.push_str(&format!(" ELSE {} END", buckets.len().saturating_sub(1)));
        format!("CAST({case} AS BIGINT)")
    }

    /// [`Binds::month_of`] over a tally's `bucket` (seconds since the epoch).
    fn month_of_bucket(&mut self, buckets: &[Bucket]) -> String {
        let mut case = String::from("CASE");
        for (i, (_, _, to)) in buckets.iter().enumerate() {
            case.push_str(&format!(
                " WHEN bucket < {} THEN {i}",
                self.bind(to.timestamp())
            ));
        }
        case.push_str(&format!(" ELSE {} END", buckets.len().saturating_sub(1)));
        case
    }

    /// For the events `e` of a period that names a company: the join to their accounts and the
    /// condition on it (nothing when it names none: the accounts are joined only to filter).
    fn company_of_events(&mut self, period: &Period) -> (&'static str, String) {
        match period.company_id {
            Some(id) => (
                " JOIN accounts a ON a.id = e.account_id",
                format!(" AND a.company_id = {}", self.bind(id)),
            ),
            None => ("", String::new()),
        }
    }

    fn statement(self, sql: String) -> Statement {
        Statement::from_sql_and_values(self.backend, sql, self.values)
    }
}

/// The period's disconnections grouped by month, reason, voluntary and for non-payment, with
/// their count and lost MRR: one statement (the month found by a `CASE` over its bounds).
async fn disconnection_groups<C: ConnectionTrait>(
    db: &C,
    buckets: &[Bucket],
    period: &Period,
) -> AppResult<Vec<DisconnectionGroup>> {
    let mut binds = Binds::new(db.get_database_backend());
    let (from, to) = (binds.bind(period.from), binds.bind(period.to));
    let month = binds.month_of("disconnected_at", buckets);
    let company = match period.company_id {
        Some(id) => format!(" AND company_id = {}", binds.bind(id)),
        None => String::new(),
    };
    let sql = format!(
        "SELECT {month} AS bucket, disconnection_reason_id, voluntary, for_non_payment, \
         COUNT(*) AS n, CAST(COALESCE(SUM(monthly_recurring_amount), 0) AS BIGINT) AS mrr \
         FROM report_disconnections \
         WHERE disconnected_at >= {from} AND disconnected_at < {to}{company} \
         GROUP BY 1, 2, 3, 4"
    );
    let rows = db.query_all_raw(binds.statement(sql)).await?;
    rows.iter()
        .map(|row| {
            let bucket: i64 = row.try_get("", "bucket")?;
            Ok(DisconnectionGroup {
                bucket: bucket as usize,
                reason_id: row.try_get("", "disconnection_reason_id")?,
                voluntary: row.try_get("", "voluntary")?,
                for_non_payment: row.try_get("", "for_non_payment")?,
                count: row.try_get("", "n")?,
                mrr: row.try_get("", "mrr")?,
            })
        })
        .collect()
}

/// The period's win-backs (activations of accounts with a disconnection log at or before them)
/// per month: one statement, the month found by a `CASE` over its bounds, the disconnection
/// looked for by a top-level `EXISTS` (which PostgreSQL plans as a semi-join, not a probe per
/// activation as the view's `win_back` column would be).
async fn win_backs_by_month<C: ConnectionTrait>(
    db: &C,
    buckets: &[Bucket],
    period: &Period,
) -> AppResult<Vec<i64>> {
    let mut binds = Binds::new(db.get_database_backend());
    let (from, to) = (binds.bind(period.from), binds.bind(period.to));
    let month = binds.month_of("e.event_datetime", buckets);
    let (join, company) = binds.company_of_events(period);
    let sql = format!(
        "SELECT {month} AS bucket, COUNT(*) AS n FROM account_events e{join} \
         WHERE e.event = 'ACTIVATED' AND e.event_datetime >= {from} AND e.event_datetime < {to}{company} \
         AND EXISTS (SELECT 1 FROM disconnection_logs l WHERE l.account_id = e.account_id \
         AND l.disconnected_at <= e.event_datetime) GROUP BY 1"
    );
    let mut counts = vec![0; buckets.len()];
    for row in db.query_all_raw(binds.statement(sql)).await? {
        let bucket: i64 = row.try_get("", "bucket")?;
        let n: i64 = row.try_get("", "n")?;
        if let Some(slot) = counts.get_mut(bucket as usize) {
            *slot = n;
        }
    }
    Ok(counts)
}

/// The accounts active at the start of each bucket: `ACTIVATED` events before it, less the
/// status changes out of an activating status before it (the two alternate for an account),
/// one column per bucket in one statement.
async fn active_at<C: ConnectionTrait>(
    db: &C,
    settings: &settings::Snapshot,
    buckets: &[Bucket],
    period: &Period,
) -> AppResult<Vec<i64>> {
    let activating: Vec<String> = settings
        .activating()
        .iter()
        .map(|id| format!("'{id}'"))
        .collect();
    if activating.is_empty() || buckets.is_empty() {
        return Ok(vec![0; buckets.len()]);
    }
    let activating = activating.join(", ");
    let mut binds = Binds::new(db.get_database_backend());
    let columns: Vec<String> = buckets
        .iter()
        .enumerate()
        .map(|(i, (_, from, _))| {
            format!(
                "CAST(COALESCE(SUM(CASE WHEN t < {} THEN d ELSE 0 END), 0) AS BIGINT) AS s{i}",
                binds.bind(*from)
            )
        })
        .collect();
    let before = binds.bind(buckets[buckets.len() - 1].1);
    let (join, company) = binds.company_of_events(period);
    let sql = format!(
        "SELECT {} FROM (\
         SELECT e.event_datetime AS t, 1 AS d FROM account_events e{join} \
         WHERE e.event = 'ACTIVATED' AND e.event_datetime < {before}{company} \
         UNION ALL SELECT e.event_datetime, -1 FROM account_events e{join} \
         WHERE e.event = 'STATUS_UPDATED' AND e.previous IN ({activating}) \
         AND (e.current IS NULL OR e.current NOT IN ({activating})) \
         AND e.event_datetime < {before}{company}) x",
        columns.join(", ")
    );
    let row = db
        .query_one_raw(binds.statement(sql))
        .await?
        .ok_or_else(|| AppError::internal("no active-accounts row"))?;
    (0..buckets.len())
        .map(|i| {
            row.try_get::<i64>("", &format!("s{i}"))
                .map_err(|e| AppError::internal(format!("active accounts column: {e}")))
        })
        .collect()
}
