//! Debits and credits on an account: recurring debits (written by the billing pass and by
//! mid-period additions), proration credits (planned with the one proration function and
//! written by service removals and disconnections), and one-time transactions.

use chrono::NaiveDate;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect, Set,
};

use crate::domain::{ServiceApplication, ServiceType};
use crate::entity::{account, account_service, debit, discount, service};
use crate::error::{AppError, AppResult};
use crate::service::base::store::Stamped;
use crate::service::{
    base::{
        account_guard, audit,
        clock::now,
        store::{begin_write, find},
        values::{optional_text, Id},
    },
    billing::proration,
};

/// Inserts an uninvoiced recurring debit for `[from, to]`.
#[allow(clippy::too_many_arguments)]
pub async fn insert_debit<C: ConnectionTrait>(
    db: &C,
    account: &account::Model,
    service: &service::Model,
    account_service: Option<&account_service::Model>,
    amount: i64,
    from: NaiveDate,
    to: NaiveDate,
    user_id: Option<i64>,
    months: i32,
) -> AppResult<debit::Model> {
    let model = debit_row(
        account,
        service,
        account_service,
        amount,
        from,
        to,
        user_id,
        months,
    )
    .insert(db)
    .await?;
    audit::report_created(db, &model).await?;
    Ok(model)
}

/// The row of an uninvoiced recurring debit of `amount` for `[from, to]`, named after the
/// account service's name override or else the service.
#[allow(clippy::too_many_arguments)]
pub fn debit_row(
    account: &account::Model,
    service: &service::Model,
    account_service: Option<&account_service::Model>,
    amount: i64,
    from: NaiveDate,
    to: NaiveDate,
    user_id: Option<i64>,
    months: i32,
) -> debit::ActiveModel {
    let at = now();
    let name = account_service
        .and_then(|a| a.name_override.clone())
        .unwrap_or_else(|| service.name.clone());
    debit::ActiveModel {
        account_id: Set(account.id),
        company_id: Set(account.company_id),
        service_id: Set(service.id),
        account_service_id: Set(account_service.map(|a| a.id)),
        invoice_id: Set(None),
        amount: Set(amount),
        quantity: Set(account_service.map(|a| a.quantity).unwrap_or(1)),
        description: Set(Some(format!("{name} {from} to {to}"))),
        service_name: Set(name),
        r#type: Set(service.r#type.clone()),
        number_of_months: Set(months),
        prorated_from: Set(Some(from)),
        prorated_to: Set(Some(to)),
        reversed: Set(false),
        user_id: Set(user_id),
        ..Default::default()
    }
    .stamped(at)
}

/// A credit (discount) of `amount` cents for the unused part of `debit`, from `from`.
pub async fn insert_proration_credit<C: ConnectionTrait>(
    db: &C,
    debit: &debit::Model,
    amount: i64,
    from: NaiveDate,
    user_id: Option<i64>,
) -> AppResult<discount::Model> {
    let model = proration_credit_row(debit, amount, amount, from, user_id)
        .insert(db)
        .await?;
    audit::report_created(db, &model).await?;
    Ok(model)
}

/// A planned proration credit: the debit, the amount, and the credited range.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedCredit {
    pub debit: debit::Model,
    pub amount: i64,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The credits for the unused part of each of `debits` after `d`: recurring debits with a
/// period, not yet credited, whose credit is not zero. One statement finds the credited ones.
pub async fn plan_credits<C: ConnectionTrait>(
    db: &C,
    debits: Vec<debit::Model>,
    d: NaiveDate,
    whole_units: bool,
) -> AppResult<Vec<PlannedCredit>> {
    if debits.is_empty() {
        return Ok(Vec::new());
    }
    let credited: Vec<Option<i64>> = discount::Entity::find()
        .select_only()
        .column(discount::Column::DebitId)
        .filter(discount::Column::DebitId.is_in(debits.iter().map(|d| d.id)))
        .into_tuple()
        .all(db)
        .await?;
    Ok(debits
        .into_iter()
        .filter(|debit| !credited.contains(&Some(debit.id)))
        .filter_map(|debit| credit_for(debit, d, whole_units))
        .collect())
}

/// The credit for the unused part of `debit` after `d`, if it has one: a recurring debit
/// with a period, not reversed, whose credit is not zero. (Whether it was already credited is
/// the caller's to know.)
pub fn credit_for(debit: debit::Model, d: NaiveDate, whole_units: bool) -> Option<PlannedCredit> {
    let (Some(from), Some(to)) = (debit.prorated_from, debit.prorated_to) else {
        return None;
    };
    if debit.reversed || debit.r#type != ServiceType::Recurring {
        return None;
    }
    let amount = proration::credit(debit.amount, from, to, d, whole_units);
    (amount != 0).then(|| PlannedCredit {
        amount,
        from: d.succ_opt().unwrap_or(d).max(from),
        to,
        debit,
    })
}

/// The row of a proration credit of `amount` for `debit` from `from`, with `remaining` of it
/// left to apply.
pub fn proration_credit_row(
    debit: &debit::Model,
    amount: i64,
    remaining: i64,
    from: NaiveDate,
    user_id: Option<i64>,
) -> discount::ActiveModel {
    let at = now();
    discount::ActiveModel {
        account_id: Set(debit.account_id),
        company_id: Set(debit.company_id),
        service_id: Set(Some(debit.service_id)),
        debit_id: Set(Some(debit.id)),
        amount: Set(amount),
        amount_remaining: Set(remaining),
        description: Set(Some(format!("Proration credit for {}", debit.service_name))),
        service_name: Set(debit.service_name.clone()),
        r#type: Set(debit.r#type.clone()),
        prorated_from: Set(Some(from)),
        prorated_to: Set(debit.prorated_to),
        quantity: Set(debit.quantity),
        reversed: Set(false),
        tax_committed: Set(false),
        user_id: Set(user_id),
        ..Default::default()
    }
    .stamped(at)
}

crate::input! {
    pub struct OneTimeTransaction as "CreateAccountOneTimeTransactionMutationInput" {
        service_id: Id => "Int64Bit!", "A one-time service: a DEBIT one makes a debit, a CREDIT one a discount.";
        account_id: Id => "Int64Bit!";
        description: Option<String> => "String";
        quantity: i32 => "Int!";
        price_override: Option<i64> => "Int", "Price in cents instead of the service's.";
    }
}

/// Checks what a charge refers to: a quantity of 1 or more, a price override of 0 or more
/// cents, an account that may change, and a service; refused fields are named.
pub(super) async fn charge_target<C: ConnectionTrait>(
    txn: &C,
    account_id: i64,
    service_id: i64,
    quantity: i32,
    price_override: Option<i64>,
) -> AppResult<(account::Model, service::Model)> {
    if quantity < 1 {
        return Err(AppError::validation(
            "quantity",
            "quantity must be 1 or more",
        ));
    }
    if price_override.is_some_and(|p| !(0..=i32::MAX as i64).contains(&p)) {
        return Err(AppError::validation(
            "price_override",
            "price_override is in cents, 0 or more",
        ));
    }
    let account = account_guard::changeable(txn, account_id)
        .await
        .map_err(|e| match e {
            AppError::NotFound(m) => AppError::validation("account_id", m),
            other => other,
        })?;
    let service = find::<service::Entity, _>(txn, service_id)
        .await
        .map_err(|_| {
            AppError::validation("service_id", format!("service {service_id} does not exist"))
        })?;
    Ok((account, service))
}

/// A one-time transaction: an uninvoiced debit for a one-time debit service, or a credit
/// (discount) for a one-time credit service.
pub enum Transaction {
    Debit(debit::Model),
    Discount(discount::Model),
}

pub async fn one_time_transaction(
    db: &DatabaseConnection,
    user_id: i64,
    input: OneTimeTransaction,
) -> AppResult<Transaction> {
    let txn = begin_write(db).await?;
    let result = one_time_transaction_in(&txn, user_id, input).await?;
    txn.commit().await?;
    Ok(result)
}

/// [`one_time_transaction`] inside the caller's transaction.
pub async fn one_time_transaction_in<C: ConnectionTrait>(
    txn: &C,
    user_id: i64,
    input: OneTimeTransaction,
) -> AppResult<Transaction> {
    let (account, service) = charge_target(
        txn,
        input.account_id.0,
        input.service_id.0,
        input.quantity,
        input.price_override,
    )
    .await?;
    if service.r#type != ServiceType::OneTime {
        return Err(AppError::validation(
            "service_id",
            "a one-time transaction needs a one-time service",
        ));
    }
    let amount = input.price_override.unwrap_or(service.amount) * input.quantity as i64;
    let description = optional_text("description", input.description.as_deref())?
        .or_else(|| Some(service.name.clone()));
    let at = now();
    let result = if service.application == ServiceApplication::Credit {
        let model = discount::ActiveModel {
            account_id: Set(account.id),
            company_id: Set(account.company_id),
            service_id: Set(Some(service.id)),
            debit_id: Set(None),
            amount: Set(amount),
            amount_remaining: Set(amount),
            description: Set(description),
            service_name: Set(service.name.clone()),
            r#type: Set(ServiceType::OneTime.into()),
            quantity: Set(input.quantity),
            reversed: Set(false),
            tax_committed: Set(false),
            user_id: Set(Some(user_id)),
            ..Default::default()
        }
        .stamped(at)
        .insert(txn)
        .await?;
        audit::created(txn, model.id, user_id, &model).await?;
        Transaction::Discount(model)
    } else {
        let model = debit::ActiveModel {
            account_id: Set(account.id),
            company_id: Set(account.company_id),
            service_id: Set(service.id),
            amount: Set(amount),
            quantity: Set(input.quantity),
            description: Set(description),
            service_name: Set(service.name.clone()),
            r#type: Set(ServiceType::OneTime.into()),
            number_of_months: Set(0),
            reversed: Set(false),
            user_id: Set(Some(user_id)),
            ..Default::default()
        }
        .stamped(at)
        .insert(txn)
        .await?;
        audit::created(txn, model.id, user_id, &model).await?;
        Transaction::Debit(model)
    };
    Ok(result)
}

crate::input! {
    /// Input of `reverseDebit`.
    pub struct ReverseTransaction as "ReverseTransactionMutationInput" {
        message: String => "String!", "Why: kept in the audit log.";
    }
}

/// `reverseDebit`: an uninvoiced one-time debit charged by mistake is taken back — marked
/// `reversed` (with when and by whom), it is invoiced never; nothing is deleted. Refused with
/// `VALIDATION_FAILED` naming `id` when that would lose or hide money: a debit reversed already,
/// one on an invoice (void the invoice first), one a proration credit gives part of back, or a
/// recurring debit (the charge for days the account was active: remove the service with
/// proration instead). `ACCOUNT_ARCHIVED` for an archived account's debit.
pub async fn reverse_debit(
    db: &DatabaseConnection,
    user_id: i64,
    id: i64,
    input: ReverseTransaction,
) -> AppResult<debit::Model> {
    let message = crate::service::base::values::required_text("message", &input.message)?;
    let txn = begin_write(db).await?;
    let found = find::<debit::Entity, _>(&txn, id).await?;
    account_guard::changeable(&txn, found.account_id).await?;
    let debit = find::<debit::Entity, _>(&txn, id).await?;
    let refuse = |why: String| Err(AppError::validation("id", why));
    if debit.reversed {
        return refuse(format!("debit {id} is reversed already"));
    }
    if let Some(invoice) = debit.invoice_id {
        return refuse(format!(
            "debit {id} is on invoice {invoice}: void the invoice first"
        ));
    }
    if debit.account_service_id.is_some() || debit.r#type == ServiceType::Recurring {
        return refuse(format!(
            "debit {id} is a recurring charge for days the account was active: remove the service with proration instead"
        ));
    }
    if let Some(credit) = discount::Entity::find()
        .filter(discount::Column::DebitId.eq(id))
        .one(&txn)
        .await?
    {
        return refuse(format!("debit {id} is credited by discount {}", credit.id));
    }
    let at = now();
    let mut am: debit::ActiveModel = debit.clone().into();
    am.reversed = Set(true);
    am.reversed_at = Set(Some(at));
    am.reversed_by_user_id = Set(Some(user_id));
    let reversed =
        crate::service::base::store::save::<debit::Entity, _, _>(&txn, id, debit.version, am)
            .await?;
    audit::updated(
        &txn,
        id,
        user_id,
        &debit,
        &reversed,
        format!("debit reversed: {message}"),
    )
    .await?;
    txn.commit().await?;
    Ok(reversed)
}
