//! Delinquency is what the invoices say: an invoice marked delinquent is not void, owes more
//! than billing settings' minimum and is past its delinquency date; one that is all of these as
//! of the last delinquency pass's date is marked; an account is delinquent exactly when one of
//! its invoices is, so no account is delinquent without an unpaid past-due invoice.

use chrono::NaiveDate;
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};

use super::{count, each_row, get, Rule, Violation};
use crate::entity::delinquency_pass;
use crate::error::AppResult;
use crate::service::base::{clock::now, settings};

/// The condition, over an invoice `i`, of owing enough past its delinquency date on `date`.
fn owing(min: i64, date: NaiveDate) -> String {
    format!(
        "(i.void = FALSE AND i.remaining_due > {min} AND i.remaining_due > 0 AND i.delinquency_date < '{}')",
        date.format("%Y-%m-%d")
    )
}

pub(super) async fn delinquency(
    db: &DatabaseConnection,
    found: &mut impl FnMut(Violation),
) -> AppResult<u64> {
    let settings = settings::snapshot(db).await?;
    let min = settings.billing.minimum_amount_due_for_delinquency;
    let today = settings.local_date(now());
    let checked = count(db, "SELECT COUNT(*) AS n FROM accounts").await?;
    let owing_today = owing(min, today);
    each_row(
        db,
        &format!(
            "SELECT i.id AS id, i.remaining_due AS remaining_due, i.void AS void, \
             i.delinquency_date AS delinquency_date FROM invoices i \
             WHERE i.delinquent = TRUE AND NOT {owing_today} ORDER BY i.id"
        ),
        |row| {
            let date: Option<NaiveDate> = get(row, "delinquency_date")?;
            found(Violation::new(
                Rule::InvoiceDelinquentWithoutCause,
                get(row, "id")?,
                format!("not void, more than {min} due, its delinquency date before {today}"),
                format!(
                    "void {}, {} due, delinquency date {}",
                    get::<bool>(row, "void")?,
                    get::<i64>(row, "remaining_due")?,
                    super::or_none(date)
                ),
            ));
            Ok(())
        },
    )
    .await?;
    if let Some(last) = delinquency_pass::Entity::find()
        .order_by_desc(delinquency_pass::Column::Date)
        .one(db)
        .await?
    {
        let owing_then = owing(min, last.date);
        each_row(
            db,
            &format!(
                "SELECT i.id AS id, i.remaining_due AS remaining_due FROM invoices i \
                 WHERE i.delinquent = FALSE AND {owing_then} ORDER BY i.id"
            ),
            |row| {
                found(Violation::new(
                    Rule::InvoiceDelinquencyNotMarked,
                    get(row, "id")?,
                    format!("delinquent since the delinquency pass of {}", last.date),
                    format!("not delinquent, {} due", get::<i64>(row, "remaining_due")?),
                ));
                Ok(())
            },
        )
        .await?;
    }
    each_row(
        db,
        &format!(
            "SELECT a.id AS id, a.is_delinquent AS is_delinquent, \
             EXISTS (SELECT 1 FROM invoices i WHERE i.account_id = a.id AND i.delinquent = TRUE) AS marked, \
             EXISTS (SELECT 1 FROM invoices i WHERE i.account_id = a.id AND {owing_today}) AS owing \
             FROM accounts a WHERE a.is_delinquent = TRUE OR EXISTS \
             (SELECT 1 FROM invoices i WHERE i.account_id = a.id AND i.delinquent = TRUE) ORDER BY a.id"
        ),
        |row| {
            let id: i64 = get(row, "id")?;
            let flagged: bool = get(row, "is_delinquent")?;
            let marked: bool = get(row, "marked")?;
            let owing: bool = get(row, "owing")?;
            if flagged && !owing {
                found(Violation::new(
                    Rule::DelinquentWithoutPastDueInvoice,
                    id,
                    format!("an invoice with more than {min} due past its delinquency date"),
                    "none",
                ));
            } else if flagged != marked {
                found(Violation::new(
                    Rule::AccountDelinquencyFlag,
                    id,
                    format!("is_delinquent {marked}, as its invoices are"),
                    format!("is_delinquent {flagged}"),
                ));
            }
            Ok(())
        },
    )
    .await?;
    Ok(checked)
}
