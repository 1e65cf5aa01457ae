//! Invoices: a set of uninvoiced debits, less the account's unapplied discounts applied oldest
//! first up to the total, then what its payments have left, oldest first. Used by
//! `createInvoice`, the billing pass and the final invoice of a disconnection; payments
//! ([`super::payments`]) use the same applying of money to invoices.
//!
//! Money is conserved: `total_debits` = Σ the invoice's debits, `remaining_due` =
//! `total_debits` − Σ the credits applied to it − Σ the payments applied to it (not undone),
//! for every discount `amount` = `amount_remaining` + Σ what was applied from it, and for
//! every payment not undone `amount` = `amount_remaining` + Σ what was applied from it.

use chrono::{Datelike, NaiveDate};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QueryTrait, Set,
};

use crate::entity::{
    account, debit, discount, invoice, invoice_discount_application as application,
    invoice_payment_application as payment_application, payment,
};
use crate::error::{AppError, AppResult};
use crate::service::base::store::Stamped;
use crate::service::base::{
    account_guard, audit,
    clock::now,
    compose, settings,
    store::{begin_write, column, find},
    values::{self, Id},
};
use crate::service::billing::delinquency;

/// Days from an invoice's date to its due date when the caller does not give one.
pub const DEFAULT_DUE_DAYS: i64 = 14;

/// What each of `payments` pays of `due`, oldest first, those paying nothing left out.
pub fn pay_from(due: i64, payments: &[Unapplied]) -> Vec<(&Unapplied, i64)> {
    let remaining: Vec<i64> = payments.iter().map(|p| p.amount_remaining).collect();
    payments
        .iter()
        .zip(allocate(due, &remaining))
        .filter(|(_, amount)| *amount > 0)
        .collect()
}

/// How much of `total` each discount covers, taking them in order until `total` is used up.
pub fn allocate(total: i64, remaining: &[i64]) -> Vec<i64> {
    let mut left = Ord::max(total, 0);
    remaining
        .iter()
        .map(|r| {
            let take = (*r).clamp(0, left);
            left -= take;
            take
        })
        .collect()
}

/// What applying a discount or a payment to an invoice needs of it: which, its remainder, and
/// its version (the remainder changes by compare-and-set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unapplied {
    pub id: i64,
    pub version: i64,
    pub amount_remaining: i64,
}

impl From<&discount::Model> for Unapplied {
    fn from(d: &discount::Model) -> Self {
        Unapplied {
            id: d.id,
            version: d.version,
            amount_remaining: d.amount_remaining,
        }
    }
}

/// The account's discounts with something left to apply, oldest (lowest id) first.
pub async fn unapplied_discounts<C: ConnectionTrait>(
    db: &C,
    account_id: i64,
) -> AppResult<Vec<discount::Model>> {
    Ok(discount::Entity::find()
        .filter(discount::Column::AccountId.eq(account_id))
        .filter(discount::Column::AmountRemaining.gt(0))
        .filter(discount::Column::Reversed.eq(false))
        .order_by_asc(discount::Column::Id)
        .all(db)
        .await?)
}

/// The account's debits not yet on an invoice (and not reversed), oldest first.
pub async fn uninvoiced_debits<C: ConnectionTrait>(
    db: &C,
    account_id: i64,
) -> AppResult<Vec<debit::Model>> {
    Ok(debit::Entity::find()
        .filter(debit::Column::AccountId.eq(account_id))
        .filter(debit::Column::InvoiceId.is_null())
        .filter(debit::Column::Reversed.eq(false))
        .order_by_asc(debit::Column::Id)
        .all(db)
        .await?)
}

impl From<&payment::Model> for Unapplied {
    fn from(p: &payment::Model) -> Self {
        Unapplied {
            id: p.id,
            version: p.version,
            amount_remaining: p.amount_remaining,
        }
    }
}

/// The accounts' payments with something left to apply (and not undone), oldest (lowest id)
/// first, by account. One statement.
pub async fn unapplied_payments<C: ConnectionTrait>(
    db: &C,
    account_ids: &[i64],
) -> AppResult<std::collections::HashMap<i64, Vec<Unapplied>>> {
    let mut by_account: std::collections::HashMap<i64, Vec<Unapplied>> =
        std::collections::HashMap::new();
    if account_ids.is_empty() {
        return Ok(by_account);
    }
    for row in payment::Entity::find()
        .filter(payment::Column::AccountId.is_in(account_ids.iter().copied()))
        .filter(payment::Column::AmountRemaining.gt(0))
        .filter(payment::Column::Reversed.eq(false))
        .order_by_asc(payment::Column::Id)
        .all(db)
        .await?
    {
        by_account
            .entry(row.account_id)
            .or_default()
            .push(Unapplied::from(&row));
    }
    Ok(by_account)
}

/// Takes `(payment, amount)` off each payment's remainder, each only if the payment is
/// unchanged since it was read (else `CONFLICT`). One statement; none when `taken` is empty.
pub async fn take_from_payments<C: ConnectionTrait>(
    db: &C,
    taken: &[(&Unapplied, i64)],
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<()> {
    take_remainders::<payment::Entity, C>(db, taken, at, "a payment").await
}

/// Inserts the payment applications `(invoice, payment, amount)` whose amount is above zero.
/// One statement; none when there are none.
pub async fn record_payment_applications<C: ConnectionTrait>(
    db: &C,
    applications: &[(i64, i64, i64)],
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<()> {
    if let Some(insert) = payment_applications_insert(applications, at) {
        insert.exec_without_returning(db).await?;
    }
    Ok(())
}

/// The `INSERT` of [`record_payment_applications`], for a caller that sends it with other
/// writes; `None` when there is nothing to record.
pub fn payment_applications_insert(
    applications: &[(i64, i64, i64)],
    at: chrono::DateTime<chrono::Utc>,
) -> Option<sea_orm::InsertMany<payment_application::ActiveModel>> {
    let rows: Vec<payment_application::ActiveModel> = applications
        .iter()
        .filter(|(_, _, amount)| *amount > 0)
        .map(|(invoice_id, payment_id, amount)| {
            payment_application::ActiveModel {
                invoice_id: Set(*invoice_id),
                payment_id: Set(*payment_id),
                amount: Set(*amount),
                undone: Set(false),
                ..Default::default()
            }
            .stamped(at)
        })
        .collect();
    (!rows.is_empty()).then(|| payment_application::Entity::insert_many(rows))
}

/// Lowers `invoice`'s `remaining_due` by `amount` (a negative amount raises it), with its
/// status, if the invoice is unchanged since it was read (else `CONFLICT`); returns it as it
/// is then.
pub async fn pay_invoice<C: ConnectionTrait>(
    db: &C,
    invoice: &invoice::Model,
    amount: i64,
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<invoice::Model> {
    let updated = pay_invoice_update(invoice, amount, at)
        .exec_with_returning(db)
        .await?;
    updated.into_iter().next().ok_or_else(|| {
        AppError::Conflict("the invoice was changed by another request; retry".into())
    })
}

/// [`pay_invoice`]'s update, to send with other statements.
pub fn pay_invoice_update(
    invoice: &invoice::Model,
    amount: i64,
    at: chrono::DateTime<chrono::Utc>,
) -> sea_orm::UpdateMany<invoice::Entity> {
    let remaining_due = invoice.remaining_due - amount;
    invoice::Entity::update_many()
        .col_expr(invoice::Column::RemainingDue, Expr::value(remaining_due))
        .col_expr(
            invoice::Column::Status,
            Expr::value(status_of(remaining_due)),
        )
        .col_expr(invoice::Column::UpdatedAt, Expr::value(at))
        .col_expr(
            invoice::Column::Version,
            Expr::col(invoice::Column::Version).add(1),
        )
        .filter(invoice::Column::Id.eq(invoice.id))
        .filter(invoice::Column::Version.eq(invoice.version))
}

/// `invoice` as [`pay_invoice_update`] leaves it, when the update found it unchanged.
pub fn paid(
    invoice: &invoice::Model,
    amount: i64,
    at: chrono::DateTime<chrono::Utc>,
) -> invoice::Model {
    let remaining_due = invoice.remaining_due - amount;
    invoice::Model {
        remaining_due,
        status: status_of(remaining_due).to_owned(),
        updated_at: at,
        version: invoice.version + 1,
        ..invoice.clone()
    }
}

/// An invoice's status for what it still owes.
pub fn status_of(remaining_due: i64) -> &'static str {
    if remaining_due == 0 {
        "PAID"
    } else {
        "UNPAID"
    }
}

/// Writes an invoice of `debits` (all uninvoiced debits of `account`), applying the account's
/// unapplied discounts. Every write is conditional, so a debit invoiced or a discount applied
/// concurrently makes this a `CONFLICT` (and the caller's transaction writes nothing).
pub async fn write_invoice<C: ConnectionTrait>(
    db: &C,
    account: &account::Model,
    debits: &[debit::Model],
    date: NaiveDate,
    due_date: Option<NaiveDate>,
    message: Option<String>,
    user_id: Option<i64>,
) -> AppResult<invoice::Model> {
    let discounts: Vec<Unapplied> = unapplied_discounts(db, account.id)
        .await?
        .iter()
        .map(Unapplied::from)
        .collect();
    let payments = unapplied_payments(db, &[account.id])
        .await?
        .remove(&account.id)
        .unwrap_or_default();
    let mut audit = audit::Batch::default();
    let grace_days = settings::snapshot(db)
        .await?
        .grace_days(account.account_type_id);
    let draft = Draft {
        account,
        debits,
        date,
        due_date,
        message,
        user_id,
        grace_days,
    };
    let model = draft
        .write(db, &discounts, &[], &payments, &mut audit)
        .await?;
    audit.write(db).await?;
    Ok(model)
}

/// An invoice to write: the account's uninvoiced `debits`, dated `date`.
pub struct Draft<'a> {
    pub account: &'a account::Model,
    pub debits: &'a [debit::Model],
    pub date: NaiveDate,
    pub due_date: Option<NaiveDate>,
    pub message: Option<String>,
    /// Who made it; `None` for the billing pass (its audit row is then `SYSTEM`).
    pub user_id: Option<i64>,
    /// The grace days of the account's billing default: its delinquency date falls this many
    /// days after its due date.
    pub grace_days: i32,
}

impl Draft<'_> {
    /// Writes the invoice, applying `discounts` (existing, with something left, oldest first)
    /// and then `new_credits` (credits inserted by the caller just before, already net of what
    /// [`allocate`] gives them here: `(id, amount)`), then what `payments` have left (oldest
    /// first), and adds its audit row to `audit`. Three to five statements: the invoice with
    /// its debits (one on PostgreSQL, two on SQLite), the existing discounts' new remainders
    /// (when any is applied), the applications; two more when payments pay part of it.
    pub async fn write<C: ConnectionTrait>(
        self,
        db: &C,
        discounts: &[Unapplied],
        new_credits: &[(i64, i64)],
        payments: &[Unapplied],
        audit: &mut audit::Batch,
    ) -> AppResult<invoice::Model> {
        let total: i64 = self.debits.iter().map(|d| d.amount).sum();
        let mut remaining: Vec<i64> = discounts.iter().map(|d| d.amount_remaining).collect();
        remaining.extend(new_credits.iter().map(|(_, amount)| *amount));
        let applied = allocate(total, &remaining);
        let credited: i64 = applied.iter().sum();
        let paid = pay_from(total - credited, payments);
        let applied_total = credited + paid.iter().map(|(_, amount)| amount).sum::<i64>();
        let at = now();
        let row = self.row(total, applied_total, at)?;
        let ids: Vec<i64> = self.debits.iter().map(|d| d.id).collect();
        let model = insert_with_debits(db, row, &ids, at).await?;
        let (old, new) = applied.split_at(discounts.len());
        let existing: Vec<(&Unapplied, i64)> = discounts
            .iter()
            .zip(old.iter().copied())
            .filter(|(_, a)| *a > 0)
            .collect();
        take_from_discounts(db, &existing, at).await?;
        let applications = existing
            .iter()
            .map(|(d, amount)| (d.id, *amount))
            .chain(
                new_credits
                    .iter()
                    .zip(new.iter().copied())
                    .filter(|(_, a)| *a > 0)
                    .map(|((id, _), amount)| (*id, amount)),
            )
            .map(|(discount_id, amount)| {
                application::ActiveModel {
                    invoice_id: Set(model.id),
                    discount_id: Set(discount_id),
                    amount: Set(amount),
                    undone: Set(false),
                    ..Default::default()
                }
                .stamped(at)
            })
            .collect::<Vec<_>>();
        if !applications.is_empty() {
            application::Entity::insert_many(applications)
                .exec_without_returning(db)
                .await?;
        }
        take_from_payments(db, &paid, at).await?;
        let paid: Vec<(i64, i64, i64)> = paid
            .iter()
            .map(|(p, amount)| (model.id, p.id, *amount))
            .collect();
        record_payment_applications(db, &paid, at).await?;
        audit.add(
            if self.user_id.is_some() {
                audit::LogType::Created
            } else {
                audit::LogType::System
            },
            model.id,
            self.user_id,
            None,
            Some(&model),
            format!(
                "invoice of {} debit(s) for account {}",
                self.debits.len(),
                self.account.id
            ),
        );
        Ok(model)
    }

    fn row(
        &self,
        total: i64,
        applied_total: i64,
        at: chrono::DateTime<chrono::Utc>,
    ) -> AppResult<invoice::ActiveModel> {
        invoice_row(
            self.account,
            total,
            applied_total,
            self.debits.iter().filter_map(|d| d.prorated_to).max(),
            self.debits
                .iter()
                .map(|d| d.number_of_months)
                .max()
                .unwrap_or(0),
            self.date,
            self.due_date,
            self.grace_days,
            self.message.clone(),
            at,
        )
    }
}

/// The row of an invoice of `account` dated `date` for debits totalling `total`, of which
/// `applied_total` is paid by credits; `last_day` is the latest day the debits cover and
/// `months` their longest period in months. Without a due date, it falls
/// [`DEFAULT_DUE_DAYS`] after `date`; its delinquency date falls `grace_days` after that.
#[allow(clippy::too_many_arguments)]
pub fn invoice_row(
    account: &account::Model,
    total: i64,
    applied_total: i64,
    last_day: Option<NaiveDate>,
    months: i32,
    date: NaiveDate,
    due_date: Option<NaiveDate>,
    grace_days: i32,
    message: Option<String>,
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<invoice::ActiveModel> {
    let end_date = Ord::max(last_day.unwrap_or(date), date);
    let months = Ord::max(months, 1);
    let remaining_due = total - applied_total;
    let due_date = match due_date {
        Some(d) => d,
        None => date
            .checked_add_days(chrono::Days::new(DEFAULT_DUE_DAYS as u64))
            .filter(|d| crate::domain::YEARS.contains(&d.year()))
            .ok_or_else(|| {
                AppError::validation("date", "the invoice's due date would fall after 9999")
            })?,
    };
    let delinquency_date = due_date
        .checked_add_days(chrono::Days::new(Ord::max(grace_days, 0) as u64))
        .filter(|d| crate::domain::YEARS.contains(&d.year()))
        .ok_or_else(|| {
            AppError::validation(
                "due_date",
                "the invoice's delinquency date (due date and grace days) would fall after 9999",
            )
        })?;
    Ok(invoice::ActiveModel {
        account_id: Set(account.id),
        company_id: Set(account.company_id),
        date: Set(date),
        due_date: Set(due_date),
        end_date: Set(end_date),
        total_debits: Set(total),
        remaining_due: Set(remaining_due),
        total_taxes: Set(0),
        child_invoice_remaining_due: Set(0),
        status: Set(status_of(remaining_due).into()),
        message: Set(message),
        number_of_months: Set(months),
        void: Set(false),
        frozen: Set(false),
        delinquent: Set(false),
        delinquency_date: Set(Some(delinquency_date)),
        late_fee_applied: Set(false),
        late_fee_only: Set(false),
        pending_email: Set(false),
        tax_committed: Set(false),
        auto_pay_attempts: Set(0),
        ..Default::default()
    }
    .stamped(at))
}

/// Inserts the invoice `row` and puts the debits `ids` on it, each only if still uninvoiced
/// (else `CONFLICT`). One statement on PostgreSQL.
async fn insert_with_debits<C: ConnectionTrait>(
    db: &C,
    row: invoice::ActiveModel,
    ids: &[i64],
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<invoice::Model> {
    let backend = db.get_database_backend();
    let put_on = |invoice_id: Expr| {
        debit::Entity::update_many()
            .col_expr(debit::Column::InvoiceId, invoice_id)
            .col_expr(debit::Column::UpdatedAt, Expr::value(at))
            .col_expr(
                debit::Column::Version,
                Expr::col(debit::Column::Version).add(1),
            )
            .filter(debit::Column::Id.is_in(ids.iter().copied()))
            .filter(debit::Column::InvoiceId.is_null())
    };
    let conflict = || AppError::Conflict("a debit was invoiced by another request; retry".into());
    if backend == DbBackend::Postgres {
        let insert = invoice::Entity::insert(row).build(backend);
        // The debits' update names the new invoice through the insert's own result.
        let update = put_on(Expr::cust("(SELECT id FROM inv)")).build(backend);
        let statement = compose::postgres(
            "WITH inv AS ({0} RETURNING *), put AS ({1} RETURNING 1) \
             SELECT inv.*, (SELECT count(*) FROM put) AS invoiced FROM inv",
            vec![insert, update],
        );
        let found = db
            .query_one_raw(statement)
            .await?
            .ok_or_else(|| AppError::internal("the invoice was not inserted"))?;
        let invoiced: i64 = found.try_get("", "invoiced")?;
        if invoiced != ids.len() as i64 {
            return Err(conflict());
        }
        return Ok(invoice::Model::from_query_result(&found, "")?);
    }
    let model = invoice::Entity::insert(row).exec_with_returning(db).await?;
    let result = put_on(Expr::value(model.id)).exec(db).await?;
    if result.rows_affected != ids.len() as u64 {
        return Err(conflict());
    }
    Ok(model)
}

/// Takes `(discount, amount)` off each discount's remainder, each only if the discount is
/// unchanged since it was read (else `CONFLICT`). One statement.
pub(super) async fn take_from_discounts<C: ConnectionTrait>(
    db: &C,
    taken: &[(&Unapplied, i64)],
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<()> {
    take_remainders::<discount::Entity, C>(db, taken, at, "a credit").await
}

/// Takes `(row, amount)` off each row's `amount_remaining` (a discount's or a payment's), each
/// only if the row's `version` is still the one read, bumping it; a row changed meanwhile makes
/// this a `CONFLICT` naming `what`. One statement; none when `taken` is empty.
async fn take_remainders<E: EntityTrait, C: ConnectionTrait>(
    db: &C,
    taken: &[(&Unapplied, i64)],
    at: chrono::DateTime<chrono::Utc>,
    what: &str,
) -> AppResult<()> {
    if taken.is_empty() {
        return Ok(());
    }
    let id = column::<E>("id")?;
    let version = column::<E>("version")?;
    let mut remainder = sea_orm::sea_query::CaseStatement::new();
    let mut unchanged = sea_orm::Condition::any();
    for (row, amount) in taken {
        remainder = remainder.case(id.eq(row.id), Expr::val(row.amount_remaining - amount));
        unchanged = unchanged.add(id.eq(row.id).and(version.eq(row.version)));
    }
    let result = E::update_many()
        .col_expr(column::<E>("amount_remaining")?, remainder.into())
        .col_expr(column::<E>("updated_at")?, Expr::value(at))
        .col_expr(version, Expr::col(version).add(1))
        .filter(unchanged)
        .exec(db)
        .await?;
    if result.rows_affected != taken.len() as u64 {
        return Err(AppError::Conflict(format!(
            "{what} was applied by another request; retry"
        )));
    }
    Ok(())
}

crate::input! {
    pub struct CreateInvoice as "CreateInvoiceMutationInput" {
        debit_ids: values::OneOrMany<Option<Id>> => "[Int64Bit]!", "Uninvoiced debits of one account.";
        date: String => "Date!";
        message: Option<String> => "Text";
        due_date: Option<String> => "Date", "Defaults to 14 days after date.";
    }
}

/// `createInvoice`: an invoice of the given uninvoiced debits of one account.
pub async fn create_invoice(
    db: &DatabaseConnection,
    user_id: i64,
    input: CreateInvoice,
) -> AppResult<invoice::Model> {
    let mut ids: Vec<i64> = input
        .debit_ids
        .0
        .into_iter()
        .flatten()
        .map(|i| i.0)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Err(AppError::validation("debit_ids", "name at least one debit"));
    }
    let date = values::date_input("date", &input.date)?;
    let due_date = input
        .due_date
        .as_deref()
        .map(|d| values::date_input("due_date", d))
        .transpose()?;
    if due_date.is_some_and(|d| d < date) {
        return Err(AppError::validation("due_date", "due_date is before date"));
    }
    let txn = begin_write(db).await?;
    let mut debits = Vec::with_capacity(ids.len());
    for id in &ids {
        let debit = find::<debit::Entity, _>(&txn, *id)
            .await
            .map_err(|_| AppError::validation("debit_ids", format!("debit {id} does not exist")))?;
        if debit.invoice_id.is_some() {
            return Err(AppError::Conflict(format!(
                "debit {id} is already on invoice {}",
                debit.invoice_id.unwrap_or_default()
            )));
        }
        if debit.reversed {
            return Err(AppError::validation(
                "debit_ids",
                format!("debit {id} is reversed"),
            ));
        }
        debits.push(debit);
    }
    let account_id = debits[0].account_id;
    if debits.iter().any(|d| d.account_id != account_id) {
        return Err(AppError::validation(
            "debit_ids",
            "the debits belong to different accounts",
        ));
    }
    let account = account_guard::changeable(&txn, account_id).await?;
    let model = write_invoice(
        &txn,
        &account,
        &debits,
        date,
        due_date,
        input.message,
        Some(user_id),
    )
    .await?;
    // An invoice dated in the past may be delinquent already.
    let mut audit = audit::Batch::default();
    delinquency::settle_reading(&txn, account.id, Some(user_id), &mut audit).await?;
    audit.write(&txn).await?;
    txn.commit().await?;
    Ok(model)
}

/// `voidInvoice`: the invoice asks for nothing any more. Its debits go back to uninvoiced (the
/// account's next invoice takes them), the credits applied to it go back to their discounts
/// (their applications kept, marked `undone`), and it is marked `void` with nothing due
/// (status `VOID`); nothing is deleted. Refused with `VALIDATION_FAILED` naming `id` when it is
/// void already, or when payments are applied to it (reverse or void them first: a payment is
/// never taken back silently); `ACCOUNT_ARCHIVED` for an archived account's invoice.
pub async fn void_invoice(
    db: &DatabaseConnection,
    user_id: i64,
    id: i64,
) -> AppResult<invoice::Model> {
    let txn = begin_write(db).await?;
    let found = find::<invoice::Entity, _>(&txn, id).await?;
    account_guard::changeable(&txn, found.account_id).await?;
    let invoice = find::<invoice::Entity, _>(&txn, id).await?;
    if invoice.void {
        return Err(AppError::validation(
            "id",
            format!("invoice {id} is void already"),
        ));
    }
    let paid_by: Vec<i64> = payment_application::Entity::find()
        .filter(payment_application::Column::InvoiceId.eq(id))
        .filter(payment_application::Column::Undone.eq(false))
        .order_by_asc(payment_application::Column::Id)
        .all(&txn)
        .await?
        .iter()
        .map(|a| a.payment_id)
        .collect();
    if let Some(payment) = paid_by.first() {
        return Err(AppError::validation(
            "id",
            format!(
                "invoice {id} is paid in part by payment {payment}: reverse or void the payment first"
            ),
        ));
    }
    let at = now();
    let mut audit = audit::Batch::default();
    // The credits back to their discounts.
    let credits = application::Entity::find()
        .filter(application::Column::InvoiceId.eq(id))
        .filter(application::Column::Undone.eq(false))
        .order_by_asc(application::Column::Id)
        .all(&txn)
        .await?;
    for credit in &credits {
        let before = find::<discount::Entity, _>(&txn, credit.discount_id).await?;
        let after = discount::Entity::update_many()
            .col_expr(
                discount::Column::AmountRemaining,
                Expr::col(discount::Column::AmountRemaining).add(credit.amount),
            )
            .col_expr(discount::Column::UpdatedAt, Expr::value(at))
            .col_expr(
                discount::Column::Version,
                Expr::col(discount::Column::Version).add(1),
            )
            .filter(discount::Column::Id.eq(before.id))
            .filter(discount::Column::Version.eq(before.version))
            .exec_with_returning(&txn)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                AppError::Conflict("a credit was changed by another request; retry".into())
            })?;
        audit.add(
            audit::LogType::Updated,
            after.id,
            Some(user_id),
            Some(&before),
            Some(&after),
            format!("{} back from voided invoice {id}", credit.amount),
        );
    }
    if !credits.is_empty() {
        application::Entity::update_many()
            .col_expr(application::Column::Undone, Expr::value(true))
            .col_expr(application::Column::UpdatedAt, Expr::value(at))
            .col_expr(
                application::Column::Version,
                Expr::col(application::Column::Version).add(1),
            )
            .filter(application::Column::InvoiceId.eq(id))
            .filter(application::Column::Undone.eq(false))
            .exec(&txn)
            .await?;
    }
    // The debits back to uninvoiced.
    debit::Entity::update_many()
        .col_expr(debit::Column::InvoiceId, Expr::value(Option::<i64>::None))
        .col_expr(debit::Column::UpdatedAt, Expr::value(at))
        .col_expr(
            debit::Column::Version,
            Expr::col(debit::Column::Version).add(1),
        )
        .filter(debit::Column::InvoiceId.eq(id))
        .exec(&txn)
        .await?;
    let voided = invoice::Entity::update_many()
        .col_expr(invoice::Column::Void, Expr::value(true))
        .col_expr(invoice::Column::VoidedAt, Expr::value(at))
        .col_expr(invoice::Column::RemainingDue, Expr::value(0i64))
        .col_expr(invoice::Column::Status, Expr::value("VOID"))
        .col_expr(invoice::Column::UpdatedAt, Expr::value(at))
        .col_expr(
            invoice::Column::Version,
            Expr::col(invoice::Column::Version).add(1),
        )
        .filter(invoice::Column::Id.eq(id))
        .filter(invoice::Column::Version.eq(invoice.version))
        .exec_with_returning(&txn)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| {
            AppError::Conflict("the invoice was changed by another request; retry".into())
        })?;
    audit.add(
        audit::LogType::Updated,
        id,
        Some(user_id),
        Some(&invoice),
        Some(&voided),
        format!(
            "invoice voided: its debits uninvoiced again, {} credit(s) given back",
            credits.len()
        ),
    );
    delinquency::settle_reading(&txn, invoice.account_id, Some(user_id), &mut audit).await?;
    audit.write(&txn).await?;
    txn.commit().await?;
    Ok(voided)
}

crate::input! {
    /// Input of `applyCreditToInvoice`.
    #[derive(Default)]
    pub struct ApplyCreditToInvoice as "ApplyCreditToInvoiceMutationInput" {
        amount: Option<i64> => "Int", "In cents, at most what the invoice owes; all it owes (as far as the credits go) when left out.";
    }
}

/// `applyCreditToInvoice`: the account's unapplied credits pay invoice `id` now, oldest first,
/// up to `amount` (else all the invoice owes, as far as they go), instead of waiting for the
/// account's next invoice. Refused with `VALIDATION_FAILED` naming `id` for a void invoice, one
/// that owes nothing, or an account without credit to apply, and naming `amount` for an amount
/// below 1 or above what the invoice owes.
pub async fn apply_credit(
    db: &DatabaseConnection,
    user_id: i64,
    id: i64,
    input: ApplyCreditToInvoice,
) -> AppResult<invoice::Model> {
    let txn = begin_write(db).await?;
    let found = find::<invoice::Entity, _>(&txn, id).await?;
    account_guard::changeable(&txn, found.account_id).await?;
    let invoice = find::<invoice::Entity, _>(&txn, id).await?;
    if invoice.void {
        return Err(AppError::validation("id", format!("invoice {id} is void")));
    }
    if invoice.remaining_due <= 0 {
        return Err(AppError::validation(
            "id",
            format!("invoice {id} owes nothing"),
        ));
    }
    let wanted = match input.amount {
        None => invoice.remaining_due,
        Some(a) if (1..=invoice.remaining_due).contains(&a) => a,
        Some(_) => {
            return Err(AppError::validation(
                "amount",
                format!(
                    "amount is 1 to {} (what the invoice owes)",
                    invoice.remaining_due
                ),
            ))
        }
    };
    let discounts: Vec<Unapplied> = unapplied_discounts(&txn, invoice.account_id)
        .await?
        .iter()
        .map(Unapplied::from)
        .collect();
    let remaining: Vec<i64> = discounts.iter().map(|d| d.amount_remaining).collect();
    let applied = allocate(wanted, &remaining);
    let taken: Vec<(&Unapplied, i64)> = discounts
        .iter()
        .zip(applied)
        .filter(|(_, a)| *a > 0)
        .collect();
    if taken.is_empty() {
        return Err(AppError::validation(
            "id",
            format!("account {} has no credit to apply", invoice.account_id),
        ));
    }
    let at = now();
    take_from_discounts(&txn, &taken, at).await?;
    // A discount applied to this invoice before has its application grown (one per pair).
    let existing = application::Entity::find()
        .filter(application::Column::InvoiceId.eq(id))
        .filter(application::Column::DiscountId.is_in(taken.iter().map(|(d, _)| d.id)))
        .all(&txn)
        .await?;
    for row in &existing {
        let extra = taken
            .iter()
            .find(|(d, _)| d.id == row.discount_id)
            .map_or(0, |(_, a)| *a);
        application::Entity::update_many()
            .col_expr(
                application::Column::Amount,
                Expr::col(application::Column::Amount).add(extra),
            )
            .col_expr(application::Column::UpdatedAt, Expr::value(at))
            .col_expr(
                application::Column::Version,
                Expr::col(application::Column::Version).add(1),
            )
            .filter(application::Column::Id.eq(row.id))
            .exec(&txn)
            .await?;
    }
    let rows: Vec<application::ActiveModel> = taken
        .iter()
        .filter(|(d, _)| !existing.iter().any(|row| row.discount_id == d.id))
        .map(|(d, amount)| {
            application::ActiveModel {
                invoice_id: Set(id),
                discount_id: Set(d.id),
                amount: Set(*amount),
                undone: Set(false),
                ..Default::default()
            }
            .stamped(at)
        })
        .collect();
    if !rows.is_empty() {
        application::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    let total: i64 = taken.iter().map(|(_, a)| a).sum();
    let after = pay_invoice(&txn, &invoice, total, at).await?;
    audit::updated(
        &txn,
        id,
        user_id,
        &invoice,
        &after,
        format!("{total} of credit applied from {} discount(s)", taken.len()),
    )
    .await?;
    let mut audit = audit::Batch::default();
    delinquency::settle_reading(&txn, invoice.account_id, Some(user_id), &mut audit).await?;
    audit.write(&txn).await?;
    txn.commit().await?;
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::allocate;

    #[test]
    fn discounts_apply_oldest_first_up_to_the_total() {
        assert_eq!(allocate(1000, &[300, 500, 400]), vec![300, 500, 200]);
        assert_eq!(allocate(100, &[300, 500]), vec![100, 0]);
        assert_eq!(allocate(0, &[300]), vec![0]);
        assert_eq!(allocate(1000, &[]), Vec::<i64>::new());
    }
}
