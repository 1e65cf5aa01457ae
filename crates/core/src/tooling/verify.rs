//! `fathom verify`: checks a database's books and reports every violation it finds.
//!
//! Each check is a count (how many rows it looked at) and one or a few SQL statements that
//! return **only the violations** (aggregates joined back with `HAVING`-like filters,
//! anti-joins), read as a stream and handed to the caller one at a time: memory stays constant
//! whatever the size of the book or the number of violations. The billed days of account
//! services are the exception: their statement streams every account's history, ordered by
//! account, and the days are counted in memory one account at a time (memory bounded by the
//! largest account's history). The statements are the same on SQLite and PostgreSQL except for
//! bound parameters. Each statement reads one consistent snapshot; the checks are not one
//! snapshot together, so run it on a quiet database (or a replica) for a report that holds as a
//! whole.
//!
//! Cost: one pass over each table, by index (merge joins in id order) or by sequential scan and
//! hash join, as the planner prefers, plus one sort by account of the account events, account
//! services and debits for the billed days. Measured before that check took its present form:
//! a book of 1,000,000 accounts with 6,000,000 invoices and debits was checked in about 40 s on
//! either database (PostgreSQL 15 with its default settings, two cores), in 15 MB
//! (PostgreSQL) to 40 MB (SQLite) of memory whatever the number of violations.
//!
//! The rules, check by check:
//!
//! **invoices** (DESIGN §6): `total_debits` = Σ `amount` of the debits whose `invoice_id` is the
//! invoice; `remaining_due` = `total_debits` − Σ `amount` of its invoice discount
//! applications − Σ `amount` of its payment applications, those not undone; `remaining_due` ≥ 0.
//! A void invoice has no debits left on it, nothing due and nothing applied.
//!
//! **payments**: a payment not reversed or voided has `amount` = `amount_remaining` + Σ
//! `amount` of its applications not undone, and 0 ≤ `amount_remaining` ≤ `amount`; a reversed
//! or voided one has nothing remaining and every application undone, and its reversal or void
//! row; a payment is applied only to invoices of its own account.
//!
//! **discounts** (DESIGN §6): `amount` = `amount_remaining` + Σ `amount` of its invoice discount
//! applications not undone; 0 ≤ `amount_remaining` ≤ `amount`; a proration credit (a discount with a
//! `debit_id`) is on its debit's account, is at most the debit's amount, ends when the debit's
//! period ends and starts within it; a discount is applied only to invoices of its own account.
//!
//! **debits**: "no debit on two invoices" holds by construction — a debit names its invoice in
//! its one `invoice_id` column, so it cannot be on two. What can go wrong instead is the
//! invoice it names: a debit on an invoice of another account is reported.
//!
//! **account services** (billed days): every recurring debit of an account service (a debit
//! with `account_service_id`) has a period, `prorated_from` ≤ `prorated_to`. Counting, for each
//! day, the unreversed debits of the service that cover it less the proration credits that give
//! it back (a credit covers `[its prorated_from, its prorated_to]`, within its debit), every day
//! is paid for **at most once** (never twice, never credited below nothing), and **every day
//! its account was active** is paid for once, from the first day billed for the service to the
//! last (for a removed service, up to its removal: the local date it was removed, or the day
//! before the credit its removal made, when earlier). A day is active when the account was in
//! an activating status at any moment of it, local to the instance time zone (the day of a
//! disconnection and the day of a return are charged): read from its `ACTIVATED` (active) and
//! `STATUS_UPDATED` (active when the new status activates) account events in time order. Days
//! a disconnection without proration left paid are not active, and may be paid once; days away
//! are not paid for (`service/reactivation.rs`). One statement streams every account's events,
//! services and debits with their credits, ordered by account, and each account is checked in
//! memory on its own. The time zone is today's setting: history recorded under another time
//! zone setting may be reported.
//!
//! **active accounts**: when a billing pass has completed (`billing_passes`), every active,
//! unarchived account with a recurring service in place has a `next_bill_date` after the date of
//! the latest one, unless it became active (an `ACTIVATED` event) after that pass began: an
//! account a pass could not bill, and that every later pass would fail on again, is named here.
//!
//! **disconnected accounts**: an account is *disconnected* when it has a disconnection log and
//! its latest log (greatest `disconnected_at`) is after its latest `ACTIVATED` account event
//! (greatest `event_datetime`), or it has no such event; at an equal instant its current status
//! decides (disconnected when the status does not activate). Both instants are effective times
//! (a scheduled disconnection's is its `datetime`). Each disconnected account:
//! - has a status that does not activate (its log exists by definition);
//! - has no serviceable address assigned from before its disconnection: an address assigned to
//!   it is only right with an open assignment history row for it created after the latest
//!   log's `disconnected_at` (the API may give a disconnected account an address again);
//! - has no open assignment history row (`end_date` null) created at or before that instant;
//! - has no `PENDING` `DISCONNECT_ACCOUNT` scheduled event created at or before that instant
//!   (the disconnection cancels them; one scheduled afterwards, e.g. after a scheduled
//!   reactivation, is the operator's and is not reported).
//!
//! And for every disconnection log, its final invoice (when it has one) is of its account.
//!
//! **delinquency** (counted: accounts): an invoice marked `delinquent` is not void, owes more
//! than billing settings' `minimum_amount_due_for_delinquency`, and its `delinquency_date` is
//! before today (local); when a delinquency pass has completed (`delinquency_passes`), every
//! invoice that owed so past its delinquency date as of the latest pass's date is marked; an
//! account is `is_delinquent` exactly when one of its invoices is, and never without an unpaid
//! invoice past its delinquency date.
//!
//! **kept counts** (counted: kept rows): `account_counts` and the report's tallies
//! (migration 18), summed over their shards, equal a recount of the accounts, account events
//! and disconnection logs they count, key by key.

use std::fmt;

use futures_util::TryStreamExt;
use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult, Statement, StreamTrait};

use crate::error::AppResult;
use crate::service::base::settings;

mod counts;
mod delinquency;
mod disconnections;
mod money;
mod passes;
mod periods;

/// The checks, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Invoices,
    Discounts,
    Debits,
    Payments,
    AccountServices,
    DisconnectedAccounts,
    ActiveAccounts,
    Delinquency,
    KeptCounts,
}

impl Check {
    pub const ALL: [Check; 9] = [
        Check::Invoices,
        Check::Discounts,
        Check::Debits,
        Check::Payments,
        Check::AccountServices,
        Check::DisconnectedAccounts,
        Check::ActiveAccounts,
        Check::Delinquency,
        Check::KeptCounts,
    ];

    /// What it counts, as printed: `invoices: 12 checked, 0 violations`.
    pub fn name(self) -> &'static str {
        match self {
            Check::Invoices => "invoices",
            Check::Discounts => "discounts",
            Check::Debits => "debits",
            Check::Payments => "payments",
            Check::AccountServices => "account services",
            Check::DisconnectedAccounts => "disconnected accounts",
            Check::ActiveAccounts => "active accounts",
            Check::Delinquency => "delinquency",
            Check::KeptCounts => "kept counts",
        }
    }
}

/// One rule a row can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    InvoiceTotalDebits,
    InvoiceRemainingDue,
    InvoiceRemainingDueNegative,
    VoidInvoiceStillCharging,
    DiscountAmount,
    DiscountRemainingOutOfRange,
    CreditOutsideItsDebit,
    DiscountAppliedToAnotherAccount,
    DebitOnAnotherAccountsInvoice,
    PaymentAmount,
    PaymentRemainingOutOfRange,
    UndonePaymentStillApplied,
    PaymentAppliedToAnotherAccount,
    PeriodMissingOrInverted,
    DayChargedTwice,
    ActiveDayNotCharged,
    DisconnectedButActive,
    AddressNotReleased,
    AssignmentNotClosed,
    DisconnectionStillPending,
    FinalInvoiceOfAnotherAccount,
    NotBilledThroughLastPass,
    InvoiceDelinquentWithoutCause,
    InvoiceDelinquencyNotMarked,
    DelinquentWithoutPastDueInvoice,
    AccountDelinquencyFlag,
    KeptCountDrifted,
}

impl Rule {
    pub fn check(self) -> Check {
        use Rule::*;
        match self {
            InvoiceTotalDebits
            | InvoiceRemainingDue
            | InvoiceRemainingDueNegative
            | VoidInvoiceStillCharging => Check::Invoices,
            DiscountAmount
            | DiscountRemainingOutOfRange
            | CreditOutsideItsDebit
            | DiscountAppliedToAnotherAccount => Check::Discounts,
            DebitOnAnotherAccountsInvoice => Check::Debits,
            PaymentAmount
            | PaymentRemainingOutOfRange
            | UndonePaymentStillApplied
            | PaymentAppliedToAnotherAccount => Check::Payments,
            PeriodMissingOrInverted | DayChargedTwice | ActiveDayNotCharged => {
                Check::AccountServices
            }
            NotBilledThroughLastPass => Check::ActiveAccounts,
            InvoiceDelinquentWithoutCause
            | InvoiceDelinquencyNotMarked
            | DelinquentWithoutPastDueInvoice
            | AccountDelinquencyFlag => Check::Delinquency,
            KeptCountDrifted => Check::KeptCounts,
            DisconnectedButActive
            | AddressNotReleased
            | AssignmentNotClosed
            | DisconnectionStillPending
            | FinalInvoiceOfAnotherAccount => Check::DisconnectedAccounts,
        }
    }

    /// The kind of record the violation names.
    pub fn entity(self) -> &'static str {
        use Rule::*;
        match self {
            InvoiceTotalDebits
            | InvoiceRemainingDue
            | InvoiceRemainingDueNegative
            | VoidInvoiceStillCharging => "Invoice",
            DiscountAmount
            | DiscountRemainingOutOfRange
            | CreditOutsideItsDebit
            | DiscountAppliedToAnotherAccount => "Discount",
            DebitOnAnotherAccountsInvoice => "Debit",
            PaymentAmount
            | PaymentRemainingOutOfRange
            | UndonePaymentStillApplied
            | PaymentAppliedToAnotherAccount => "Payment",
            PeriodMissingOrInverted | DayChargedTwice | ActiveDayNotCharged => "AccountService",
            NotBilledThroughLastPass => "Account",
            InvoiceDelinquentWithoutCause | InvoiceDelinquencyNotMarked => "Invoice",
            DelinquentWithoutPastDueInvoice | AccountDelinquencyFlag => "Account",
            DisconnectedButActive
            | AddressNotReleased
            | AssignmentNotClosed
            | DisconnectionStillPending => "Account",
            FinalInvoiceOfAnotherAccount => "DisconnectionLog",
            KeptCountDrifted => "KeptCount",
        }
    }

    /// The rule, in words.
    pub fn describe(self) -> &'static str {
        use Rule::*;
        match self {
            InvoiceTotalDebits => "total_debits = the sum of its debits",
            InvoiceRemainingDue => {
                "remaining_due = total_debits - the discounts and the payments applied to it"
            }
            InvoiceRemainingDueNegative => "remaining_due >= 0",
            VoidInvoiceStillCharging => "a void invoice has no debits, nothing due, nothing applied",
            DiscountAmount => "amount = amount_remaining + what was applied from it",
            DiscountRemainingOutOfRange => "0 <= amount_remaining <= amount",
            CreditOutsideItsDebit => {
                "a proration credit is on its debit's account, at most its amount, within its period"
            }
            DiscountAppliedToAnotherAccount => "applied only to invoices of its own account",
            DebitOnAnotherAccountsInvoice => "on an invoice of its own account",
            PaymentAmount => "amount = amount_remaining + what was applied from it",
            PaymentRemainingOutOfRange => "0 <= amount_remaining <= amount",
            UndonePaymentStillApplied => {
                "a reversed or voided payment has nothing left, nothing applied, and its reversal or void"
            }
            PaymentAppliedToAnotherAccount => "applied only to invoices of its own account",
            PeriodMissingOrInverted => "each recurring debit has a period, prorated_from <= prorated_to",
            DayChargedTwice => "no day is charged twice, net of credits",
            ActiveDayNotCharged => "each day the account was active is charged",
            NotBilledThroughLastPass => "billed through the last billing pass",
            InvoiceDelinquentWithoutCause => {
                "a delinquent invoice is not void, owes more than the minimum and is past its delinquency date"
            }
            InvoiceDelinquencyNotMarked => {
                "an invoice owing more than the minimum past its delinquency date at the last delinquency pass is delinquent"
            }
            DelinquentWithoutPastDueInvoice => {
                "a delinquent account has an unpaid invoice past its delinquency date"
            }
            AccountDelinquencyFlag => "is_delinquent exactly when one of its invoices is delinquent",
            DisconnectedButActive => "a disconnected account's status does not activate",
            AddressNotReleased => {
                "a disconnected account keeps no serviceable address from before its disconnection"
            }
            AssignmentNotClosed => {
                "a disconnected account's address assignments from before its disconnection are closed"
            }
            DisconnectionStillPending => {
                "no pending DISCONNECT_ACCOUNT from before the disconnection remains"
            }
            FinalInvoiceOfAnotherAccount => "its final invoice is of its account",
            KeptCountDrifted => "a kept count equals a recount of its rows",
        }
    }
}

/// A row that breaks a rule: which, the record's id, and what was expected and found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: Rule,
    pub id: i64,
    pub expected: String,
    pub found: String,
}

impl Violation {
    fn new(rule: Rule, id: i64, expected: impl fmt::Display, found: impl fmt::Display) -> Self {
        Violation {
            rule,
            id,
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}: expected {}, found {}",
            self.rule.entity(),
            self.id,
            self.rule.describe(),
            self.expected,
            self.found
        )
    }
}

/// What one check looked at and how many violations it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckSummary {
    pub check: Check,
    pub checked: u64,
    pub violations: u64,
}

impl fmt::Display for CheckSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} checked, {} violation{}",
            self.check.name(),
            self.checked,
            self.violations,
            if self.violations == 1 { "" } else { "s" }
        )
    }
}

/// The whole run: one summary per check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub checks: Vec<CheckSummary>,
}

impl Report {
    pub fn violations(&self) -> u64 {
        self.checks.iter().map(|c| c.violations).sum()
    }

    pub fn is_clean(&self) -> bool {
        self.violations() == 0
    }
}

/// What [`verify`] tells its caller as it goes.
#[derive(Debug)]
pub enum Progress<'a> {
    /// A violation, as soon as it is found.
    Violation(&'a Violation),
    /// A check is done.
    Checked(&'a CheckSummary),
}

/// Runs every check, calling `on` with each violation as it is found and with each check's
/// summary when it is done.
pub async fn verify<F>(db: &DatabaseConnection, mut on: F) -> AppResult<Report>
where
    F: FnMut(Progress<'_>),
{
    let zone = settings::time_zone(db).await?;
    let mut report = Report::default();
    for check in Check::ALL {
        let mut violations = 0u64;
        let mut found = |v: Violation| {
            violations += 1;
            on(Progress::Violation(&v));
        };
        let checked = match check {
            Check::Invoices => money::invoices(db, &mut found).await?,
            Check::Discounts => money::discounts(db, &mut found).await?,
            Check::Debits => money::debits(db, &mut found).await?,
            Check::Payments => money::payments(db, &mut found).await?,
            Check::AccountServices => periods::account_services(db, zone, &mut found).await?,
            Check::DisconnectedAccounts => {
                disconnections::disconnected_accounts(db, &mut found).await?
            }
            Check::ActiveAccounts => passes::active_accounts(db, &mut found).await?,
            Check::Delinquency => delinquency::delinquency(db, &mut found).await?,
            Check::KeptCounts => counts::kept_counts(db, &mut found).await?,
        };
        let summary = CheckSummary {
            check,
            checked,
            violations,
        };
        on(Progress::Checked(&summary));
        report.checks.push(summary);
    }
    Ok(report)
}

/// Reads the rows of `sql` one at a time.
async fn each_row<F>(db: &DatabaseConnection, sql: &str, mut f: F) -> AppResult<()>
where
    F: FnMut(&QueryResult) -> AppResult<()>,
{
    let stmt = Statement::from_string(db.get_database_backend(), sql.to_owned());
    let mut rows = db.stream_raw(stmt).await?;
    while let Some(row) = rows.try_next().await? {
        f(&row)?;
    }
    Ok(())
}

async fn count(db: &DatabaseConnection, sql: &str) -> AppResult<u64> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await?;
    let n: i64 = match row {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    Ok(n.max(0) as u64)
}

fn get<T: sea_orm::TryGetable>(row: &QueryResult, column: &str) -> AppResult<T> {
    Ok(row.try_get("", column)?)
}

fn or_none<T: fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "none".to_owned(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_line_counts_what_was_checked_and_found() {
        let s = CheckSummary {
            check: Check::Invoices,
            checked: 12345,
            violations: 0,
        };
        assert_eq!(s.to_string(), "invoices: 12345 checked, 0 violations");
        let one = CheckSummary {
            check: Check::DisconnectedAccounts,
            checked: 3,
            violations: 1,
        };
        assert_eq!(
            one.to_string(),
            "disconnected accounts: 3 checked, 1 violation"
        );
    }

    #[test]
    fn every_rule_belongs_to_a_check_and_names_an_entity() {
        let v = Violation::new(Rule::InvoiceTotalDebits, 42, 8000, 7500);
        assert_eq!(
            v.to_string(),
            "Invoice 42: total_debits = the sum of its debits: expected 8000, found 7500"
        );
        assert_eq!(
            Rule::AddressNotReleased.check(),
            Check::DisconnectedAccounts
        );
        assert_eq!(Rule::AddressNotReleased.entity(), "Account");
    }
}
