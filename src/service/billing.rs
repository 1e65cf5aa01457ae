//! The billing pass (`fathom bill`, and the server's worker daily).
//!
//! For each active, unarchived account whose `next_bill_date` is on or before the pass date,
//! each billing cycle up to that date bills every recurring account service due in it — one
//! debit for `[cycle, the billing date billing_frequency months later - 1 day]` — then one
//! invoice takes all the account's uninvoiced debits (applying its unapplied discounts), and
//! `next_bill_date` moves past the pass date. Cycles fall on the account's billing day each
//! month (the last day of shorter months: an account billed on the 31st is billed Feb 28, then
//! Mar 31), so periods are contiguous. A service billed every several months is due every that
//! many cycles (its own `next_bill_date`). Each account is taken (locked) first.
//!
//! Each account is billed in its own transaction. Running the pass twice for one date, or
//! twice at once, creates nothing new: a debit is unique per account service and period start
//! (a database constraint), the account row is changed with a compare-and-set on `_version`,
//! and the loser of a race writes nothing.

use chrono::NaiveDate;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::services::{self, anchored, billing_day, price};
use super::{audit, invoicing, save};
use crate::db::begin_write;
use crate::entity::{account, account_service, account_status};
use crate::error::{AppError, AppResult};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassReport {
    pub accounts_billed: u64,
    pub debits_created: u64,
    pub invoices_created: u64,
    pub skipped_conflicts: u64,
    pub failed: u64,
}

/// Runs the billing pass for the local date `date`.
pub async fn run_pass(db: &DatabaseConnection, date: NaiveDate) -> AppResult<PassReport> {
    let activating: Vec<i64> = account_status::Entity::find()
        .filter(account_status::Column::ActivatesAccount.eq(true))
        .all(db)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    let mut report = PassReport::default();
    let mut after = 0i64;
    loop {
        let batch: Vec<i64> = account::Entity::find()
            .select_only()
            .column(account::Column::Id)
            .filter(account::Column::Id.gt(after))
            .filter(account::Column::ArchivedAt.is_null())
            .filter(account::Column::NextBillDate.lte(date))
            .filter(account::Column::AccountStatusId.is_in(activating.clone()))
            .order_by_asc(account::Column::Id)
            .limit(500)
            .into_tuple()
            .all(db)
            .await?;
        let Some(&last) = batch.last() else { break };
        after = last;
        for account_id in batch {
            match bill_account(db, account_id, date).await {
                Ok(Some((debits, invoiced))) => {
                    report.accounts_billed += 1;
                    report.debits_created += debits;
                    report.invoices_created += invoiced as u64;
                }
                Ok(None) => {}
                // Another pass (or a disconnection) got there first; it did the work.
                Err(AppError::Conflict(_)) => report.skipped_conflicts += 1,
                // One account's failure must not hold up the others; the next pass retries it.
                Err(e) => {
                    report.failed += 1;
                    tracing::error!(account_id, error = ?e, "billing an account failed");
                }
            }
        }
    }
    Ok(report)
}

/// Bills one account for every cycle up to `date`, in one transaction. `None` when there was
/// nothing to do (it is no longer due, active or unarchived).
pub async fn bill_account(
    db: &DatabaseConnection,
    account_id: i64,
    date: NaiveDate,
) -> AppResult<Option<(u64, bool)>> {
    let txn = begin_write(db).await?;
    let Some(account) = account::Entity::find_by_id(account_id).one(&txn).await? else {
        return Ok(None);
    };
    let Some(mut cycle) = account.next_bill_date.filter(|d| *d <= date) else {
        return Ok(None);
    };
    if account.archived_at.is_some() || !super::accounts::is_active(&txn, &account).await? {
        return Ok(None);
    }
    let day = billing_day(&account, cycle);
    let mut debits = 0u64;
    let mut due = services::active_account_services(&txn, account.id).await?;
    while cycle <= date {
        for (account_service, service) in due.iter_mut() {
            let Some(frequency) = service.billing_frequency else {
                continue;
            };
            if account_service.next_bill_date.is_some_and(|d| d > cycle) {
                continue;
            }
            let next = anchored(cycle, frequency, day)?;
            let to = next.pred_opt().unwrap_or(cycle);
            super::transactions::insert_debit(
                &txn,
                &account,
                service,
                Some(account_service),
                price(service, account_service),
                cycle,
                to,
                None,
                frequency,
            )
            .await?;
            debits += 1;
            let mut am: account_service::ActiveModel = account_service.clone().into();
            am.next_bill_date = Set(Some(next));
            am.number_of_times_billed = Set(account_service.number_of_times_billed + 1);
            *account_service = save(&txn, account_service.id, account_service.version, am).await?;
        }
        cycle = anchored(cycle, 1, day)?;
    }
    let uninvoiced = invoicing::uninvoiced_debits(&txn, account.id).await?;
    let invoiced = !uninvoiced.is_empty();
    if invoiced {
        invoicing::write_invoice(&txn, &account, &uninvoiced, date, None, None, None).await?;
    }
    let mut am: account::ActiveModel = account.clone().into();
    am.next_bill_date = Set(Some(cycle));
    let new = save(&txn, account.id, account.version, am).await?;
    services::refresh_next_charge(&txn, account.id).await?;
    audit::record(
        &txn,
        audit::LogType::System,
        "Account",
        account.id,
        None,
        Some(&account),
        Some(&new),
        format!("billed through {date}: {debits} debit(s)"),
    )
    .await?;
    txn.commit().await?;
    Ok(Some((debits, invoiced)))
}
