//! Money in: payments (Sonar's `createPayment`, `createPayments`, `reversePayment`,
//! `voidPayment`), applied to invoices in the payment's transaction; what a payment has left
//! is applied to the next invoices the account gets (by [`super::invoicing`], for
//! `createInvoice`, the billing pass and a disconnection's final invoice).
//!
//! Money is conserved: for every payment `amount` = `amount_remaining` + Σ its applications
//! not undone (a reversed or voided payment has nothing remaining and all its applications
//! undone), and for every invoice `remaining_due` = `total_debits` − Σ the credits applied −
//! Σ the payments applied (not undone).
//!
//! Decisions (README "Payments"): amounts are whole cents from 1 to [`MAX_AMOUNT`] (GraphQL's
//! largest `Int`); a payment is applied first to the invoices `invoice_ids` names, in that
//! order, then, with `apply_to_open_invoices`, to the account's other open invoices oldest due
//! first; a payment is reversed or voided whole (`amount` must be its amount), a void only on
//! the local day it was made (later, reverse it); an archived account takes no payment.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QueryTrait, Set, TransactionTrait,
};

use crate::entity::{
    account, invoice, invoice_payment_application as application, payment, reversed_payment,
    voided_payment,
};
use crate::error::{AppError, AppResult};
use crate::service::base::input::{Ignored, UNUSED};
use crate::service::base::{
    account_guard, audit,
    clock::now,
    compose, settings,
    store::{begin_write, find, Stamped},
    values::{optional_text, Id},
};
use crate::service::billing::{
    delinquency,
    invoicing::{self, pay_invoice, record_payment_applications},
};

/// The largest payment: GraphQL's largest `Int`, the type of Sonar's `amount`.
pub const MAX_AMOUNT: i64 = i32::MAX as i64;

/// The most payments one `createPayments` takes.
pub const MAX_BATCH: usize = 100;

/// Sonar's `NonPaymentMethodPaymentType`: the ways to pay that need no stored payment method.
pub const PAYMENT_TYPES: &[&str] = &["CASH", "WIRE", "CHECK", "OTHER", "PAYPAL"];

crate::input! {
    /// Input of `createPayment`, and of each payment of `createPayments`.
    pub struct CreatePayment as "CreatePaymentMutationInput" {
        account_id: Id => "Int64Bit!";
        amount: i64 => "Int!", "In cents, 1 or more.";
        payment_type: String => "NonPaymentMethodPaymentType!";
        reference: Option<String> => "String";
        description: Option<String> => "String";
        payment_datetime: Option<String> => "Datetime", "When it was paid; now when left out.";
        apply_to_open_invoices: Option<bool> => "Boolean", "After the invoices named in invoice_ids, pay the account's other open invoices, oldest due first. What is left is applied to the account's next invoices.";
        invoice_ids: Option<Vec<Id>> => "[Int64Bit!]", "Invoices of the account to pay first, in this order.";
        payment_tracker_id: Option<String> => "String";
        transaction_id: Option<String> => "String";
        email_payment_receipt: Ignored => "Boolean", UNUSED;
    }
}

crate::input! {
    /// Input of `createPayments`.
    pub struct CreatePayments as "CreatePaymentsMutationInput" {
        payments: Vec<Option<CreatePayment>> => "[CreatePaymentMutationInput]!", "At most 100; each is carried out on its own: one refused leaves the others done.";
    }
}

crate::input! {
    /// Input of `reversePayment`.
    pub struct ReversePayment as "ReversePaymentMutationInput" {
        amount: i64 => "Int!", "The payment's whole amount: fathom reverses a payment whole.";
        description: Option<String> => "String";
    }
}

crate::input! {
    /// Input of `voidPayment`.
    pub struct VoidPayment as "VoidPaymentMutationInput" {
        amount: i64 => "Int!", "The payment's whole amount: fathom voids a payment whole, on the day it was made.";
        description: Option<String> => "String";
        payment_tracker_id: Option<String> => "String";
    }
}

/// `createPayment`.
pub async fn create(
    db: &DatabaseConnection,
    user_id: i64,
    input: CreatePayment,
) -> AppResult<payment::Model> {
    let txn = begin_write(db).await?;
    let model = create_in(&txn, user_id, input, "").await?;
    txn.commit().await?;
    Ok(model)
}

/// One result of `createPayments`: the payment, or why it was refused.
pub type Outcome = AppResult<payment::Model>;

/// `createPayments`: each payment in a savepoint of one transaction, so that one refused
/// leaves the others done; the results in the order given. Refused as a whole only when the
/// list is empty or longer than [`MAX_BATCH`].
pub async fn create_many(
    db: &DatabaseConnection,
    user_id: i64,
    input: CreatePayments,
) -> AppResult<Vec<Outcome>> {
    if input.payments.is_empty() || input.payments.len() > MAX_BATCH {
        return Err(AppError::validation(
            "payments",
            format!("payments holds 1 to {MAX_BATCH} payments"),
        ));
    }
    let txn = begin_write(db).await?;
    let mut outcomes = Vec::with_capacity(input.payments.len());
    for (i, item) in input.payments.into_iter().enumerate() {
        let prefix = format!("payments.{i}.");
        let Some(item) = item else {
            outcomes.push(Err(AppError::validation(
                format!("payments.{i}"),
                "a payment is required here",
            )));
            continue;
        };
        let savepoint = txn.begin().await?;
        match create_in(&savepoint, user_id, item, &prefix).await {
            Ok(model) => {
                savepoint.commit().await?;
                outcomes.push(Ok(model));
            }
            Err(err) if !err.is_server_fault() => {
                savepoint.rollback().await?;
                outcomes.push(Err(err));
            }
            // Anything but a refusal (the database failing) fails the whole batch.
            Err(err) => return Err(err),
        }
    }
    txn.commit().await?;
    Ok(outcomes)
}

/// A payment inside the caller's transaction; refused fields are named with `prefix` before
/// them (`payments.3.` in a batch).
pub async fn create_in<C: ConnectionTrait>(
    txn: &C,
    user_id: i64,
    input: CreatePayment,
    prefix: &str,
) -> AppResult<payment::Model> {
    let field = |name: &str| format!("{prefix}{name}");
    if !(1..=MAX_AMOUNT).contains(&input.amount) {
        return Err(AppError::validation(
            field("amount"),
            format!("amount is in cents, from 1 to {MAX_AMOUNT}"),
        ));
    }
    if !PAYMENT_TYPES.contains(&input.payment_type.as_str()) {
        return Err(AppError::validation(
            field("payment_type"),
            format!("payment_type is one of {}", PAYMENT_TYPES.join(", ")),
        ));
    }
    let paid_at = match input.payment_datetime.as_deref() {
        None => now(),
        Some(text) => crate::domain::parse_datetime(text).ok_or_else(|| {
            AppError::validation(
                field("payment_datetime"),
                "payment_datetime is an ISO 8601 date and time with its offset",
            )
        })?,
    };
    let reference = optional_text(&field("reference"), input.reference.as_deref())?;
    let description = optional_text(&field("description"), input.description.as_deref())?;
    let tracker = optional_text(
        &field("payment_tracker_id"),
        input.payment_tracker_id.as_deref(),
    )?;
    let transaction_id = optional_text(&field("transaction_id"), input.transaction_id.as_deref())?;
    let named: Vec<i64> = input
        .invoice_ids
        .unwrap_or_default()
        .into_iter()
        .map(|id| id.0)
        .collect();
    for (i, id) in named.iter().enumerate() {
        if named[..i].contains(id) {
            return Err(AppError::validation(
                field(&format!("invoice_ids.{i}")),
                format!("invoice {id} is named twice"),
            ));
        }
    }
    // The account locked and the settings read by one statement.
    let (account, settings) = account_guard::lock_with_settings(txn, input.account_id.0)
        .await
        .map_err(|err| match err {
            AppError::NotFound(_) => AppError::validation(
                field("account_id"),
                format!("account {} does not exist", input.account_id.0),
            ),
            other => other,
        })?;
    if account.archived_at.is_some() {
        return Err(AppError::AccountArchived(format!(
            "account {} is archived; unarchive it first",
            account.id
        )));
    }

    // The invoices to pay, in order: those named, then the other open ones oldest due first.
    let mut targets: Vec<invoice::Model> = Vec::new();
    if !named.is_empty() {
        let found = invoice::Entity::find()
            .filter(invoice::Column::Id.is_in(named.iter().copied()))
            .all(txn)
            .await?;
        for (i, id) in named.iter().enumerate() {
            let invoice = found
                .iter()
                .find(|inv| inv.id == *id && inv.account_id == account.id)
                .ok_or_else(|| {
                    AppError::validation(
                        field(&format!("invoice_ids.{i}")),
                        format!("invoice {id} is not an invoice of account {}", account.id),
                    )
                })?;
            if invoice.void {
                return Err(AppError::validation(
                    field(&format!("invoice_ids.{i}")),
                    format!("invoice {id} is void"),
                ));
            }
            targets.push(invoice.clone());
        }
    }
    if input.apply_to_open_invoices == Some(true) {
        let open = invoice::Entity::find()
            .filter(invoice::Column::AccountId.eq(account.id))
            .filter(invoice::Column::RemainingDue.gt(0))
            .filter(invoice::Column::Void.eq(false))
            .order_by_asc(invoice::Column::DueDate)
            .order_by_asc(invoice::Column::Id)
            .all(txn)
            .await?;
        targets.extend(open.into_iter().filter(|inv| !named.contains(&inv.id)));
    }
    let dues: Vec<i64> = targets.iter().map(|inv| inv.remaining_due).collect();
    let applied = invoicing::allocate(input.amount, &dues);
    let applied_total: i64 = applied.iter().sum();

    let at = now();
    let row = payment::ActiveModel {
        account_id: Set(account.id),
        company_id: Set(account.company_id),
        amount: Set(input.amount),
        amount_remaining: Set(input.amount - applied_total),
        payment_type: Set(input.payment_type),
        payment_datetime: Set(paid_at),
        reference: Set(reference),
        description: Set(description),
        payment_tracker_id: Set(tracker),
        transaction_id: Set(transaction_id),
        status: Set("SUCCEEDED".into()),
        successful: Set(true),
        reversed: Set(false),
        user_id: Set(Some(user_id)),
        ..Default::default()
    }
    .stamped(at);
    let paid: Vec<(&invoice::Model, i64)> = targets
        .iter()
        .zip(applied)
        .filter(|(_, amount)| *amount > 0)
        .collect();
    let (model, afters) = write_payment(txn, row, &paid, at).await?;
    let mut audit = audit::Batch::default();
    audit.add(
        audit::LogType::Created,
        model.id,
        Some(user_id),
        None,
        Some(&model),
        format!("payment of {} for account {}", model.amount, account.id),
    );
    let mut applications = Vec::new();
    for ((invoice, amount), after) in paid.iter().zip(&afters) {
        audit.add(
            audit::LogType::Updated,
            after.id,
            Some(user_id),
            Some(*invoice),
            Some(after),
            format!("{amount} paid by payment {}", model.id),
        );
        applications.push((invoice.id, model.id, *amount));
    }
    let backend = txn.get_database_backend();
    if backend != DbBackend::Postgres {
        record_payment_applications(txn, &applications, at).await?;
        delinquency::settle(txn, &settings, account.id, Some(user_id), &mut audit).await?;
        let dispatches = audit.dispatch_statements(backend, &settings.webhooks);
        audit.write_with(txn, dispatches).await?;
        return Ok(model);
    }
    // On PostgreSQL the applications, the audit rows and the delinquency mark are one
    // statement (a status restored by the mark, rare, writes its own rows after it).
    let dispatches = audit.dispatch_statements(backend, &settings.webhooks);
    let (logs, written) = audit.into_statement(backend);
    let logs = logs.ok_or_else(|| AppError::internal("no audit row"))?;
    let (invoices, marked) = delinquency::mark_statements(
        backend,
        account.id,
        settings.local_date(at),
        &settings.billing,
    );
    let statement = match invoicing::payment_applications_insert(&applications, at) {
        Some(insert) => compose::postgres(
            "WITH a AS ({0}), l AS ({1}), i AS ({2}) {3}",
            vec![insert.build(backend), logs, invoices, marked],
        ),
        None => compose::postgres(
            "WITH l AS ({0}), i AS ({1}) {2}",
            vec![logs, invoices, marked],
        ),
    };
    let row = txn
        .query_one_raw(statement)
        .await?
        .ok_or_else(|| AppError::not_found("Account", account.id))?;
    let marked = <account::Model as sea_orm::FromQueryResult>::from_query_result(&row, "")?;
    for dispatch in dispatches {
        txn.execute_raw(dispatch).await?;
    }
    written.finish(txn).await?;
    let mut restored = audit::Batch::default();
    delinquency::restore_if_cleared(txn, &settings, &marked, Some(user_id), &mut restored).await?;
    restored.write(txn).await?;
    Ok(model)
}

/// Inserts the payment and lowers each invoice of `paid` by its amount (each only if unchanged
/// since it was read, else `CONFLICT`); returns the payment and the invoices as they are then.
/// On PostgreSQL one statement: the invoices' updates ride in `WITH` clauses of the payment's
/// insert, which answers how many of them found their invoice unchanged.
async fn write_payment<C: ConnectionTrait>(
    txn: &C,
    row: payment::ActiveModel,
    paid: &[(&invoice::Model, i64)],
    at: DateTime<Utc>,
) -> AppResult<(payment::Model, Vec<invoice::Model>)> {
    let backend = txn.get_database_backend();
    if backend != DbBackend::Postgres {
        let model = row.insert(txn).await?;
        let mut afters = Vec::with_capacity(paid.len());
        for (invoice, amount) in paid {
            afters.push(pay_invoice(txn, invoice, *amount, at).await?);
        }
        return Ok((model, afters));
    }
    let mut insert = payment::Entity::insert(row);
    QueryTrait::query(&mut insert).returning_all();
    let mut parts = vec![insert.build(backend)];
    let mut template = String::from("WITH ");
    let mut counts = Vec::with_capacity(paid.len());
    for (i, (invoice, amount)) in paid.iter().enumerate() {
        let mut update = invoicing::pay_invoice_update(invoice, *amount, at);
        QueryTrait::query(&mut update).returning_col(invoice::Column::Id);
        parts.push(update.build(backend));
        template.push_str(&format!("u{i} AS ({{{}}}), ", i + 1));
        counts.push(format!("(SELECT count(*) FROM u{i})"));
    }
    template.push_str("p AS ({0}) SELECT p.*, ");
    template.push_str(&if counts.is_empty() {
        "CAST(0 AS BIGINT)".to_owned()
    } else {
        counts.join(" + ")
    });
    template.push_str(" AS invoices_paid FROM p");
    let row = txn
        .query_one_raw(compose::postgres(&template, parts))
        .await?
        .ok_or_else(|| AppError::internal("the payment's insert answered no row"))?;
    let model = <payment::Model as sea_orm::FromQueryResult>::from_query_result(&row, "")?;
    let unchanged: i64 = row.try_get("", "invoices_paid")?;
    if unchanged != paid.len() as i64 {
        return Err(AppError::Conflict(
            "an invoice was changed by another request; retry".into(),
        ));
    }
    let afters = paid
        .iter()
        .map(|(invoice, amount)| invoicing::paid(invoice, *amount, at))
        .collect();
    Ok((model, afters))
}

/// How a payment is undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Undo {
    Reverse,
    Void,
}

/// `reversePayment`: the payment undone (see [`undo`]); returns the reversal.
pub async fn reverse(
    db: &DatabaseConnection,
    user_id: i64,
    id: i64,
    input: ReversePayment,
) -> AppResult<reversed_payment::Model> {
    let description = optional_text("description", input.description.as_deref())?;
    let txn = begin_write(db).await?;
    let (payment, at) = undo(&txn, user_id, id, input.amount, Undo::Reverse).await?;
    let model = reversed_payment::ActiveModel {
        payment_id: Set(payment.id),
        amount: Set(payment.amount),
        description: Set(description),
        user_id: Set(Some(user_id)),
        ..Default::default()
    }
    .stamped(at)
    .insert(&txn)
    .await?;
    audit::created(&txn, model.id, user_id, &model).await?;
    txn.commit().await?;
    Ok(model)
}

/// `voidPayment`: the payment undone, on the local day it was made (see [`undo`]); returns
/// the void.
pub async fn void(
    db: &DatabaseConnection,
    user_id: i64,
    id: i64,
    input: VoidPayment,
) -> AppResult<voided_payment::Model> {
    let description = optional_text("description", input.description.as_deref())?;
    let tracker = optional_text("payment_tracker_id", input.payment_tracker_id.as_deref())?;
    let txn = begin_write(db).await?;
    let (payment, at) = undo(&txn, user_id, id, input.amount, Undo::Void).await?;
    let model = voided_payment::ActiveModel {
        payment_id: Set(payment.id),
        amount: Set(payment.amount),
        description: Set(description),
        payment_tracker_id: Set(tracker),
        transaction_id: Set(payment.transaction_id.clone()),
        user_id: Set(Some(user_id)),
        ..Default::default()
    }
    .stamped(at)
    .insert(&txn)
    .await?;
    audit::created(&txn, model.id, user_id, &model).await?;
    txn.commit().await?;
    Ok(model)
}

/// Undoes payment `id` whole, inside the caller's transaction: it is marked `reversed` with
/// nothing remaining, each invoice it paid owes that part again (its application `undone`),
/// and every change has its audit row. Refusals: `NOT_FOUND`; `VALIDATION_FAILED` naming
/// `amount` when it is not the payment's, or `id` when the payment was already undone or
/// (a void) was made on an earlier day.
async fn undo<C: ConnectionTrait>(
    txn: &C,
    user_id: i64,
    id: i64,
    amount: i64,
    how: Undo,
) -> AppResult<(payment::Model, DateTime<Utc>)> {
    let found = find::<payment::Entity, _>(txn, id).await?;
    // The account's lock orders this after any payment or bill of the same account.
    account_guard::lock(txn, found.account_id).await?;
    let payment = find::<payment::Entity, _>(txn, id).await?;
    if payment.reversed {
        return Err(AppError::validation(
            "id",
            format!("payment {id} was already reversed or voided"),
        ));
    }
    if amount != payment.amount {
        return Err(AppError::validation(
            "amount",
            format!(
                "a payment is undone whole: amount must be {}",
                payment.amount
            ),
        ));
    }
    let at = now();
    if how == Undo::Void {
        let settings = settings::snapshot(txn).await?;
        if settings.local_date(payment.payment_datetime) != settings.local_date(at) {
            return Err(AppError::validation(
                "id",
                format!(
                    "payment {id} was made on an earlier day: reverse it instead of voiding it"
                ),
            ));
        }
    }
    let mut audit = audit::Batch::default();
    let applications = application::Entity::find()
        .filter(application::Column::PaymentId.eq(id))
        .filter(application::Column::Undone.eq(false))
        .order_by_asc(application::Column::Id)
        .all(txn)
        .await?;
    if !applications.is_empty() {
        let invoices = invoice::Entity::find()
            .filter(invoice::Column::Id.is_in(applications.iter().map(|a| a.invoice_id)))
            .all(txn)
            .await?;
        for invoice in &invoices {
            let owed: i64 = applications
                .iter()
                .filter(|a| a.invoice_id == invoice.id)
                .map(|a| a.amount)
                .sum();
            let after = pay_invoice(txn, invoice, -owed, at).await?;
            audit.add(
                audit::LogType::Updated,
                after.id,
                Some(user_id),
                Some(invoice),
                Some(&after),
                format!("{owed} owed again: payment {id} undone"),
            );
        }
        let undone = application::Entity::update_many()
            .col_expr(application::Column::Undone, Expr::value(true))
            .col_expr(application::Column::UpdatedAt, Expr::value(at))
            .col_expr(
                application::Column::Version,
                Expr::col(application::Column::Version).add(1),
            )
            .filter(application::Column::PaymentId.eq(id))
            .filter(application::Column::Undone.eq(false))
            .exec(txn)
            .await?;
        if undone.rows_affected != applications.len() as u64 {
            return Err(AppError::Conflict(
                "the payment was changed by another request; retry".into(),
            ));
        }
    }
    let updated = payment::Entity::update_many()
        .col_expr(payment::Column::Reversed, Expr::value(true))
        .col_expr(payment::Column::AmountRemaining, Expr::value(0i64))
        .col_expr(payment::Column::UpdatedAt, Expr::value(at))
        .col_expr(
            payment::Column::Version,
            Expr::col(payment::Column::Version).add(1),
        )
        .filter(payment::Column::Id.eq(id))
        .filter(payment::Column::Version.eq(payment.version))
        .exec_with_returning(txn)
        .await?;
    let after = updated.into_iter().next().ok_or_else(|| {
        AppError::Conflict("the payment was changed by another request; retry".into())
    })?;
    audit.add(
        audit::LogType::Updated,
        id,
        Some(user_id),
        Some(&payment),
        Some(&after),
        match how {
            Undo::Reverse => "payment reversed",
            Undo::Void => "payment voided",
        },
    );
    delinquency::settle_reading(txn, after.account_id, Some(user_id), &mut audit).await?;
    audit.write(txn).await?;
    Ok((after, at))
}
