//! The Activations & Disconnections report: activations (`ACTIVATED` account events) and
//! disconnections (disconnection logs) over a period of local dates, each table filtered,
//! sorted and paged by the collection mechanism over a database view, and a monthly summary
//! counted in SQL (one query per table, whatever the number of months).

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use chrono_tz::Tz;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait};

use crate::entity::{report_activation, report_disconnection};
use crate::error::{AppError, AppResult};
use crate::service::base::{clock::now, settings};

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Month {
    /// `YYYY-MM`.
    pub month: String,
    pub activations: i64,
    pub disconnections: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub activation_count: i64,
    pub disconnection_count: i64,
    /// Every month of the period, zeros included.
    pub months: Vec<Month>,
}

/// The local months of the period, each as `(YYYY-MM, from, to)` clipped to the period.
fn months(period: &Period) -> Vec<(String, DateTime<Utc>, DateTime<Utc>)> {
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
    buckets: &[(String, DateTime<Utc>, DateTime<Utc>)],
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

pub async fn summary<C: ConnectionTrait>(db: &C, period: &Period) -> AppResult<Summary> {
    let buckets = months(period);
    let mut activations = Vec::with_capacity(buckets.len());
    let mut disconnections = Vec::with_capacity(buckets.len());
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
    }
    let months: Vec<Month> = buckets
        .into_iter()
        .zip(activations.iter().zip(disconnections.iter()))
        .map(|((month, _, _), (a, d))| Month {
            month,
            activations: *a,
            disconnections: *d,
        })
        .collect();
    Ok(Summary {
        activation_count: activations.iter().sum(),
        disconnection_count: disconnections.iter().sum(),
        months,
    })
}
