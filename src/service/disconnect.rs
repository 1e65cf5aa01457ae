//! Disconnecting an account, as a plan computed first and applied second, so that the preview
//! (`disconnect_account_preview`) and the real thing (`disconnectAccount`, a scheduled
//! disconnection) use the same code and give the same numbers.
//!
//! Applying a plan, in one transaction: the account moves to billing settings' disconnect
//! status (a compare-and-set on `_version`, done first, so that of two concurrent
//! disconnections exactly one proceeds); with proration, every recurring debit billed past the
//! effective date is credited for its unused days; all uninvoiced debits go on a final invoice
//! with the account's unapplied credits applied oldest first; the serviceable address is
//! released (its history row ends); a disconnection log, a `STATUS_UPDATED` account event and
//! an audit row are written; the account's other pending `DISCONNECT_ACCOUNT` events are
//! cancelled. Child accounts stay connected.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};

use super::services;
use super::transactions::{self, PlannedCredit};
use super::{accounts, addresses, audit, find, invoicing, save, settings};
use crate::db::begin_write;
use crate::entity::{account, account_status, address, debit, disconnection_log, scheduled_event};
use crate::error::{AppError, AppResult};

/// What decided whether a disconnection prorates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProrationSource {
    /// The call's own `prorate`.
    Input,
    /// Billing settings' `prorate_account_status_change` ("inherit the global setting").
    BillingSettings,
}

impl ProrationSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ProrationSource::Input => "INPUT",
            ProrationSource::BillingSettings => "BILLING_SETTINGS",
        }
    }
}

/// Everything a disconnection would do.
#[derive(Debug, Clone)]
pub struct DisconnectPlan {
    pub account: account::Model,
    pub at: DateTime<Utc>,
    /// The local date the disconnection takes effect; it is charged, the days after it are not.
    pub effective_date: NaiveDate,
    pub prorate: bool,
    pub proration_source: ProrationSource,
    pub credits: Vec<PlannedCredit>,
    /// The debits the final invoice takes.
    pub debits: Vec<debit::Model>,
    pub final_invoice_total_debits: i64,
    pub final_invoice_total_discounts: i64,
    pub final_invoice_remaining_due: i64,
    pub serviceable_address: Option<address::Model>,
    pub target_account_status_id: i64,
    pub scheduled_events_to_cancel: Vec<scheduled_event::Model>,
    pub active_child_accounts: Vec<account::Model>,
}

impl DisconnectPlan {
    pub fn creates_final_invoice(&self) -> bool {
        !self.debits.is_empty()
    }
}

/// Computes the plan for disconnecting `account_id` at the instant `at`. Refusals:
/// `NOT_FOUND`, `ACCOUNT_ARCHIVED`, `ACCOUNT_NOT_ACTIVE`.
pub async fn plan<C: ConnectionTrait>(
    db: &C,
    account_id: i64,
    prorate: Option<bool>,
    at: DateTime<Utc>,
    scheduled_event_id: Option<i64>,
) -> AppResult<DisconnectPlan> {
    let account = find::<account::Entity, _>(db, "Account", account_id).await?;
    if account.archived_at.is_some() {
        return Err(AppError::AccountArchived(format!(
            "account {account_id} is archived"
        )));
    }
    let status =
        find::<account_status::Entity, _>(db, "AccountStatus", account.account_status_id).await?;
    if !status.activates_account {
        return Err(AppError::AccountNotActive(format!(
            "account {account_id} is not active (status {}): already disconnected, or never activated",
            status.name
        )));
    }
    let billing = settings::billing_setting(db).await?;
    let (prorate, proration_source) = match prorate {
        Some(p) => (p, ProrationSource::Input),
        None => (
            billing.prorate_account_status_change,
            ProrationSource::BillingSettings,
        ),
    };
    let effective_date = settings::local_date(db, at).await?;

    let credits = if prorate {
        let billed_past = debit::Entity::find()
            .filter(debit::Column::AccountId.eq(account_id))
            .filter(debit::Column::ProratedTo.gt(effective_date))
            .order_by_asc(debit::Column::Id)
            .all(db)
            .await?;
        transactions::plan_credits(
            db,
            billed_past,
            effective_date,
            billing.round_prorated_amounts,
        )
        .await?
    } else {
        Vec::new()
    };

    let debits = invoicing::uninvoiced_debits(db, account_id).await?;
    let final_invoice_total_debits: i64 = debits.iter().map(|d| d.amount).sum();
    let final_invoice_total_discounts = if debits.is_empty() {
        0
    } else {
        // Existing credits first (oldest first), then the new ones, as the invoice applies them.
        let mut remaining: Vec<i64> = invoicing::unapplied_discounts(db, account_id)
            .await?
            .iter()
            .map(|d| d.amount_remaining)
            .collect();
        remaining.extend(credits.iter().map(|c| c.amount));
        invoicing::allocate(final_invoice_total_debits, &remaining)
            .iter()
            .sum()
    };

    let mut scheduled_events_to_cancel = scheduled_event::Entity::find()
        .filter(scheduled_event::Column::AccountId.eq(account_id))
        .filter(scheduled_event::Column::Event.eq("DISCONNECT_ACCOUNT"))
        .filter(scheduled_event::Column::Status.eq("PENDING"))
        .order_by_asc(scheduled_event::Column::Id)
        .all(db)
        .await?;
    scheduled_events_to_cancel.retain(|e| Some(e.id) != scheduled_event_id);

    let activating: Vec<i64> = account_status::Entity::find()
        .filter(account_status::Column::ActivatesAccount.eq(true))
        .all(db)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    let active_child_accounts = account::Entity::find()
        .filter(account::Column::ParentAccountId.eq(account_id))
        .filter(account::Column::ArchivedAt.is_null())
        .filter(account::Column::AccountStatusId.is_in(activating))
        .order_by_asc(account::Column::Id)
        .all(db)
        .await?;

    Ok(DisconnectPlan {
        serviceable_address: addresses::assigned_to(db, account_id).await?,
        target_account_status_id: billing.disconnect_account_status_id,
        account,
        at,
        effective_date,
        prorate,
        proration_source,
        credits,
        final_invoice_remaining_due: final_invoice_total_debits - final_invoice_total_discounts,
        final_invoice_total_debits,
        final_invoice_total_discounts,
        debits,
        scheduled_events_to_cancel,
        active_child_accounts,
    })
}

/// Carries out `plan` inside the caller's transaction and returns the disconnected account.
pub async fn apply<C: ConnectionTrait>(
    db: &C,
    plan: &DisconnectPlan,
    user_id: i64,
    scheduled_event_id: Option<i64>,
) -> AppResult<account::Model> {
    let account = &plan.account;
    let target =
        find::<account_status::Entity, _>(db, "AccountStatus", plan.target_account_status_id)
            .await?;

    // First the status, compare-and-set: a concurrent disconnection that got here first makes
    // this a CONFLICT before anything else is written.
    let mut am: account::ActiveModel = account.clone().into();
    // Leaving the active statuses also stops billing (no next bill date, here or on its services).
    accounts::change_status(db, account, &target, plan.at, &mut am).await?;
    let disconnected = save(db, account.id, account.version, am)
        .await
        .map_err(|e| match e {
            AppError::Conflict(_) => AppError::Conflict(format!(
                "account {} is being changed by another request",
                account.id
            )),
            other => other,
        })?;

    // The plan was made in this transaction, but on PostgreSQL a charge committed by another
    // transaction just before the account was taken would be missed: then refuse, write nothing.
    let uninvoiced: Vec<i64> = invoicing::uninvoiced_debits(db, account.id)
        .await?
        .iter()
        .map(|d| d.id)
        .collect();
    if uninvoiced != plan.debits.iter().map(|d| d.id).collect::<Vec<_>>() {
        return Err(AppError::Conflict(
            "the account's charges changed while disconnecting; retry".into(),
        ));
    }

    for credit in &plan.credits {
        transactions::insert_proration_credit(
            db,
            &credit.debit,
            credit.amount,
            credit.from,
            Some(user_id),
        )
        .await?;
    }
    let final_invoice = if plan.creates_final_invoice() {
        let invoice = invoicing::write_invoice(
            db,
            account,
            &plan.debits,
            plan.effective_date,
            None,
            Some("Final invoice".into()),
            Some(user_id),
        )
        .await?;
        if invoice.total_debits != plan.final_invoice_total_debits
            || invoice.remaining_due != plan.final_invoice_remaining_due
        {
            return Err(AppError::Conflict(
                "the account's billing changed while disconnecting; retry".into(),
            ));
        }
        Some(invoice)
    } else {
        None
    };

    if let Some(address) = &plan.serviceable_address {
        addresses::release(db, account.id, address, plan.effective_date).await?;
    }
    services::refresh_next_charge(db, account.id).await?;

    let log = disconnection_log::ActiveModel {
        account_id: Set(account.id),
        disconnected_at: Set(plan.at),
        disconnected_by_user_id: Set(user_id),
        serviceable_address_id: Set(plan.serviceable_address.as_ref().map(|a| a.id)),
        serviceable_address_reference_record: Set(plan
            .serviceable_address
            .as_ref()
            .map(addresses::snapshot)),
        final_invoice_id: Set(final_invoice.as_ref().map(|i| i.id)),
        prorated: Set(plan.prorate),
        proration_source: Set(plan.proration_source.as_str().into()),
        previous_account_status_id: Set(account.account_status_id),
        account_status_id: Set(target.id),
        scheduled_event_id: Set(scheduled_event_id),
        credit_total: Set(plan.credits.iter().map(|c| c.amount).sum()),
        created_at: Set(plan.at),
        updated_at: Set(plan.at),
        version: Set(1),
        ..Default::default()
    }
    .insert(db)
    .await?;

    for event in &plan.scheduled_events_to_cancel {
        scheduled_event::Entity::update_many()
            .col_expr(scheduled_event::Column::Status, Expr::value("CANCELLED"))
            .col_expr(
                scheduled_event::Column::ResultMessage,
                Expr::value(format!(
                    "cancelled: the account was disconnected (disconnection log {})",
                    log.id
                )),
            )
            .col_expr(scheduled_event::Column::UpdatedAt, Expr::value(plan.at))
            .col_expr(
                scheduled_event::Column::Version,
                Expr::value(event.version + 1),
            )
            .filter(scheduled_event::Column::Id.eq(event.id))
            .filter(scheduled_event::Column::Status.eq("PENDING"))
            .exec(db)
            .await?;
    }

    audit::record(
        db,
        audit::LogType::Updated,
        "Account",
        account.id,
        Some(user_id),
        Some(account),
        Some(&disconnected),
        format!(
            "account disconnected (log {}, final invoice {}, {} credit(s))",
            log.id,
            final_invoice
                .as_ref()
                .map(|i| i.id.to_string())
                .unwrap_or_else(|| "none".into()),
            plan.credits.len()
        ),
    )
    .await?;
    Ok(disconnected)
}

/// `disconnectAccount`: plan and apply in one transaction, effective now.
pub async fn disconnect(
    db: &DatabaseConnection,
    user_id: i64,
    account_id: i64,
    prorate: Option<bool>,
) -> AppResult<account::Model> {
    let txn = begin_write(db).await?;
    let account = disconnect_in(&txn, user_id, account_id, prorate, super::now(), None).await?;
    txn.commit().await?;
    Ok(account)
}

/// A disconnection inside the caller's transaction, effective at `at` (a scheduled event's
/// datetime, which may be earlier than the moment it runs).
pub async fn disconnect_in<C: ConnectionTrait>(
    txn: &C,
    user_id: i64,
    account_id: i64,
    prorate: Option<bool>,
    at: DateTime<Utc>,
    scheduled_event_id: Option<i64>,
) -> AppResult<account::Model> {
    super::scheduled::lock_pending_disconnections(txn, account_id).await?;
    accounts::lock(txn, account_id).await?;
    let plan = plan(txn, account_id, prorate, at, scheduled_event_id).await?;
    apply(txn, &plan, user_id, scheduled_event_id).await
}

/// `disconnect_account_preview`: the plan, effective now, writing nothing.
pub async fn preview(
    db: &DatabaseConnection,
    account_id: i64,
    prorate: Option<bool>,
) -> AppResult<DisconnectPlan> {
    plan(db, account_id, prorate, super::now(), None).await
}
