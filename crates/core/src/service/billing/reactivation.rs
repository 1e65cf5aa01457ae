//! Billing when an account becomes active again: every active day charged exactly once.
//!
//! Leaving the activating statuses stops billing (the account and its services lose their next
//! bill dates; a disconnection with proration credits the days after its effective date). What
//! an account owes when it comes back depends on what was billed before it left:
//!
//! - **Nothing billed reaches the reactivation day** `r` (no recurring debit of the account
//!   ends on or after `r`: the account was away longer than its last period, or was never
//!   billed): billing **restarts** on `r`. `next_bill_date` = `r`, the billing day becomes `r`'s
//!   day, and the next billing pass bills every service from `r`. The days it was away are
//!   never charged.
//! - **Otherwise the account resumes its cycle** (its billing day is kept). For each service in
//!   place, every day from `r` to the end of what was billed for it that no debit net of its
//!   credits covers is charged now, by an uninvoiced debit per billed period, worth
//!   [`proration::part`] of that period's debit (so that a credit and the charge of the same
//!   days are equal to the cent: a same-day disconnection and reactivation nets to nothing); the
//!   service's next bill date is the day after what was billed for it. Days already paid
//!   (a disconnection without proration, or the disconnection day itself) are not charged
//!   again. A service with nothing billed that reaches `r` (added while the account was away)
//!   is charged from `r` to the end of its period on the account's cycle, prorated the same
//!   way. The account's `next_bill_date` is its next cycle date after `r`.
//!
//! Each such debit names the reactivation (`reactivation_account_event_id`, the `ACTIVATED`
//! event), which exempts it from the one-debit-per-period-start rule that keeps two billing
//! passes from billing a period twice: a second same-day disconnection and reactivation charges
//! again, from the same day, what the second disconnection credited. It is written in the
//! reactivation's own transaction, under the account's lock, so it cannot be written twice.
//! `next_recurring_charge_amount` is what the next pass will charge, set in the same change.
//!
//! May call: the entities, [`proration`], [`services`](super::services) (prices, cycle dates), [`transactions`]
//! (debit rows), [`audit`] (webhook notices). Called by [`accounts::entering_status`] only.
//!
//! [`accounts::entering_status`]: crate::service::lifecycle::accounts::entering_status

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::domain::ServiceType;
use crate::entity::{account, account_service, debit, discount};
use crate::error::{AppError, AppResult};
use crate::service::{
    base::{audit, clock::now},
    billing::{
        proration,
        services::{active_account_services, anchored, price},
        transactions,
    },
};

/// What a reactivation sets on its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Billing {
    pub next_bill_date: NaiveDate,
    pub billing_day: i32,
    pub next_recurring_charge_amount: i64,
}

/// Bills `account`'s return to an activating status on the local date `r` (see the module
/// documentation), recorded by the `ACTIVATED` account event `event_id`. Returns what to set on
/// the account; the charges and the services' next bill dates are written here.
pub async fn reactivate<C: ConnectionTrait>(
    db: &C,
    account: &account::Model,
    r: NaiveDate,
    event_id: i64,
    whole_units: bool,
) -> AppResult<Billing> {
    let services: Vec<_> = active_account_services(db, account.id)
        .await?
        .into_iter()
        .filter(|(_, s)| s.r#type == ServiceType::Recurring && s.billing_frequency.is_some())
        .collect();
    let billed = debit::Entity::find()
        .filter(debit::Column::AccountId.eq(account.id))
        .filter(debit::Column::AccountServiceId.is_not_null())
        .filter(debit::Column::Reversed.eq(false))
        .filter(debit::Column::Type.eq(ServiceType::Recurring.as_str()))
        .filter(debit::Column::ProratedTo.gte(r))
        .order_by_asc(debit::Column::ProratedFrom)
        .order_by_asc(debit::Column::Id)
        .all(db)
        .await?;
    if billed.is_empty() {
        // Restart on r. Leaving the activating statuses cleared the services' next bill
        // dates, so every service is due at the next pass; a service given a first bill date
        // of its own before the account's first activation keeps it.
        return Ok(Billing {
            next_bill_date: r,
            billing_day: r.day() as i32,
            next_recurring_charge_amount: services
                .iter()
                .filter(|(a, _)| a.next_bill_date.is_none_or(|d| d <= r))
                .map(|(a, s)| price(s, a))
                .sum(),
        });
    }

    let credits = discount::Entity::find()
        .filter(discount::Column::DebitId.is_in(billed.iter().map(|d| d.id)))
        .filter(discount::Column::Reversed.eq(false))
        .all(db)
        .await?;
    let day = account.billing_day.map(|d| d as u32).unwrap_or_else(|| {
        let last = billed
            .iter()
            .filter_map(|d| d.prorated_to)
            .max()
            .unwrap_or(r);
        last.succ_opt().unwrap_or(last).day()
    });
    let cycle = cycle_start(r, day)?;
    let next_bill_date = anchored(cycle, 1, day)?;
    let mut next_dates = Vec::with_capacity(services.len());
    let mut charges = Vec::new();
    for (row, service) in &services {
        let frequency = service.billing_frequency.unwrap_or(1);
        let own: Vec<&debit::Model> = billed
            .iter()
            .filter(|d| d.account_service_id == Some(row.id))
            .collect();
        if own.is_empty() {
            // Nothing billed reaches r: the rest of its period on the account's cycle.
            let period_end = anchored(cycle, frequency, day)?;
            let to = period_end.pred_opt().unwrap_or(period_end);
            let days = proration::period_days(r, to);
            let amount = proration::part(price(service, row), cycle, to, days, whole_units);
            charges.push((row, service, r, to, amount, frequency));
            next_dates.push((row, Some(period_end)));
            continue;
        }
        let own_credits: Vec<&discount::Model> = credits
            .iter()
            .filter(|c| own.iter().any(|d| Some(d.id) == c.debit_id))
            .collect();
        let coverage = Coverage::of(&own, &own_credits);
        // The periods: the debits billed by a pass or an addition; a reactivation's charges
        // lie within them.
        let periods: Vec<&debit::Model> = {
            let base: Vec<_> = own
                .iter()
                .copied()
                .filter(|d| d.reactivation_account_event_id.is_none())
                .collect();
            if base.is_empty() {
                own.clone()
            } else {
                base
            }
        };
        let mut charged_to = r.pred_opt().unwrap_or(r);
        for period in periods {
            let (Some(from), Some(to)) = (period.prorated_from, period.prorated_to) else {
                continue;
            };
            let start = Ord::max(Ord::max(from, r), charged_to.succ_opt().unwrap_or(to));
            for (run_from, run_to) in coverage.uncovered(start, to) {
                let days = proration::period_days(run_from, run_to);
                let amount = proration::part(period.amount, from, to, days, whole_units);
                charges.push((row, service, run_from, run_to, amount, frequency));
            }
            charged_to = Ord::max(charged_to, to);
        }
        let last = own.iter().filter_map(|d| d.prorated_to).max().unwrap_or(r);
        next_dates.push((row, Some(last.succ_opt().unwrap_or(last))));
    }

    for (row, service, from, to, amount, frequency) in charges {
        let mut draft = transactions::debit_row(
            account,
            service,
            Some(row),
            amount,
            from,
            to,
            None,
            frequency,
        );
        draft.reactivation_account_event_id = Set(Some(event_id));
        let model = draft.insert(db).await?;
        audit::report_created(db, &model).await?;
    }
    let next_recurring_charge_amount = next_dates
        .iter()
        .filter(|(_, next)| next.is_none_or(|d| d <= next_bill_date))
        .filter_map(|(row, _)| {
            services
                .iter()
                .find(|(a, _)| a.id == row.id)
                .map(|(a, s)| price(s, a))
        })
        .sum();
    set_next_bill_dates(db, next_dates.into_iter()).await?;
    Ok(Billing {
        next_bill_date,
        billing_day: day as i32,
        next_recurring_charge_amount,
    })
}

/// The account's cycle date on or before `r`: day `day` of `r`'s month (its last day in a
/// shorter month), or of the month before when that is after `r`.
pub fn cycle_start(r: NaiveDate, day: u32) -> AppResult<NaiveDate> {
    let this_month = anchored(r, 0, day)?;
    if this_month <= r {
        Ok(this_month)
    } else {
        anchored(r, -1, day)
    }
}

async fn set_next_bill_dates<'a, C: ConnectionTrait>(
    db: &C,
    rows: impl Iterator<Item = (&'a account_service::Model, Option<NaiveDate>)>,
) -> AppResult<()> {
    let at = now();
    for (row, next) in rows {
        let result = account_service::Entity::update_many()
            .col_expr(account_service::Column::NextBillDate, Expr::value(next))
            .col_expr(account_service::Column::UpdatedAt, Expr::value(at))
            .col_expr(
                account_service::Column::Version,
                Expr::col(account_service::Column::Version).add(1),
            )
            .filter(account_service::Column::Id.eq(row.id))
            .filter(account_service::Column::Version.eq(row.version))
            .exec(db)
            .await?;
        if result.rows_affected != 1 {
            return Err(AppError::Conflict(format!(
                "account service {} was changed by another request; retry",
                row.id
            )));
        }
    }
    Ok(())
}

/// How many times each day is paid for, net of credits: +1 for each day a debit covers, −1
/// for each day its credit gives back.
struct Coverage {
    /// Day → change of the count on that day (a range adds at its start and removes the day
    /// after its end).
    steps: BTreeMap<NaiveDate, i64>,
}

impl Coverage {
    fn of(debits: &[&debit::Model], credits: &[&discount::Model]) -> Coverage {
        let mut steps = BTreeMap::new();
        let mut add = |from: Option<NaiveDate>, to: Option<NaiveDate>, by: i64| {
            if let (Some(from), Some(to)) = (from, to) {
                if from <= to {
                    *steps.entry(from).or_insert(0) += by;
                    *steps.entry(to.succ_opt().unwrap_or(to)).or_insert(0) -= by;
                }
            }
        };
        for d in debits {
            add(d.prorated_from, d.prorated_to, 1);
        }
        for c in credits {
            let debit = debits.iter().find(|d| Some(d.id) == c.debit_id);
            // A credit lies within its debit (it starts the day after the last charged day).
            let from = match (c.prorated_from, debit.and_then(|d| d.prorated_from)) {
                (Some(c), Some(d)) => Some(Ord::max(c, d)),
                (c, _) => c,
            };
            add(from, c.prorated_to, -1);
        }
        Coverage { steps }
    }

    /// The runs of days in `[from, to]` that nothing covers (count 0 or less).
    fn uncovered(&self, from: NaiveDate, to: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
        let mut runs = Vec::new();
        if from > to {
            return runs;
        }
        let mut count: i64 = self.steps.range(..=from).map(|(_, c)| c).sum();
        let mut open = (count <= 0).then_some(from);
        for (&day, &change) in self.steps.range(from.succ_opt().unwrap_or(from)..) {
            if day > to {
                break;
            }
            count += change;
            match (open, count <= 0) {
                (None, true) => open = Some(day),
                (Some(start), false) => {
                    runs.push((start, day.pred_opt().unwrap_or(day)));
                    open = None;
                }
                _ => {}
            }
        }
        if let Some(start) = open {
            runs.push((start, to));
        }
        runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn debit(id: i64, from: &str, to: &str) -> debit::Model {
        debit::Model {
            id,
            account_id: 1,
            company_id: 1,
            service_id: 1,
            account_service_id: Some(1),
            invoice_id: None,
            amount: 6000,
            quantity: 1,
            description: None,
            service_name: "Fiber".into(),
            r#type: "RECURRING".into(),
            number_of_months: 1,
            prorated_from: Some(day(from)),
            prorated_to: Some(day(to)),
            quantity_prorated_from: None,
            quantity_prorated_to: None,
            reversed: false,
            reversed_at: None,
            reversed_by_user_id: None,
            user_id: None,
            linked_debit_id: None,
            general_ledger_code: None,
            general_ledger_code_description: None,
            minutes: None,
            service_transaction_type: None,
            voice_service_generic_parameter_id: None,
            reactivation_account_event_id: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            version: 1,
        }
    }

    fn credit(debit_id: i64, from: &str, to: &str) -> discount::Model {
        discount::Model {
            id: 100 + debit_id,
            account_id: 1,
            company_id: 1,
            service_id: Some(1),
            debit_id: Some(debit_id),
            amount: 1,
            amount_remaining: 1,
            description: None,
            service_name: "Fiber".into(),
            r#type: "RECURRING".into(),
            prorated_from: Some(day(from)),
            prorated_to: Some(day(to)),
            quantity: 1,
            quantity_prorated_from: None,
            quantity_prorated_to: None,
            reversed: false,
            reversed_at: None,
            reversed_by_user_id: None,
            user_id: None,
            general_ledger_code: None,
            general_ledger_code_description: None,
            minutes: None,
            service_transaction_type: None,
            tax_committed: false,
            tax_provider_id: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            version: 1,
        }
    }

    #[test]
    fn the_days_a_credit_gave_back_are_uncovered_and_the_charged_ones_are_not() {
        let d = debit(1, "2026-12-06", "2027-01-05");
        let c = credit(1, "2026-12-07", "2027-01-05");
        let coverage = Coverage::of(&[&d], &[&c]);
        assert_eq!(
            coverage.uncovered(day("2026-12-06"), day("2027-01-05")),
            [(day("2026-12-07"), day("2027-01-05"))]
        );
        assert_eq!(
            coverage.uncovered(day("2026-12-20"), day("2027-01-05")),
            [(day("2026-12-20"), day("2027-01-05"))]
        );
    }

    #[test]
    fn a_debit_without_a_credit_leaves_nothing_to_charge() {
        let d = debit(1, "2026-12-06", "2027-01-05");
        let coverage = Coverage::of(&[&d], &[]);
        assert!(coverage
            .uncovered(day("2026-12-10"), day("2027-01-05"))
            .is_empty());
    }

    #[test]
    fn a_charge_after_an_earlier_reactivation_covers_its_days_again() {
        // Billed, credited from the 7th, charged again from the 7th, credited again from the
        // 11th: the 7th to the 10th are covered once, the 11th on not at all.
        let d = debit(1, "2026-12-06", "2027-01-05");
        let again = debit(2, "2026-12-07", "2027-01-05");
        let coverage = Coverage::of(
            &[&d, &again],
            &[
                &credit(1, "2026-12-07", "2027-01-05"),
                &credit(2, "2026-12-11", "2027-01-05"),
            ],
        );
        assert_eq!(
            coverage.uncovered(day("2026-12-06"), day("2027-01-05")),
            [(day("2026-12-11"), day("2027-01-05"))]
        );
    }

    #[test]
    fn the_cycle_start_is_the_billing_day_on_or_before_the_date() {
        assert_eq!(
            cycle_start(day("2026-12-06"), 6).unwrap(),
            day("2026-12-06")
        );
        assert_eq!(
            cycle_start(day("2026-12-05"), 6).unwrap(),
            day("2026-11-06")
        );
        assert_eq!(
            cycle_start(day("2026-12-20"), 6).unwrap(),
            day("2026-12-06")
        );
        // Day 31 falls on the last day of a shorter month.
        assert_eq!(
            cycle_start(day("2027-02-28"), 31).unwrap(),
            day("2027-02-28")
        );
        assert_eq!(
            cycle_start(day("2027-02-27"), 31).unwrap(),
            day("2027-01-31")
        );
    }
}
