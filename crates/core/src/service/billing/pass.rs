//! The billing pass (`fathom bill`, and the server's worker daily).
//!
//! For each active, unarchived account whose `next_bill_date` is on or before the pass date,
//! each billing cycle up to that date bills every recurring account service due in it — one
//! debit for `[cycle, the billing date billing_frequency months later - 1 day]` — then one
//! invoice takes all the account's uninvoiced debits (applying its unapplied discounts), and
//! `next_bill_date` moves past the pass date. Cycles fall on the account's billing day each
//! month (the last day of shorter months: an account billed on the 31st is billed Feb 28, then
//! Mar 31), so periods are contiguous. A service billed every several months is due every that
//! many cycles (its own `next_bill_date`).
//!
//! Accounts are billed in batches, one transaction per batch, each account's row locked first
//! (on PostgreSQL `FOR UPDATE SKIP LOCKED`: an account another transaction holds is billed at
//! the end of the pass, waiting for it then). A batch is a fixed number of statements whatever
//! its size: it reads the accounts, their services, uninvoiced debits and unapplied discounts,
//! then writes every invoice, every debit (already on its invoice), the services' and accounts'
//! new bill dates, the applications and the audit rows, each kind in one statement. Running the
//! pass twice for one date, or twice at once, creates nothing new: a debit is unique per account
//! service and period start (a database constraint), every row is changed with a
//! compare-and-set on its `_version`, and the loser of a race writes nothing. A batch that
//! fails is rolled back whole and its accounts billed one per transaction, so one account's
//! failure holds up no other. Interrupting the pass loses at most the batch in flight;
//! running it again bills what is left.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use sea_orm::sea_query::{CaseStatement, Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set,
};

use crate::entity::{
    account, account_service, billing_pass, debit, discount, invoice,
    invoice_discount_application as application, service,
};
use crate::error::{AppError, AppResult};
use crate::service::base::store::Stamped;
use crate::service::{
    base::{audit, clock::now, settings, store::begin_write},
    billing::{
        invoicing,
        services::{anchored, billing_day, price},
        transactions,
    },
};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassReport {
    pub accounts_billed: u64,
    pub debits_created: u64,
    pub invoices_created: u64,
    /// Times an account was changed by another writer while it was being billed, and was
    /// billed again (a race, not a failure: the retry bills what is still due).
    pub conflicts_retried: u64,
    /// Accounts that are due and could not be billed (each logged as an error with its id).
    pub failed: u64,
    /// Their ids, in the order they failed.
    pub failed_accounts: Vec<i64>,
}

/// How many times an account whose billing met a conflict is billed again before the pass
/// gives up on it and reports it as failed.
const CONFLICT_RETRIES: usize = 3;

/// Accounts billed in one transaction, by default.
pub const DEFAULT_BATCH: u64 = 500;
/// The largest batch: its statements stay within SQLite's bound on a statement's values.
pub const MAX_BATCH: u64 = 1000;

/// How far a pass has come, for a progress display.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Accounts looked at so far, of `due` (counted when the pass started).
    pub seen: u64,
    pub due: u64,
    pub billed: u64,
}

/// Runs the billing pass for the local date `date`, in batches of [`DEFAULT_BATCH`].
pub async fn run_pass(db: &DatabaseConnection, date: NaiveDate) -> AppResult<PassReport> {
    run_pass_with(db, date, DEFAULT_BATCH, |_| {}).await
}

/// Runs the billing pass for the local date `date`, `batch` accounts per transaction, calling
/// `progress` after each batch.
pub async fn run_pass_with(
    db: &DatabaseConnection,
    date: NaiveDate,
    batch: u64,
    mut progress: impl FnMut(Progress),
) -> AppResult<PassReport> {
    let batch = batch.clamp(1, MAX_BATCH);
    let started_at = now();
    let settings = settings::snapshot(db).await?;
    let activating = settings.activating();
    let due_accounts = || {
        account::Entity::find()
            .filter(account::Column::ArchivedAt.is_null())
            .filter(account::Column::NextBillDate.lte(date))
            .filter(account::Column::AccountStatusId.is_in(activating.clone()))
    };
    let due = due_accounts().count(db).await?;
    let mut report = PassReport::default();
    let mut seen = 0u64;
    let mut busy = Vec::new();
    let mut after = 0i64;
    loop {
        let ids: Vec<i64> = due_accounts()
            .select_only()
            .column(account::Column::Id)
            .filter(account::Column::Id.gt(after))
            .order_by_asc(account::Column::Id)
            .limit(batch)
            .into_tuple()
            .all(db)
            .await?;
        let Some(&last) = ids.last() else { break };
        after = last;
        seen += ids.len() as u64;
        busy.extend(bill_or_split(db, &ids, date, false, &mut report).await?);
        progress(Progress {
            seen,
            due,
            billed: report.accounts_billed,
        });
    }
    // Accounts another transaction held: wait for each now.
    for id in busy {
        bill_or_split(db, &[id], date, true, &mut report).await?;
    }
    progress(Progress {
        seen,
        due,
        billed: report.accounts_billed,
    });
    record_pass(db, date, started_at, &report).await?;
    Ok(report)
}

/// Records a completed pass for `date` (`billing_passes`, one row per date): `fathom verify`
/// checks that every account due by the latest one was billed.
async fn record_pass(
    db: &DatabaseConnection,
    date: NaiveDate,
    started_at: chrono::DateTime<chrono::Utc>,
    report: &PassReport,
) -> AppResult<()> {
    use sea_orm::sea_query::OnConflict;
    let at = now();
    let row = billing_pass::ActiveModel {
        date: Set(date),
        runs: Set(1),
        started_at: Set(started_at),
        finished_at: Set(at),
        accounts_billed: Set(report.accounts_billed as i64),
        debits_created: Set(report.debits_created as i64),
        invoices_created: Set(report.invoices_created as i64),
        accounts_failed: Set(report.failed as i64),
        ..Default::default()
    }
    .stamped(at);
    billing_pass::Entity::insert(row)
        .on_conflict(
            OnConflict::column(billing_pass::Column::Date)
                .values([
                    (
                        billing_pass::Column::Runs,
                        Expr::col((billing_pass::Entity, billing_pass::Column::Runs)).add(1),
                    ),
                    (
                        billing_pass::Column::Version,
                        Expr::col((billing_pass::Entity, billing_pass::Column::Version)).add(1),
                    ),
                ])
                .update_columns([
                    billing_pass::Column::StartedAt,
                    billing_pass::Column::FinishedAt,
                    billing_pass::Column::AccountsBilled,
                    billing_pass::Column::DebitsCreated,
                    billing_pass::Column::InvoicesCreated,
                    billing_pass::Column::AccountsFailed,
                    billing_pass::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Bills `ids` as one batch; if the batch fails, one account per transaction. Returns the
/// accounts skipped because another transaction held them (when not `wait`ing).
async fn bill_or_split(
    db: &DatabaseConnection,
    ids: &[i64],
    date: NaiveDate,
    wait: bool,
    report: &mut PassReport,
) -> AppResult<Vec<i64>> {
    match bill_batch(db, ids, date, wait).await {
        Ok(done) => {
            report.accounts_billed += done.accounts;
            report.debits_created += done.debits;
            report.invoices_created += done.invoices;
            Ok(done.busy)
        }
        Err(mut err) if ids.len() == 1 => {
            // A conflict is another writer's change to the account meanwhile (another pass, a
            // disconnection): bill it again once that is done. What was billed by the other
            // pass is no longer due, so the retry bills only what is left. A conflict that does
            // not go away, or any other error, is a failure: reported, never skipped silently.
            for _ in 0..CONFLICT_RETRIES {
                if !matches!(err, AppError::Conflict(_)) {
                    break;
                }
                report.conflicts_retried += 1;
                match bill_batch(db, ids, date, true).await {
                    Ok(done) => {
                        report.accounts_billed += done.accounts;
                        report.debits_created += done.debits;
                        report.invoices_created += done.invoices;
                        return Ok(Vec::new());
                    }
                    Err(e) => err = e,
                }
            }
            // One account's failure must not hold up the others; the next pass tries again.
            report.failed += 1;
            report.failed_accounts.push(ids[0]);
            tracing::error!(account_id = ids[0], error = ?err, "billing an account failed");
            Ok(Vec::new())
        }
        Err(err) => {
            tracing::warn!(error = ?err, accounts = ids.len(), "a billing batch failed; billing its accounts one by one");
            let mut busy = Vec::new();
            for id in ids {
                busy.extend(Box::pin(bill_or_split(db, &[*id], date, wait, report)).await?);
            }
            Ok(busy)
        }
    }
}

/// Bills one account for every cycle up to `date`, in one transaction. `None` when there was
/// nothing to do (it is no longer due, active or unarchived).
pub async fn bill_account(
    db: &DatabaseConnection,
    account_id: i64,
    date: NaiveDate,
) -> AppResult<Option<(u64, bool)>> {
    let done = bill_batch(db, &[account_id], date, true).await?;
    Ok((done.accounts > 0).then_some((done.debits, done.invoices > 0)))
}

/// What one batch did.
#[derive(Debug, Default)]
struct Done {
    accounts: u64,
    debits: u64,
    invoices: u64,
    busy: Vec<i64>,
}

/// An account of a batch as it is billed.
struct Bill {
    account: account::Model,
    /// Its services in place, with their services, as they will be after this pass.
    services: Vec<(account_service::Model, Arc<service::Model>, bool)>,
    new_debits: Vec<debit::ActiveModel>,
    old_debits: Vec<debit::Model>,
    discounts: Vec<invoicing::Unapplied>,
    /// Its payments with something left to apply, oldest first.
    payments: Vec<invoicing::Unapplied>,
    next_bill_date: NaiveDate,
    /// How many debits this pass bills it.
    billed: usize,
}

/// Bills the accounts `ids` that are still due, in one transaction.
async fn bill_batch(
    db: &DatabaseConnection,
    ids: &[i64],
    date: NaiveDate,
    wait: bool,
) -> AppResult<Done> {
    let txn = begin_write(db).await?;
    let done = bill_in(&txn, ids, date, wait).await?;
    txn.commit().await?;
    Ok(done)
}

/// Bills one account for every cycle up to `date` inside the caller's transaction (the
/// forecast's). `None` when there was nothing to do.
pub async fn bill_account_in<C: ConnectionTrait>(
    txn: &C,
    account_id: i64,
    date: NaiveDate,
) -> AppResult<Option<(u64, bool)>> {
    let done = bill_in(txn, &[account_id], date, true).await?;
    Ok((done.accounts > 0).then_some((done.debits, done.invoices > 0)))
}

/// [`bill_batch`]'s work inside the caller's transaction.
async fn bill_in<C: ConnectionTrait>(
    txn: &C,
    ids: &[i64],
    date: NaiveDate,
    wait: bool,
) -> AppResult<Done> {
    let backend = txn.get_database_backend();
    let mut select = account::Entity::find()
        .column_as(Expr::cust(settings::INSTANCE_SQL), "settings_instance")
        .column_as(Expr::cust(settings::GENERATION_SQL), "settings_generation")
        .filter(account::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(account::Column::Id);
    if backend == DbBackend::Postgres {
        select = if wait {
            select.lock_exclusive()
        } else {
            select.lock_with_behavior(
                sea_orm::sea_query::LockType::Update,
                sea_orm::sea_query::LockBehavior::SkipLocked,
            )
        };
    }
    let rows = txn.query_all_raw(select.build(backend)).await?;
    let mut done = Done::default();
    let mut locked = Vec::with_capacity(rows.len());
    let mut stamp = None;
    for row in &rows {
        locked.push(account::Model::from_query_result(row, "")?);
        stamp = Some(settings::stamp_of(
            row,
            "settings_instance",
            "settings_generation",
        )?);
    }
    done.busy = ids
        .iter()
        .copied()
        .filter(|id| !locked.iter().any(|a| a.id == *id))
        .collect();
    let Some(stamp) = stamp else {
        return Ok(done);
    };
    let settings = settings::snapshot_at(txn, stamp).await?;
    let due = |a: &account::Model| {
        a.archived_at.is_none()
            && a.next_bill_date.is_some_and(|d| d <= date)
            && settings
                .status(a.account_status_id)
                .is_ok_and(|s| s.activates_account)
    };
    // Rows a concurrent change made not due any more (or that were never) are left alone.
    let accounts: Vec<account::Model> = locked.into_iter().filter(due).collect();
    if accounts.is_empty() {
        return Ok(done);
    }
    let mut bills = read(txn, accounts).await?;
    for bill in bills.iter_mut() {
        plan(bill, date)?;
    }
    write(txn, &mut bills, date, &settings, &mut done).await?;
    Ok(done)
}

/// Reads what billing `accounts` needs: their services in place (with the services), their
/// uninvoiced debits, their unapplied discounts, what their payments have left. Five
/// statements.
async fn read<C: ConnectionTrait>(db: &C, accounts: Vec<account::Model>) -> AppResult<Vec<Bill>> {
    let ids: Vec<i64> = accounts.iter().map(|a| a.id).collect();
    let account_services = account_service::Entity::find()
        .filter(account_service::Column::AccountId.is_in(ids.iter().copied()))
        .filter(account_service::Column::RemovedAt.is_null())
        .order_by_asc(account_service::Column::Id)
        .all(db)
        .await?;
    let mut service_ids: Vec<i64> = account_services.iter().map(|a| a.service_id).collect();
    service_ids.sort_unstable();
    service_ids.dedup();
    let services: HashMap<i64, Arc<service::Model>> = if service_ids.is_empty() {
        HashMap::new()
    } else {
        service::Entity::find()
            .filter(service::Column::Id.is_in(service_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|s| (s.id, Arc::new(s)))
            .collect()
    };
    let debits = debit::Entity::find()
        .filter(debit::Column::AccountId.is_in(ids.iter().copied()))
        .filter(debit::Column::InvoiceId.is_null())
        .filter(debit::Column::Reversed.eq(false))
        .order_by_asc(debit::Column::Id)
        .all(db)
        .await?;
    let discounts = discount::Entity::find()
        .filter(discount::Column::AccountId.is_in(ids.iter().copied()))
        .filter(discount::Column::AmountRemaining.gt(0))
        .filter(discount::Column::Reversed.eq(false))
        .order_by_asc(discount::Column::Id)
        .all(db)
        .await?;
    let mut bills: Vec<Bill> = accounts
        .into_iter()
        .map(|account| Bill {
            next_bill_date: account.next_bill_date.unwrap_or_default(),
            account,
            services: Vec::new(),
            new_debits: Vec::new(),
            old_debits: Vec::new(),
            discounts: Vec::new(),
            payments: Vec::new(),
            billed: 0,
        })
        .collect();
    let position: HashMap<i64, usize> = bills
        .iter()
        .enumerate()
        .map(|(i, b)| (b.account.id, i))
        .collect();
    for row in account_services {
        let service = services
            .get(&row.service_id)
            .cloned()
            .ok_or_else(|| AppError::internal("an account service's service is missing"))?;
        bills[position[&row.account_id]]
            .services
            .push((row, service, false));
    }
    for row in debits {
        bills[position[&row.account_id]].old_debits.push(row);
    }
    for row in discounts {
        bills[position[&row.account_id]]
            .discounts
            .push(invoicing::Unapplied::from(&row));
    }
    for (account_id, payments) in invoicing::unapplied_payments(db, &ids).await? {
        bills[position[&account_id]].payments = payments;
    }
    Ok(bills)
}

/// Works out an account's debits for every cycle up to `date`, and its services' and its own
/// next bill dates (no writes).
fn plan(bill: &mut Bill, date: NaiveDate) -> AppResult<()> {
    let account = &bill.account;
    let mut cycle = bill.next_bill_date;
    let day = billing_day(account, cycle);
    while cycle <= date {
        for (account_service, service, changed) in bill.services.iter_mut() {
            let Some(frequency) = service.billing_frequency else {
                continue;
            };
            if account_service.next_bill_date.is_some_and(|d| d > cycle) {
                continue;
            }
            let next = anchored(cycle, frequency, day)?;
            let to = next.pred_opt().unwrap_or(cycle);
            bill.new_debits.push(transactions::debit_row(
                account,
                service,
                Some(account_service),
                price(service, account_service),
                cycle,
                to,
                None,
                frequency,
            ));
            account_service.next_bill_date = Some(next);
            account_service.number_of_times_billed += 1;
            *changed = true;
        }
        cycle = anchored(cycle, 1, day)?;
    }
    bill.next_bill_date = cycle;
    bill.billed = bill.new_debits.len();
    Ok(())
}

/// Writes a batch's plans: every kind of row in one statement (debits in chunks).
async fn write<C: ConnectionTrait>(
    db: &C,
    bills: &mut [Bill],
    date: NaiveDate,
    settings: &settings::Snapshot,
    done: &mut Done,
) -> AppResult<()> {
    let webhooks = &settings.webhooks;
    let at = now();
    let mut audit = audit::Batch::default();

    // The invoices, one per account with something to invoice.
    let mut drafts = Vec::new();
    let mut applied_per_bill = Vec::new();
    for (i, bill) in bills.iter().enumerate() {
        let amounts: Vec<(i64, Option<NaiveDate>, i32)> = bill
            .old_debits
            .iter()
            .map(|d| (d.amount, d.prorated_to, d.number_of_months))
            .chain(bill.new_debits.iter().map(|d| {
                (
                    *d.amount.as_ref(),
                    *d.prorated_to.as_ref(),
                    *d.number_of_months.as_ref(),
                )
            }))
            .collect();
        if amounts.is_empty() {
            continue;
        }
        let total: i64 = amounts.iter().map(|a| a.0).sum();
        let remaining: Vec<i64> = bill.discounts.iter().map(|d| d.amount_remaining).collect();
        let applied = invoicing::allocate(total, &remaining);
        let credited: i64 = applied.iter().sum();
        let paid: i64 = invoicing::pay_from(total - credited, &bill.payments)
            .iter()
            .map(|(_, amount)| amount)
            .sum();
        let row = invoicing::invoice_row(
            &bill.account,
            total,
            credited + paid,
            amounts.iter().filter_map(|a| a.1).max(),
            amounts.iter().map(|a| a.2).max().unwrap_or(0),
            date,
            None,
            settings.grace_days(bill.account.account_type_id),
            None,
            at,
        )?;
        drafts.push(row);
        applied_per_bill.push((i, applied));
    }
    let mut invoices: Vec<invoice::Model> = Vec::with_capacity(drafts.len());
    for chunk in chunks(drafts, 1000) {
        invoices.extend(
            invoice::Entity::insert_many(chunk)
                .exec_with_returning(db)
                .await?,
        );
    }
    let invoice_of: HashMap<i64, &invoice::Model> =
        invoices.iter().map(|i| (i.account_id, i)).collect();

    // New debits, already on their invoices.
    let mut new_debits = Vec::new();
    for bill in bills.iter_mut() {
        let invoice_id = invoice_of.get(&bill.account.id).map(|i| i.id);
        for mut row in std::mem::take(&mut bill.new_debits) {
            row.invoice_id = Set(invoice_id);
            new_debits.push(row);
        }
    }
    done.debits = new_debits.len() as u64;
    // The debits have no audit row of their own (their invoice's row lists them): they are
    // read back only when an endpoint subscribes to them.
    let report_debits = webhooks.wants("Debit", "CREATED");
    for chunk in chunks(new_debits, 1000) {
        let insert = debit::Entity::insert_many(chunk);
        if report_debits {
            for debit in insert.exec_with_returning(db).await? {
                audit.notify_created(&debit);
            }
        } else {
            insert.exec_without_returning(db).await?;
        }
    }

    // Debits charged before the pass, onto the invoices.
    let old: Vec<(i64, i64)> = bills
        .iter()
        .flat_map(|b| {
            let invoice = invoice_of.get(&b.account.id).map(|i| i.id);
            b.old_debits
                .iter()
                .filter_map(move |d| invoice.map(|i| (d.id, i)))
        })
        .collect();
    if !old.is_empty() {
        let mut case = CaseStatement::new();
        for (debit_id, invoice_id) in &old {
            case = case.case(debit::Column::Id.eq(*debit_id), Expr::val(*invoice_id));
        }
        let result = debit::Entity::update_many()
            .col_expr(debit::Column::InvoiceId, case.into())
            .col_expr(debit::Column::UpdatedAt, Expr::value(at))
            .col_expr(
                debit::Column::Version,
                Expr::col(debit::Column::Version).add(1),
            )
            .filter(debit::Column::Id.is_in(old.iter().map(|o| o.0)))
            .filter(debit::Column::InvoiceId.is_null())
            .exec(db)
            .await?;
        if result.rows_affected != old.len() as u64 {
            return Err(AppError::Conflict(
                "a debit was invoiced by another request; retry".into(),
            ));
        }
    }

    // Discounts applied: their remainders, and the applications.
    let mut taken = Vec::new();
    let mut applications = Vec::new();
    for (i, applied) in &applied_per_bill {
        let bill = &bills[*i];
        let invoice_id = invoice_of[&bill.account.id].id;
        for (discount, amount) in bill.discounts.iter().zip(applied) {
            if *amount > 0 {
                taken.push((discount, *amount));
                applications.push(
                    application::ActiveModel {
                        invoice_id: Set(invoice_id),
                        discount_id: Set(discount.id),
                        amount: Set(*amount),
                        undone: Set(false),
                        ..Default::default()
                    }
                    .stamped(at),
                );
            }
        }
    }
    invoicing::take_from_discounts(db, &taken, at).await?;
    for chunk in chunks(applications, 2000) {
        application::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }

    // Payments applied after the credits: their remainders, and the applications.
    let mut paid = Vec::new();
    let mut payment_applications = Vec::new();
    for (i, applied) in &applied_per_bill {
        let bill = &bills[*i];
        let invoice = invoice_of[&bill.account.id];
        let credited: i64 = applied.iter().sum();
        for (payment, amount) in
            invoicing::pay_from(invoice.total_debits - credited, &bill.payments)
        {
            paid.push((payment, amount));
            payment_applications.push((invoice.id, payment.id, amount));
        }
    }
    for chunk in paid.chunks(1000) {
        invoicing::take_from_payments(db, chunk, at).await?;
    }
    for chunk in payment_applications.chunks(2000) {
        invoicing::record_payment_applications(db, chunk, at).await?;
    }

    // The services' next bill dates and counts.
    let changed: Vec<&account_service::Model> = bills
        .iter()
        .flat_map(|b| b.services.iter().filter(|s| s.2).map(|s| &s.0))
        .collect();
    if !changed.is_empty() {
        let mut next = CaseStatement::new();
        let mut times = CaseStatement::new();
        let mut version = CaseStatement::new();
        for row in &changed {
            let this = || account_service::Column::Id.eq(row.id);
            next = next.case(this(), Expr::val(row.next_bill_date));
            times = times.case(this(), Expr::val(row.number_of_times_billed));
            version = version.case(this(), Expr::val(row.version));
        }
        let result = account_service::Entity::update_many()
            .col_expr(account_service::Column::NextBillDate, next.into())
            .col_expr(account_service::Column::NumberOfTimesBilled, times.into())
            .col_expr(account_service::Column::UpdatedAt, Expr::value(at))
            .col_expr(
                account_service::Column::Version,
                Expr::col(account_service::Column::Version).add(1),
            )
            .filter(account_service::Column::Id.is_in(changed.iter().map(|r| r.id)))
            .filter(Expr::col(account_service::Column::Version).eq(version))
            .exec(db)
            .await?;
        if result.rows_affected != changed.len() as u64 {
            return Err(AppError::Conflict(
                "an account service was changed by another request; retry".into(),
            ));
        }
    }

    // The accounts: next bill date and next recurring charge, compare-and-set.
    let mut next = CaseStatement::new();
    let mut charge = CaseStatement::new();
    let mut version = CaseStatement::new();
    for bill in bills.iter() {
        let this = || account::Column::Id.eq(bill.account.id);
        let amount: i64 = bill
            .services
            .iter()
            .filter(|(a, _, _)| a.next_bill_date.is_none_or(|d| d <= bill.next_bill_date))
            .map(|(a, s, _)| price(s, a))
            .sum();
        next = next.case(this(), Expr::val(bill.next_bill_date));
        charge = charge.case(this(), Expr::val(amount));
        version = version.case(this(), Expr::val(bill.account.version));
    }
    let updated = account::Entity::update_many()
        .col_expr(account::Column::NextBillDate, next.into())
        .col_expr(account::Column::NextRecurringChargeAmount, charge.into())
        .col_expr(account::Column::UpdatedAt, Expr::value(at))
        .col_expr(
            account::Column::Version,
            Expr::col(account::Column::Version).add(1),
        )
        .filter(account::Column::Id.is_in(bills.iter().map(|b| b.account.id)))
        .filter(Expr::col(account::Column::Version).eq(version))
        .exec_with_returning(db)
        .await?;
    if updated.len() != bills.len() {
        return Err(AppError::Conflict(
            "an account was changed by another request; retry".into(),
        ));
    }
    let updated: HashMap<i64, account::Model> = updated.into_iter().map(|a| (a.id, a)).collect();

    for bill in bills.iter() {
        if let Some(invoice) = invoice_of.get(&bill.account.id) {
            audit.add(
                audit::LogType::System,
                invoice.id,
                None,
                None,
                Some(*invoice),
                format!(
                    "invoice of {} debit(s) for account {}",
                    bill.old_debits.len() + bill.billed,
                    bill.account.id
                ),
            );
        }
        audit.add(
            audit::LogType::System,
            bill.account.id,
            None,
            Some(&bill.account),
            updated.get(&bill.account.id),
            format!("billed through {date}: {} debit(s)", bill.billed),
        );
    }
    let dispatches = audit.dispatch_statements(db.get_database_backend(), webhooks);
    audit.write_with(db, dispatches).await?;
    done.accounts = bills.len() as u64;
    done.invoices = invoices.len() as u64;
    Ok(())
}

/// `rows` in chunks of at most `size` (a statement's bound parameters are limited: 32,766 on
/// SQLite).
fn chunks<T>(rows: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        out.push(rows.by_ref().take(size).collect());
    }
    out
}
