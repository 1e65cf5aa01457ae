//! Billed periods: each account service's recurring debits follow each other day after day,
//! except where a reactivation restarted billing. The rule is in the parent module's doc.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sea_orm::{DatabaseConnection, DbBackend};

use super::{count, each_row, get, or_none, Rule, Violation};
use crate::error::AppResult;

/// `date` + 1 day, in SQL: dates are `date` on PostgreSQL and `YYYY-MM-DD` text on SQLite.
fn day_after(backend: DbBackend, date: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("({date} + 1)"),
        _ => format!("date({date}, '+1 day')"),
    }
}

/// Each recurring debit with the one before it (by `prorated_from`) of its account service,
/// where the two are not contiguous or the debit's own period is broken; a discontinuity comes
/// with every `ACTIVATED` event of the account, oldest first, to look for a reactivation.
fn periods_sql(backend: DbBackend) -> String {
    format!(
        "
SELECT c.id AS id, c.account_service_id AS account_service_id,
       c.prorated_from AS prorated_from, c.prorated_to AS prorated_to,
       c.prev_id AS prev_id, c.prev_to AS prev_to, e.event_datetime AS activated_at
FROM (
  SELECT d.id, d.account_id, d.account_service_id, d.prorated_from, d.prorated_to,
         LAG(d.id) OVER w AS prev_id, LAG(d.prorated_to) OVER w AS prev_to
  FROM debits d
  WHERE d.account_service_id IS NOT NULL
  WINDOW w AS (PARTITION BY d.account_service_id ORDER BY d.prorated_from)
) c
LEFT JOIN account_events e
  ON e.account_id = c.account_id AND e.event = 'ACTIVATED'
     AND c.prev_id IS NOT NULL AND c.prorated_from IS NOT NULL
     AND c.prorated_from <= c.prorated_to
WHERE c.prorated_from IS NULL OR c.prorated_to IS NULL OR c.prorated_from > c.prorated_to
   OR (c.prev_id IS NOT NULL AND c.prev_to IS NOT NULL AND c.prorated_from <> {})
ORDER BY c.account_service_id, c.prorated_from, c.id, e.event_datetime, e.id",
        day_after(backend, "c.prev_to")
    )
}

/// A debit that does not start the day after the previous one ends, while the activations of
/// its account stream by (oldest first): it is right if one of them, not the first, falls on
/// its start date.
#[derive(Debug, Clone, PartialEq)]
struct Discontinuity {
    debit_id: i64,
    account_service_id: i64,
    from: NaiveDate,
    prev_id: i64,
    prev_to: NaiveDate,
    activations_seen: u32,
    restarted: bool,
}

impl Discontinuity {
    fn see_activation(&mut self, at: DateTime<Utc>, zone: Tz) {
        if self.activations_seen > 0 && at.with_timezone(&zone).date_naive() == self.from {
            self.restarted = true;
        }
        self.activations_seen += 1;
    }

    fn violation(&self) -> Option<Violation> {
        (!self.restarted).then(|| {
            Violation::new(
                Rule::PeriodNotContiguous,
                self.account_service_id,
                format!(
                    "debit {} to start {} (debit {} ends {}), or on a reactivation",
                    self.debit_id,
                    self.prev_to.succ_opt().unwrap_or(self.prev_to),
                    self.prev_id,
                    self.prev_to
                ),
                format!("it starts {}", self.from),
            )
        })
    }
}

pub(super) async fn account_services(
    db: &DatabaseConnection,
    zone: Tz,
    found: &mut impl FnMut(Violation),
) -> AppResult<u64> {
    let sql = periods_sql(db.get_database_backend());
    let mut open: Option<Discontinuity> = None;
    each_row(db, &sql, |row| {
        let id: i64 = get(row, "id")?;
        if open.as_ref().is_some_and(|d| d.debit_id != id) {
            if let Some(v) = open.take().and_then(|d| d.violation()) {
                found(v);
            }
        }
        if let Some(d) = open.as_mut() {
            if let Some(at) = get::<Option<DateTime<Utc>>>(row, "activated_at")? {
                d.see_activation(at, zone);
            }
            return Ok(());
        }
        let account_service_id: i64 = get(row, "account_service_id")?;
        let from: Option<NaiveDate> = get(row, "prorated_from")?;
        let to: Option<NaiveDate> = get(row, "prorated_to")?;
        let prev: Option<(i64, Option<NaiveDate>)> = get::<Option<i64>>(row, "prev_id")?
            .map(|p| get::<Option<NaiveDate>>(row, "prev_to").map(|t| (p, t)))
            .transpose()?;
        match (from, to, prev) {
            (Some(from), Some(to), Some((prev_id, Some(prev_to)))) if from <= to => {
                let mut d = Discontinuity {
                    debit_id: id,
                    account_service_id,
                    from,
                    prev_id,
                    prev_to,
                    activations_seen: 0,
                    restarted: false,
                };
                if let Some(at) = get::<Option<DateTime<Utc>>>(row, "activated_at")? {
                    d.see_activation(at, zone);
                }
                open = Some(d);
            }
            _ => found(Violation::new(
                Rule::PeriodMissingOrInverted,
                account_service_id,
                format!("debit {id} with a period, prorated_from <= prorated_to"),
                format!("{} to {}", or_none(from), or_none(to)),
            )),
        }
        Ok(())
    })
    .await?;
    if let Some(v) = open.take().and_then(|d| d.violation()) {
        found(v);
    }
    count(db, "SELECT COUNT(*) AS n FROM account_services").await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn gap(from: &str) -> Discontinuity {
        Discontinuity {
            debit_id: 2,
            account_service_id: 7,
            from: day(from),
            prev_id: 1,
            prev_to: day("2026-02-14"),
            activations_seen: 0,
            restarted: false,
        }
    }

    #[test]
    fn a_gap_ending_on_a_reactivation_is_a_restart_of_billing() {
        let mut d = gap("2026-06-01");
        d.see_activation(at("2026-01-15T12:00:00Z"), Tz::UTC);
        d.see_activation(at("2026-06-01T12:00:00Z"), Tz::UTC);
        assert_eq!(d.violation(), None);
    }

    #[test]
    fn the_first_activation_is_not_a_restart() {
        let mut d = gap("2026-06-01");
        d.see_activation(at("2026-06-01T12:00:00Z"), Tz::UTC);
        let v = d.violation().expect("a violation");
        assert_eq!(v.rule, Rule::PeriodNotContiguous);
        assert_eq!(v.id, 7);
        assert_eq!(
            v.to_string(),
            "AccountService 7: each debit starts the day after the previous one ends, or on a \
             reactivation: expected debit 2 to start 2026-02-15 (debit 1 ends 2026-02-14), or on \
             a reactivation, found it starts 2026-06-01"
        );
    }

    #[test]
    fn a_reactivation_on_another_day_does_not_excuse_a_gap() {
        let mut d = gap("2026-06-01");
        d.see_activation(at("2026-01-15T12:00:00Z"), Tz::UTC);
        d.see_activation(at("2026-05-31T12:00:00Z"), Tz::UTC);
        assert!(d.violation().is_some());
    }

    #[test]
    fn the_reactivation_day_is_the_local_date_in_the_instance_time_zone() {
        // 03:00 UTC on June 1 is still May 31 in Chicago.
        let chicago: Tz = "America/Chicago".parse().unwrap();
        let mut d = gap("2026-05-31");
        d.see_activation(at("2026-01-15T18:00:00Z"), chicago);
        d.see_activation(at("2026-06-01T03:00:00Z"), chicago);
        assert_eq!(d.violation(), None);
        let mut utc = gap("2026-05-31");
        utc.see_activation(at("2026-01-15T18:00:00Z"), Tz::UTC);
        utc.see_activation(at("2026-06-01T03:00:00Z"), Tz::UTC);
        assert!(utc.violation().is_some());
    }

    #[test]
    fn a_day_is_added_in_each_dialect() {
        assert_eq!(day_after(DbBackend::Postgres, "x"), "(x + 1)");
        assert_eq!(day_after(DbBackend::Sqlite, "x"), "date(x, '+1 day')");
    }
}
