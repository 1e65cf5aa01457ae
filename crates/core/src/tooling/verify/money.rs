//! The money checks: invoices and discounts add up (DESIGN §6), and debits and discount
//! applications stay within their account. The rules are in the parent module's doc.

use chrono::NaiveDate;
use sea_orm::DatabaseConnection;

use super::{count, each_row, get, or_none, Rule, Violation};
use crate::error::AppResult;

const INVOICES: &str = "
SELECT i.id AS id, i.void AS void, i.total_debits AS total_debits,
       i.remaining_due AS remaining_due,
       CAST(COALESCE(d.total, 0) AS BIGINT) AS debits,
       CAST(COALESCE(d.n, 0) AS BIGINT) AS debit_count,
       CAST(COALESCE(a.total, 0) + COALESCE(p.total, 0) AS BIGINT) AS applied
FROM invoices i
LEFT JOIN (SELECT invoice_id, SUM(amount) AS total, COUNT(*) AS n FROM debits
           WHERE invoice_id IS NOT NULL GROUP BY invoice_id) d ON d.invoice_id = i.id
LEFT JOIN (SELECT invoice_id, SUM(amount) AS total FROM invoice_discount_applications
           WHERE undone = FALSE GROUP BY invoice_id) a ON a.invoice_id = i.id
LEFT JOIN (SELECT invoice_id, SUM(amount) AS total FROM invoice_payment_applications
           WHERE undone = FALSE GROUP BY invoice_id) p ON p.invoice_id = i.id
WHERE (i.void = FALSE AND (i.total_debits <> COALESCE(d.total, 0)
       OR i.remaining_due <> i.total_debits - COALESCE(a.total, 0) - COALESCE(p.total, 0)))
   OR (i.void = TRUE AND (COALESCE(d.n, 0) <> 0 OR i.remaining_due <> 0
       OR COALESCE(a.total, 0) + COALESCE(p.total, 0) <> 0))
   OR i.remaining_due < 0
ORDER BY i.id";

pub(super) async fn invoices(
    db: &DatabaseConnection,
    found: &mut impl FnMut(Violation),
) -> AppResult<u64> {
    each_row(db, INVOICES, |row| {
        let id: i64 = get(row, "id")?;
        let void: bool = get(row, "void")?;
        let total: i64 = get(row, "total_debits")?;
        let remaining: i64 = get(row, "remaining_due")?;
        let debits: i64 = get(row, "debits")?;
        let debit_count: i64 = get(row, "debit_count")?;
        let applied: i64 = get(row, "applied")?;
        if void {
            if debit_count != 0 || remaining != 0 || applied != 0 {
                found(Violation::new(
                    Rule::VoidInvoiceStillCharging,
                    id,
                    "no debits, nothing due, nothing applied",
                    format!("{debit_count} debit(s), {remaining} due, {applied} applied"),
                ));
            }
        } else {
            if total != debits {
                found(Violation::new(Rule::InvoiceTotalDebits, id, debits, total));
            }
            if remaining != total - applied {
                found(Violation::new(
                    Rule::InvoiceRemainingDue,
                    id,
                    format!("{} ({total} - {applied} applied)", total - applied),
                    remaining,
                ));
            }
        }
        if remaining < 0 {
            found(Violation::new(
                Rule::InvoiceRemainingDueNegative,
                id,
                ">= 0",
                remaining,
            ));
        }
        Ok(())
    })
    .await?;
    count(db, "SELECT COUNT(*) AS n FROM invoices").await
}

const DISCOUNT_AMOUNTS: &str = "
SELECT x.id AS id, x.amount AS amount, x.amount_remaining AS amount_remaining,
       CAST(COALESCE(a.total, 0) AS BIGINT) AS applied
FROM discounts x
LEFT JOIN (SELECT discount_id, SUM(amount) AS total FROM invoice_discount_applications
           WHERE undone = FALSE GROUP BY discount_id) a ON a.discount_id = x.id
WHERE x.amount <> x.amount_remaining + COALESCE(a.total, 0)
   OR x.amount_remaining < 0 OR x.amount_remaining > x.amount
ORDER BY x.id";

const CREDITS_OUTSIDE_THEIR_DEBITS: &str = "
SELECT x.id AS id, x.account_id AS account_id, x.amount AS amount,
       x.prorated_from AS prorated_from, x.prorated_to AS prorated_to,
       d.id AS debit_id, d.account_id AS debit_account_id, d.amount AS debit_amount,
       d.prorated_from AS debit_from, d.prorated_to AS debit_to
FROM discounts x JOIN debits d ON d.id = x.debit_id
WHERE x.account_id <> d.account_id OR x.amount > d.amount
   OR x.prorated_to <> d.prorated_to
   OR x.prorated_from < d.prorated_from OR x.prorated_from > d.prorated_to
ORDER BY x.id";

const APPLIED_ACROSS_ACCOUNTS: &str = "
SELECT a.discount_id AS id, a.invoice_id AS invoice_id, x.account_id AS account_id,
       i.account_id AS invoice_account_id
FROM invoice_discount_applications a
JOIN discounts x ON x.id = a.discount_id
JOIN invoices i ON i.id = a.invoice_id
WHERE x.account_id <> i.account_id
ORDER BY a.discount_id, a.invoice_id";

pub(super) async fn discounts(
    db: &DatabaseConnection,
    found: &mut impl FnMut(Violation),
) -> AppResult<u64> {
    each_row(db, DISCOUNT_AMOUNTS, |row| {
        let id: i64 = get(row, "id")?;
        let amount: i64 = get(row, "amount")?;
        let remaining: i64 = get(row, "amount_remaining")?;
        let applied: i64 = get(row, "applied")?;
        if amount != remaining + applied {
            found(Violation::new(
                Rule::DiscountAmount,
                id,
                format!(
                    "amount {} ({remaining} remaining + {applied} applied)",
                    remaining + applied
                ),
                format!("amount {amount}"),
            ));
        }
        if remaining < 0 || remaining > amount {
            found(Violation::new(
                Rule::DiscountRemainingOutOfRange,
                id,
                format!("amount_remaining within 0..={amount}"),
                format!("amount_remaining {remaining}"),
            ));
        }
        Ok(())
    })
    .await?;
    each_row(db, CREDITS_OUTSIDE_THEIR_DEBITS, |row| {
        let id: i64 = get(row, "id")?;
        let from: Option<NaiveDate> = get(row, "prorated_from")?;
        let to: Option<NaiveDate> = get(row, "prorated_to")?;
        let debit_from: Option<NaiveDate> = get(row, "debit_from")?;
        let debit_to: Option<NaiveDate> = get(row, "debit_to")?;
        found(Violation::new(
            Rule::CreditOutsideItsDebit,
            id,
            format!(
                "debit {}: account {}, at most {}, within {} to {}",
                get::<i64>(row, "debit_id")?,
                get::<i64>(row, "debit_account_id")?,
                get::<i64>(row, "debit_amount")?,
                or_none(debit_from),
                or_none(debit_to)
            ),
            format!(
                "account {}, amount {}, {} to {}",
                get::<i64>(row, "account_id")?,
                get::<i64>(row, "amount")?,
                or_none(from),
                or_none(to)
            ),
        ));
        Ok(())
    })
    .await?;
    on_other_accounts_invoices(
        db,
        APPLIED_ACROSS_ACCOUNTS,
        Rule::DiscountAppliedToAnotherAccount,
        "invoices of account",
        found,
    )
    .await?;
    count(db, "SELECT COUNT(*) AS n FROM discounts").await
}

const DEBITS_ON_OTHER_ACCOUNTS_INVOICES: &str = "
SELECT d.id AS id, d.account_id AS account_id, d.invoice_id AS invoice_id,
       i.account_id AS invoice_account_id
FROM debits d JOIN invoices i ON i.id = d.invoice_id
WHERE i.account_id <> d.account_id
ORDER BY d.id";

pub(super) async fn debits(
    db: &DatabaseConnection,
    found: &mut impl FnMut(Violation),
) -> AppResult<u64> {
    on_other_accounts_invoices(
        db,
        DEBITS_ON_OTHER_ACCOUNTS_INVOICES,
        Rule::DebitOnAnotherAccountsInvoice,
        "an invoice of account",
        found,
    )
    .await?;
    count(db, "SELECT COUNT(*) AS n FROM debits").await
}

const PAYMENT_AMOUNTS: &str = "
SELECT x.id AS id, x.amount AS amount, x.amount_remaining AS amount_remaining,
       x.reversed AS reversed,
       CAST(COALESCE(a.total, 0) AS BIGINT) AS applied,
       CASE WHEN EXISTS (SELECT 1 FROM reversed_payments r WHERE r.payment_id = x.id)
              OR EXISTS (SELECT 1 FROM voided_payments v WHERE v.payment_id = x.id)
            THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END AS undone_row
FROM payments x
LEFT JOIN (SELECT payment_id, SUM(amount) AS total FROM invoice_payment_applications
           WHERE undone = FALSE GROUP BY payment_id) a ON a.payment_id = x.id
WHERE (x.reversed = FALSE AND x.amount <> x.amount_remaining + COALESCE(a.total, 0))
   OR x.amount_remaining < 0 OR x.amount_remaining > x.amount
   OR (x.reversed = TRUE AND (x.amount_remaining <> 0 OR COALESCE(a.total, 0) <> 0
       OR NOT (EXISTS (SELECT 1 FROM reversed_payments r WHERE r.payment_id = x.id)
               OR EXISTS (SELECT 1 FROM voided_payments v WHERE v.payment_id = x.id))))
ORDER BY x.id";

const PAYMENTS_ACROSS_ACCOUNTS: &str = "
SELECT x.id AS id, x.account_id AS account_id, i.id AS invoice_id, i.account_id AS invoice_account_id
FROM invoice_payment_applications a
JOIN payments x ON x.id = a.payment_id
JOIN invoices i ON i.id = a.invoice_id
WHERE x.account_id <> i.account_id
ORDER BY x.id, i.id";

pub(super) async fn payments(
    db: &DatabaseConnection,
    found: &mut impl FnMut(Violation),
) -> AppResult<u64> {
    each_row(db, PAYMENT_AMOUNTS, |row| {
        let id: i64 = get(row, "id")?;
        let amount: i64 = get(row, "amount")?;
        let remaining: i64 = get(row, "amount_remaining")?;
        let reversed: bool = get(row, "reversed")?;
        let applied: i64 = get(row, "applied")?;
        let undone_row: i64 = get(row, "undone_row")?;
        if reversed {
            if remaining != 0 || applied != 0 || undone_row == 0 {
                found(Violation::new(
                    Rule::UndonePaymentStillApplied,
                    id,
                    "0 remaining, 0 applied, a reversal or void",
                    format!(
                        "{remaining} remaining, {applied} applied, {}",
                        if undone_row == 0 {
                            "no reversal or void"
                        } else {
                            "its reversal or void"
                        }
                    ),
                ));
            }
        } else if amount != remaining + applied {
            found(Violation::new(
                Rule::PaymentAmount,
                id,
                format!(
                    "{} ({remaining} remaining + {applied} applied)",
                    remaining + applied
                ),
                amount,
            ));
        }
        if remaining < 0 || remaining > amount {
            found(Violation::new(
                Rule::PaymentRemainingOutOfRange,
                id,
                format!("0..={amount}"),
                remaining,
            ));
        }
        Ok(())
    })
    .await?;
    on_other_accounts_invoices(
        db,
        PAYMENTS_ACROSS_ACCOUNTS,
        Rule::PaymentAppliedToAnotherAccount,
        "invoices of account",
        found,
    )
    .await?;
    count(db, "SELECT COUNT(*) AS n FROM payments").await
}

/// Reports each row of `sql` (`id`, `account_id`, `invoice_id`, `invoice_account_id`: a record
/// of one account on an invoice of another) as a violation of `rule`, expecting `expected`
/// followed by the record's account.
async fn on_other_accounts_invoices(
    db: &DatabaseConnection,
    sql: &str,
    rule: Rule,
    expected: &str,
    found: &mut impl FnMut(Violation),
) -> AppResult<()> {
    each_row(db, sql, |row| {
        found(Violation::new(
            rule,
            get(row, "id")?,
            format!("{expected} {}", get::<i64>(row, "account_id")?),
            format!(
                "invoice {} of account {}",
                get::<i64>(row, "invoice_id")?,
                get::<i64>(row, "invoice_account_id")?
            ),
        ));
        Ok(())
    })
    .await
}
