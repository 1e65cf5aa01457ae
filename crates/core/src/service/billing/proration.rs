//! The one proration function. Every prorated amount in fathom — the credit for the unused
//! part of a debit (disconnection, its preview, removing a service) and the charge for the
//! rest of a period (adding a service mid-period) — is computed here and nowhere else.
//!
//! A recurring debit covers `[from, to]`, `period_days = to - from + 1` days. For an effective
//! local date `d`: unused days are `to - d` when `from <= d < to`, all of them when `d < from`,
//! none otherwise (the effective day itself is charged). The credit is
//! `amount × unused / period_days`, rounded once, half away from zero, to the cent — or to the
//! whole currency unit (100 cents) when billing settings ask for rounded prorated amounts. A
//! wholly unused period credits the amount exactly, and no credit exceeds the amount.

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};

/// Days of `[from, to]` after `d` (see the module documentation).
pub fn unused_days(from: NaiveDate, to: NaiveDate, d: NaiveDate) -> i64 {
    if d < from {
        period_days(from, to)
    } else if d < to {
        (to - d).num_days()
    } else {
        0
    }
}

pub fn period_days(from: NaiveDate, to: NaiveDate) -> i64 {
    (to - from).num_days() + 1
}

/// The credit, in cents, for the part of `amount` (cents, billed for `[from, to]`) unused
/// after `d`. `whole_units` rounds to multiples of 100 cents.
pub fn credit(amount: i64, from: NaiveDate, to: NaiveDate, d: NaiveDate, whole_units: bool) -> i64 {
    part(amount, from, to, unused_days(from, to, d), whole_units)
}

/// What `days` of the `period_days(from, to)` days that `amount` (cents) was billed for are
/// worth: `amount × days / period_days`, rounded once as a credit is; all of `amount` for the
/// whole period and nothing for no day. A reactivation charges the days its account's credits
/// gave back with it, so a credit and the charge of the same days are equal to the cent.
pub fn part(amount: i64, from: NaiveDate, to: NaiveDate, days: i64, whole_units: bool) -> i64 {
    let period = period_days(from, to);
    if period <= 0 || days <= 0 {
        return 0;
    }
    if days >= period {
        // The whole period: the amount, exactly (rounding could only make it wrong).
        return amount;
    }
    let exact = Decimal::from(amount) * Decimal::from(days) / Decimal::from(period);
    // Rounding to whole units may round up past the amount itself (a 199-cent debit, 30 of
    // 31 days): a part never exceeds the whole.
    let rounded = round_units(exact, whole_units);
    if rounded.abs() > amount.abs() {
        amount
    } else {
        rounded
    }
}

fn round_units(value: Decimal, whole_units: bool) -> i64 {
    let hundred = Decimal::from(100);
    let rounded = if whole_units {
        (value / hundred).round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
            * hundred
    } else {
        value.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
    };
    i64::try_from(rounded.mantissa() / 10i128.pow(rounded.scale())).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Integer-only reference on day numbers: the period is days `first..=last`, the effective
    /// day `d`; `amount × unused / days`, half away from zero, never past the amount.
    fn reference(amount: i64, first: i64, last: i64, d: i64, whole_units: bool) -> i64 {
        let days = last - first + 1;
        let unused = if d < first {
            days
        } else if d < last {
            last - d
        } else {
            0
        };
        if unused == days {
            return amount;
        }
        let unit: i128 = if whole_units { 100 } else { 1 };
        let num = amount as i128 * unused as i128;
        let den = days as i128 * unit;
        let magnitude = (2 * num.abs() + den) / (2 * den);
        let rounded = (num.signum() * magnitude * unit) as i64;
        if rounded.abs() > amount.abs() {
            amount
        } else {
            rounded
        }
    }

    #[test]
    fn a_thirty_day_month_credits_the_days_after_the_effective_date() {
        // June: 30 days; disconnecting on the 10th leaves 20 unused days: 3000 × 20 / 30.
        assert_eq!(
            credit(
                3000,
                date("2026-06-01"),
                date("2026-06-30"),
                date("2026-06-10"),
                false
            ),
            2000
        );
    }

    #[test]
    fn a_thirty_one_day_month_rounds_half_away_from_zero() {
        // 31 days, 15 unused: 4650 × 15 / 31 = 2250 exactly; 4651 × 15 / 31 = 2250.48… → 2250.
        assert_eq!(
            credit(
                4650,
                date("2026-07-01"),
                date("2026-07-31"),
                date("2026-07-16"),
                false
            ),
            2250
        );
        assert_eq!(
            credit(
                4651,
                date("2026-07-01"),
                date("2026-07-31"),
                date("2026-07-16"),
                false
            ),
            2250
        );
        // 31 days, 1 unused: 31 × 1 / 31 … and a true half: 93 × 16 / 31 = 48.0; 1 × 15 / 30 = 0.5 → 1.
        assert_eq!(
            credit(
                1,
                date("2026-06-01"),
                date("2026-06-30"),
                date("2026-06-15"),
                false
            ),
            1
        );
    }

    #[test]
    fn halves_round_away_from_zero_not_to_even() {
        // 5 cents over 2 days, 1 unused: 2.5 → 3 (banker's rounding would give 2).
        assert_eq!(
            credit(
                5,
                date("2026-01-01"),
                date("2026-01-02"),
                date("2026-01-01"),
                false
            ),
            3
        );
        // 7 cents: 3.5 → 4.
        assert_eq!(
            credit(
                7,
                date("2026-01-01"),
                date("2026-01-02"),
                date("2026-01-01"),
                false
            ),
            4
        );
        // Negative amounts round symmetrically: -2.5 → -3.
        assert_eq!(
            credit(
                -5,
                date("2026-01-01"),
                date("2026-01-02"),
                date("2026-01-01"),
                false
            ),
            -3
        );
    }

    #[test]
    fn february_has_twenty_eight_days_and_twenty_nine_in_a_leap_year() {
        assert_eq!(
            credit(
                2800,
                date("2026-02-01"),
                date("2026-02-28"),
                date("2026-02-14"),
                false
            ),
            1400
        );
        assert_eq!(
            credit(
                2900,
                date("2028-02-01"),
                date("2028-02-29"),
                date("2028-02-14"),
                false
            ),
            1500
        );
        // Disconnecting on the leap day itself leaves nothing unused.
        assert_eq!(
            credit(
                2900,
                date("2028-02-01"),
                date("2028-02-29"),
                date("2028-02-29"),
                false
            ),
            0
        );
        assert_eq!(
            credit(
                2900,
                date("2028-02-01"),
                date("2028-02-29"),
                date("2028-02-28"),
                false
            ),
            100
        );
    }

    #[test]
    fn the_first_day_is_charged_and_the_last_day_leaves_nothing() {
        assert_eq!(
            credit(
                3000,
                date("2026-06-01"),
                date("2026-06-30"),
                date("2026-06-01"),
                false
            ),
            2900
        );
        assert_eq!(
            credit(
                3000,
                date("2026-06-01"),
                date("2026-06-30"),
                date("2026-06-30"),
                false
            ),
            0
        );
        assert_eq!(
            credit(
                3000,
                date("2026-06-01"),
                date("2026-06-30"),
                date("2026-07-15"),
                false
            ),
            0
        );
    }

    #[test]
    fn a_date_before_the_period_credits_all_of_it() {
        assert_eq!(
            credit(
                3000,
                date("2026-06-01"),
                date("2026-06-30"),
                date("2026-05-31"),
                false
            ),
            3000
        );
        assert_eq!(
            unused_days(date("2026-06-01"), date("2026-06-30"), date("2020-01-01")),
            30
        );
    }

    #[test]
    fn whole_units_round_to_a_hundred_cents() {
        // 3000 × 20 / 30 = 2000; 2999 × 20 / 30 = 1999.33 → 2000; 2925 × 1/2 → 1462.5 → 1500.
        assert_eq!(
            credit(
                2999,
                date("2026-06-01"),
                date("2026-06-30"),
                date("2026-06-10"),
                true
            ),
            2000
        );
        assert_eq!(
            credit(
                2925,
                date("2026-01-01"),
                date("2026-01-02"),
                date("2026-01-01"),
                true
            ),
            1500
        );
        assert_eq!(
            credit(
                2949,
                date("2026-01-01"),
                date("2026-01-02"),
                date("2026-01-01"),
                true
            ),
            1500
        );
        assert_eq!(
            credit(
                2899,
                date("2026-01-01"),
                date("2026-01-02"),
                date("2026-01-01"),
                true
            ),
            1400
        );
    }

    #[test]
    fn a_rounded_credit_never_exceeds_its_debit() {
        // 199 × 30 / 31 = 192.6 → 200 in whole units, more than was charged: capped at 199.
        assert_eq!(
            credit(
                199,
                date("2026-07-01"),
                date("2026-07-31"),
                date("2026-07-01"),
                true
            ),
            199
        );
        // A wholly unused period credits the exact amount, even in whole units.
        assert_eq!(
            credit(
                4999,
                date("2026-07-01"),
                date("2026-07-31"),
                date("2026-06-30"),
                true
            ),
            4999
        );
    }

    #[test]
    fn a_year_long_period_prorates_by_days() {
        // 365 days, 100 unused.
        assert_eq!(
            credit(
                36500,
                date("2026-01-01"),
                date("2026-12-31"),
                date("2026-09-22"),
                false
            ),
            10000
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]
        #[test]
        fn matches_the_integer_reference(
            amount in -10_000_000i64..10_000_000,
            start in 0i64..20_000,
            len in 1i64..800,
            offset in -40i64..840,
            whole in any::<bool>(),
        ) {
            let epoch = date("2000-01-01");
            let from = epoch + chrono::Duration::days(start);
            let to = from + chrono::Duration::days(len - 1);
            let d = from + chrono::Duration::days(offset);
            let got = credit(amount, from, to, d, whole);
            prop_assert_eq!(got, reference(amount, start, start + len - 1, start + offset, whole));
            prop_assert!(got.abs() <= amount.abs());
        }
    }
}
