//! Billed days: for each account service, every day is paid for at most once net of credits,
//! and every day its account was active, from the start of its billing to the end of what was
//! billed, exactly once. The rule is in the parent module's doc.
//!
//! One statement streams, account by account, the account's status changes, its account
//! services and their recurring debits with their credits; each account's rows are checked
//! together in memory (one account's history at a time).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sea_orm::DatabaseConnection;

use super::{count, each_row, get, or_none, Rule, Violation};
use crate::error::AppResult;

const HISTORY_SQL: &str = "
SELECT 0 AS kind, e.account_id AS account_id, e.id AS id, CAST(NULL AS BIGINT) AS service_id,
       e.event AS event, e.current AS status, e.event_datetime AS at,
       CAST(NULL AS DATE) AS d_from, CAST(NULL AS DATE) AS d_to,
       CAST(NULL AS DATE) AS c_from, CAST(NULL AS DATE) AS c_to
FROM account_events e WHERE e.event IN ('ACTIVATED', 'STATUS_UPDATED')
UNION ALL
SELECT 1, s.account_id, s.id, s.id, NULL, NULL, s.removed_at, NULL, NULL, NULL, NULL
FROM account_services s
UNION ALL
SELECT 2, d.account_id, d.id, d.account_service_id, NULL, NULL, x.created_at,
       d.prorated_from, d.prorated_to, x.prorated_from, x.prorated_to
FROM debits d LEFT JOIN discounts x ON x.debit_id = d.id AND x.reversed = FALSE
WHERE d.account_service_id IS NOT NULL AND d.reversed = FALSE
ORDER BY account_id, kind";

/// A recurring debit of an account service, with its proration credit if it has one.
/// A credit's first and last day, and when it was made.
pub(super) type Credit = (Option<NaiveDate>, Option<NaiveDate>, Option<DateTime<Utc>>);

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Billed {
    pub id: i64,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// The credit's first and last day, and when it was made.
    pub credit: Option<Credit>,
}

/// One account's history, as far as its billed days go.
#[derive(Debug, Default)]
pub(super) struct History {
    pub account_id: i64,
    /// Status changes: when, the event's id, and whether the account is active after it.
    pub changes: Vec<(DateTime<Utc>, i64, bool)>,
    /// Account services: id, and when removed.
    pub services: Vec<(i64, Option<DateTime<Utc>>)>,
    /// Recurring debits by account service.
    pub debits: BTreeMap<i64, Vec<Billed>>,
}

impl History {
    /// The local days the account was active, as inclusive ranges (the last may be open): a day
    /// is active when the account was active at any moment of it, as billing has it (the day of
    /// a disconnection is charged, and so is the day of a reactivation).
    fn active_days(&self, zone: Tz) -> Vec<(NaiveDate, NaiveDate)> {
        let mut changes = self.changes.clone();
        changes.sort_by_key(|c| (c.0, c.1));
        let mut ranges = Vec::new();
        let mut open: Option<NaiveDate> = None;
        for (at, _, active) in changes {
            let day = at.with_timezone(&zone).date_naive();
            match (open, active) {
                (None, true) => open = Some(day),
                (Some(start), false) => {
                    ranges.push((start, day));
                    open = None;
                }
                _ => {}
            }
        }
        if let Some(start) = open {
            ranges.push((start, NaiveDate::MAX));
        }
        ranges
    }

    /// Every violation of the account's billed days.
    pub(super) fn check(&self, zone: Tz, found: &mut impl FnMut(Violation)) {
        let active = self.active_days(zone);
        for (service_id, removed_at) in &self.services {
            let Some(debits) = self.debits.get(service_id) else {
                continue;
            };
            let mut steps: BTreeMap<NaiveDate, i64> = BTreeMap::new();
            let mut first: Option<NaiveDate> = None;
            let mut last: Option<NaiveDate> = None;
            let mut removal_credit: Option<NaiveDate> = None;
            for d in debits {
                let (Some(from), Some(to)) = (d.from, d.to) else {
                    found(inverted(*service_id, d));
                    continue;
                };
                if from > to {
                    found(inverted(*service_id, d));
                    continue;
                }
                step(&mut steps, from, to, 1);
                first = Some(first.map_or(from, |f| f.min(from)));
                last = Some(last.map_or(to, |l| l.max(to)));
                if let Some((Some(c_from), Some(c_to), made)) = d.credit {
                    let c_from = c_from.max(from);
                    if c_from <= c_to {
                        step(&mut steps, c_from, c_to, -1);
                    }
                    // A credit made by the removal of the service ends what it owes.
                    if let (Some(made), Some(removed)) = (made, removed_at) {
                        if made >= *removed {
                            removal_credit = Some(removal_credit.map_or(c_from, |r| r.min(c_from)));
                        }
                    }
                }
            }
            let (Some(first), Some(mut last)) = (first, last) else {
                continue;
            };
            if let Some(removed) = removed_at {
                last = last.min(removed.with_timezone(&zone).date_naive());
            }
            if let Some(credit_from) = removal_credit {
                last = last.min(credit_from.pred_opt().unwrap_or(credit_from));
            }
            let mut twice: Option<(NaiveDate, i64)> = None;
            let mut missed: Option<NaiveDate> = None;
            let mut count = 0i64;
            let days: Vec<(NaiveDate, i64)> = steps.into_iter().collect();
            for (i, (day, change)) in days.iter().enumerate() {
                count += change;
                let end = days
                    .get(i + 1)
                    .and_then(|(next, _)| next.pred_opt())
                    .unwrap_or(*day);
                if !(0..=1).contains(&count) && twice.is_none() {
                    twice = Some((*day, count));
                }
                if count == 0 && missed.is_none() {
                    let (from, to) = (Ord::max(*day, first), Ord::min(end, last));
                    missed = first_active(&active, from, to);
                }
            }
            if let Some((day, times)) = twice {
                found(Violation::new(
                    Rule::DayChargedTwice,
                    *service_id,
                    format!(
                        "account {}'s service to charge each day at most once, net of credits",
                        self.account_id
                    ),
                    format!("{day} charged {times} times"),
                ));
            }
            if let Some(day) = missed {
                found(Violation::new(
                    Rule::ActiveDayNotCharged,
                    *service_id,
                    format!(
                        "account {}'s service to charge each day the account was active, {first} to {last}",
                        self.account_id
                    ),
                    format!("{day} active and not charged"),
                ));
            }
        }
    }
}

fn step(steps: &mut BTreeMap<NaiveDate, i64>, from: NaiveDate, to: NaiveDate, by: i64) {
    *steps.entry(from).or_insert(0) += by;
    *steps.entry(to.succ_opt().unwrap_or(to)).or_insert(0) -= by;
}

/// The first day of `[from, to]` that an active range holds.
fn first_active(
    active: &[(NaiveDate, NaiveDate)],
    from: NaiveDate,
    to: NaiveDate,
) -> Option<NaiveDate> {
    if from > to {
        return None;
    }
    active
        .iter()
        .filter(|(a, b)| *a <= to && *b >= from)
        .map(|(a, _)| Ord::max(*a, from))
        .min()
}

fn inverted(service_id: i64, d: &Billed) -> Violation {
    Violation::new(
        Rule::PeriodMissingOrInverted,
        service_id,
        format!("debit {} with a period, prorated_from <= prorated_to", d.id),
        format!("{} to {}", or_none(d.from), or_none(d.to)),
    )
}

pub(super) async fn account_services(
    db: &DatabaseConnection,
    zone: Tz,
    found: &mut impl FnMut(Violation),
) -> AppResult<u64> {
    let activates: HashMap<String, bool> = {
        let mut map = HashMap::new();
        each_row(
            db,
            "SELECT id, activates_account FROM account_statuses",
            |row| {
                map.insert(
                    get::<i64>(row, "id")?.to_string(),
                    get(row, "activates_account")?,
                );
                Ok(())
            },
        )
        .await?;
        map
    };
    let mut history = History::default();
    each_row(db, HISTORY_SQL, |row| {
        let account_id: i64 = get(row, "account_id")?;
        if account_id != history.account_id {
            history.check(zone, found);
            history = History {
                account_id,
                ..History::default()
            };
        }
        let id: i64 = get(row, "id")?;
        match get::<i32>(row, "kind")? {
            0 => {
                let at: DateTime<Utc> = get(row, "at")?;
                let active = match get::<String>(row, "event")?.as_str() {
                    "ACTIVATED" => true,
                    _ => get::<Option<String>>(row, "status")?
                        .and_then(|s| activates.get(&s).copied())
                        .unwrap_or(false),
                };
                history.changes.push((at, id, active));
            }
            1 => history.services.push((id, get(row, "at")?)),
            _ => {
                let service_id: i64 = get(row, "service_id")?;
                let c_from: Option<NaiveDate> = get(row, "c_from")?;
                let c_to: Option<NaiveDate> = get(row, "c_to")?;
                let credit = (c_from.is_some() || c_to.is_some())
                    .then(|| -> AppResult<_> { Ok((c_from, c_to, get(row, "at")?)) })
                    .transpose()?;
                history.debits.entry(service_id).or_default().push(Billed {
                    id,
                    from: get(row, "d_from")?,
                    to: get(row, "d_to")?,
                    credit,
                });
            }
        }
        Ok(())
    })
    .await?;
    history.check(zone, found);
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

    fn billed(id: i64, from: &str, to: &str, credit_from: Option<&str>) -> Billed {
        Billed {
            id,
            from: Some(day(from)),
            to: Some(day(to)),
            credit: credit_from.map(|c| {
                (
                    Some(day(c)),
                    Some(day(to)),
                    Some(at("2026-01-01T00:00:00Z")),
                )
            }),
        }
    }

    /// An account active from Dec 6, disconnected and back on Dec 6 (noon, 13:00, 14:00 UTC).
    fn same_day(debits: Vec<Billed>) -> History {
        History {
            account_id: 12,
            changes: vec![
                (at("2026-12-06T12:00:00Z"), 1, true),
                (at("2026-12-06T13:00:00Z"), 2, false),
                (at("2026-12-06T14:00:00Z"), 3, true),
            ],
            services: vec![(7, None)],
            debits: BTreeMap::from([(7, debits)]),
        }
    }

    fn violations(history: &History, zone: Tz) -> Vec<Violation> {
        let mut out = Vec::new();
        history.check(zone, &mut |v| out.push(v));
        out
    }

    #[test]
    fn a_credited_period_of_an_account_back_the_same_day_is_a_day_not_charged() {
        let history = same_day(vec![billed(
            1,
            "2026-12-06",
            "2027-01-05",
            Some("2026-12-07"),
        )]);
        let found = violations(&history, Tz::UTC);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, Rule::ActiveDayNotCharged);
        assert_eq!(
            found[0].to_string(),
            "AccountService 7: each day the account was active is charged: expected account 12's \
             service to charge each day the account was active, 2026-12-06 to 2027-01-05, found \
             2026-12-07 active and not charged"
        );
    }

    #[test]
    fn the_credited_days_charged_again_make_it_whole() {
        let mut again = billed(2, "2026-12-07", "2027-01-05", None);
        again.credit = None;
        let history = same_day(vec![
            billed(1, "2026-12-06", "2027-01-05", Some("2026-12-07")),
            again,
        ]);
        assert_eq!(violations(&history, Tz::UTC), []);
    }

    #[test]
    fn a_period_billed_twice_is_a_day_charged_twice() {
        let history = same_day(vec![
            billed(1, "2026-12-06", "2027-01-05", None),
            billed(2, "2026-12-20", "2027-01-19", None),
        ]);
        let found = violations(&history, Tz::UTC);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, Rule::DayChargedTwice);
        assert!(found[0]
            .to_string()
            .ends_with("found 2026-12-20 charged 2 times"));
    }

    #[test]
    fn days_away_are_not_owed_and_days_paid_ahead_are_not_owed_twice() {
        // Active Jan 15 – Feb 1 (disconnected with proration), back Mar 10; billed again from
        // the return.
        let history = History {
            account_id: 3,
            changes: vec![
                (at("2026-01-15T12:00:00Z"), 1, true),
                (at("2026-02-01T12:00:00Z"), 2, false),
                (at("2026-03-10T12:00:00Z"), 3, true),
            ],
            services: vec![(9, None)],
            debits: BTreeMap::from([(
                9,
                vec![
                    billed(1, "2026-01-15", "2026-02-14", Some("2026-02-02")),
                    billed(2, "2026-03-10", "2026-04-09", None),
                ],
            )]),
        };
        assert_eq!(violations(&history, Tz::UTC), []);
    }

    #[test]
    fn a_removed_service_owes_nothing_after_its_removal() {
        let mut history = same_day(vec![billed(
            1,
            "2026-12-06",
            "2027-01-05",
            Some("2026-12-11"),
        )]);
        history.changes.truncate(1);
        // Removed on Dec 10 with proration: the credit was made by the removal.
        history.services = vec![(7, Some(at("2026-12-10T12:00:00Z")))];
        history.debits.get_mut(&7).unwrap()[0].credit = Some((
            Some(day("2026-12-11")),
            Some(day("2027-01-05")),
            Some(at("2026-12-10T12:00:01Z")),
        ));
        assert_eq!(violations(&history, Tz::UTC), []);
    }

    #[test]
    fn the_active_days_are_local_dates_in_the_instance_time_zone() {
        // 03:00 UTC on Dec 7 is still Dec 6 in Chicago: there, the account was active on the 6th
        // only and the credit from the 7th is right.
        let chicago: Tz = "America/Chicago".parse().unwrap();
        let history = History {
            account_id: 4,
            changes: vec![
                (at("2026-12-06T18:00:00Z"), 1, true),
                (at("2026-12-07T03:00:00Z"), 2, false),
            ],
            services: vec![(5, None)],
            debits: BTreeMap::from([(
                5,
                vec![billed(1, "2026-12-06", "2027-01-05", Some("2026-12-07"))],
            )]),
        };
        assert_eq!(violations(&history, chicago), []);
        assert_eq!(violations(&history, Tz::UTC).len(), 1);
    }
}
