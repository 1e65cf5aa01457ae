//! Services (what can be charged) and account services (a recurring service on an account,
//! with proration when it is added or removed mid-period).

use chrono::{Months, NaiveDate};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};

use crate::domain::{ServiceApplication, ServiceType};
use crate::entity::{account, account_service, company, debit, service};
use crate::error::{AppError, AppResult};
use crate::service::base::store::Stamped;
use crate::service::{
    base::{
        account_events, account_guard, audit,
        clock::now,
        input::{Ignored, UNUSED},
        settings,
        store::{self, begin_write, find, save},
        values::{self, optional_text, required_text, Id},
    },
    billing::{proration, transactions},
};

/// A service to create: [`CreateRecurringService`] or [`CreateOneTimeService`] as given, or
/// built by the seeders.
#[derive(Debug)]
pub struct CreateService {
    pub id: Option<Id>,
    pub enabled: bool,
    pub name: String,
    pub application: String,
    pub amount: i64,
    pub company_id: Option<Id>,
    pub billing_frequency: Option<i32>,
    pub display_if_zero: Option<bool>,
}

crate::input! {
    /// Input of `createRecurringService`.
    pub struct CreateRecurringService as "CreateRecurringServiceMutationInput" {
        id: Option<Id> => "Int64Bit";
        enabled: bool => "Boolean!";
        name: String => "String!";
        application: String => "ServiceApplication!", "DEBIT charges; CREDIT services are one-time only in fathom.";
        amount: i64 => "Int!", "Price in cents.";
        company_id: Option<Id> => "Int64Bit";
        general_ledger_code_id: Ignored => "Int64Bit", UNUSED;
        billing_frequency: i32 => "Int!", "Months between bills, 1 to 120.";
        tax_definition_id: Ignored => "Int64Bit", UNUSED;
        reverse_tax_definition_id: Ignored => "Int64Bit", UNUSED;
        display_if_zero: Option<bool> => "Boolean";
    }
}

impl From<CreateRecurringService> for CreateService {
    fn from(input: CreateRecurringService) -> CreateService {
        CreateService {
            id: input.id,
            enabled: input.enabled,
            name: input.name,
            application: input.application,
            amount: input.amount,
            company_id: input.company_id,
            billing_frequency: Some(input.billing_frequency),
            display_if_zero: input.display_if_zero,
        }
    }
}

crate::input! {
    /// Input of `createOneTimeService`.
    pub struct CreateOneTimeService as "CreateOneTimeServiceMutationInput" {
        id: Option<Id> => "Int64Bit";
        enabled: bool => "Boolean!";
        name: String => "String!";
        application: String => "ServiceApplication!", "DEBIT makes one-time charges, CREDIT one-time credits.";
        amount: i64 => "Int!", "Price in cents.";
        company_id: Option<Id> => "Int64Bit";
        general_ledger_code_id: Ignored => "Int64Bit", UNUSED;
        tax_definition_id: Ignored => "Int64Bit", UNUSED;
        reverse_tax_definition_id: Ignored => "Int64Bit", UNUSED;
        display_if_zero: Option<bool> => "Boolean";
    }
}

impl From<CreateOneTimeService> for CreateService {
    fn from(input: CreateOneTimeService) -> CreateService {
        CreateService {
            id: input.id,
            enabled: input.enabled,
            name: input.name,
            application: input.application,
            amount: input.amount,
            company_id: input.company_id,
            billing_frequency: None,
            display_if_zero: input.display_if_zero,
        }
    }
}

/// Creates a recurring service (`billing_frequency` months between bills, 1 to 120) or, with
/// no frequency, a one-time service. Tax and general-ledger ids are accepted and not kept:
/// fathom has neither feature.
pub async fn create_service(
    db: &DatabaseConnection,
    user_id: i64,
    input: CreateService,
    recurring: bool,
) -> AppResult<service::Model> {
    let name = required_text("name", &input.name)?;
    if input.amount < 0 || input.amount > i32::MAX as i64 {
        return Err(AppError::validation(
            "amount",
            "amount is in cents, 0 or more",
        ));
    }
    let frequency = if recurring {
        match input.billing_frequency {
            Some(f) if (1..=120).contains(&f) => Some(f),
            _ => {
                return Err(AppError::validation(
                    "billing_frequency",
                    "billing_frequency is 1 to 120 months",
                ))
            }
        }
    } else {
        None
    };
    let txn = begin_write(db).await?;
    if let Some(Id(company_id)) = input.company_id {
        find::<company::Entity, _>(&txn, company_id)
            .await
            .map_err(|_| {
                AppError::validation("company_id", format!("company {company_id} does not exist"))
            })?;
    }
    let at = now();
    let mut am = service::ActiveModel {
        name: Set(name),
        r#type: Set(if recurring {
            ServiceType::Recurring
        } else {
            ServiceType::OneTime
        }
        .into()),
        application: Set(input.application),
        amount: Set(input.amount),
        company_id: Set(input.company_id.map(|i| i.0)),
        enabled: Set(input.enabled),
        display_if_zero: Set(input.display_if_zero.unwrap_or(false)),
        billing_frequency: Set(frequency),
        ..Default::default()
    }
    .stamped(at);
    if let Some(Id(id)) = input.id {
        store::free_id::<service::Entity, _>(&txn, id).await?;
        am.id = Set(id);
    }
    let model = am.insert(&txn).await?;
    if input.id.is_some() {
        store::bump_sequence(&txn, "services").await?;
    }
    audit::created(&txn, model.id, user_id, &model).await?;
    txn.commit().await?;
    Ok(model)
}

/// A charge for a service added inside periods already billed: `[from, to]`, prorated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatchUpCharge {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub amount: i64,
}

/// The charges for a service of price `full`, billed every `frequency` months on billing day
/// `day`, that starts on `start` on an account whose next bill date is `next_bill` (after
/// `start`): the rest of the current period, and for a back-dated start each whole period
/// since, newest first. A period ends the day before a billing date and starts `frequency`
/// billing dates earlier; each is prorated from `start` when it began before it. Shared by
/// `addServiceToAccount` and the seeder, so both charge alike.
pub fn catch_up_charges(
    next_bill: NaiveDate,
    start: NaiveDate,
    frequency: i32,
    day: u32,
    full: i64,
    whole_units: bool,
) -> AppResult<Vec<CatchUpCharge>> {
    let mut charges = Vec::new();
    let mut period_end = next_bill;
    // Ten years of monthly periods at most: a start further back is not billed further.
    for _ in 0..120 {
        let period_from = anchored(period_end, -frequency, day)?;
        let period_to = period_end.pred_opt().unwrap_or(period_end);
        let from = Ord::max(start, period_from);
        if from <= period_to {
            let day_before = from.pred_opt().unwrap_or(from);
            charges.push(CatchUpCharge {
                from,
                to: period_to,
                amount: proration::credit(full, period_from, period_to, day_before, whole_units),
            });
        }
        if start >= period_from {
            break;
        }
        period_end = period_from;
    }
    Ok(charges)
}

/// The price of one bill of an account service, in cents.
pub fn price(service: &service::Model, account_service: &account_service::Model) -> i64 {
    account_service.price_override.unwrap_or(service.amount) * account_service.quantity as i64
}

/// The billing date `months` months (possibly negative) after `date`, on day `day` of that
/// month, or its last day when the month is shorter: with day 31, Jan 31 → Feb 28 → Mar 31.
pub fn anchored(date: NaiveDate, months: i32, day: u32) -> AppResult<NaiveDate> {
    use chrono::Datelike;
    let first = NaiveDate::from_ymd_opt(date.year(), date.month(), 1)
        .ok_or_else(|| AppError::internal("bad date"))?;
    let target = if months >= 0 {
        first.checked_add_months(Months::new(months as u32))
    } else {
        first.checked_sub_months(Months::new(months.unsigned_abs()))
    }
    .ok_or_else(|| AppError::validation("date", "date out of range"))?;
    let last_day = target
        .checked_add_months(Months::new(1))
        .and_then(|d| d.pred_opt())
        .map(|d| d.day())
        .unwrap_or(28);
    NaiveDate::from_ymd_opt(target.year(), target.month(), day.clamp(1, last_day))
        .ok_or_else(|| AppError::internal("bad anchored date"))
}

/// The day of the month an account's billing cycles fall on.
pub fn billing_day(account: &account::Model, next_bill_date: NaiveDate) -> u32 {
    use chrono::Datelike;
    account
        .billing_day
        .map(|d| d as u32)
        .unwrap_or(next_bill_date.day())
}

/// Recomputes `Account.next_recurring_charge_amount`: what the next billing pass will charge
/// for the recurring services due at the account's next bill date (0 for an account that is
/// not billed: inactive, or without a next bill date). A derived value: no `_version` bump.
pub async fn refresh_next_charge<C: ConnectionTrait>(db: &C, account_id: i64) -> AppResult<()> {
    let account = find::<account::Entity, _>(db, account_id).await?;
    let total: i64 = match account.next_bill_date {
        Some(next) if account_guard::is_active(db, &account).await? => {
            active_account_services(db, account_id)
                .await?
                .iter()
                .filter(|(a, _)| a.next_bill_date.is_none_or(|d| d <= next))
                .map(|(a, s)| price(s, a))
                .sum()
        }
        _ => 0,
    };
    account::Entity::update_many()
        .col_expr(
            account::Column::NextRecurringChargeAmount,
            Expr::value(Some(total)),
        )
        .filter(account::Column::Id.eq(account_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The account's recurring services in place (not removed), with their services.
pub async fn active_account_services<C: ConnectionTrait>(
    db: &C,
    account_id: i64,
) -> AppResult<Vec<(account_service::Model, service::Model)>> {
    let rows = account_service::Entity::find()
        .filter(account_service::Column::AccountId.eq(account_id))
        .filter(account_service::Column::RemovedAt.is_null())
        .order_by_asc(account_service::Column::Id)
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let service = find::<service::Entity, _>(db, row.service_id).await?;
        out.push((row, service));
    }
    Ok(out)
}

crate::input! {
    pub struct AddServiceToAccount as "AddServiceToAccountMutationInput" {
        account_id: Id => "Int64Bit!";
        service_id: Id => "Int64Bit!", "A recurring service.";
        quantity: i32 => "Int!";
        price_override: Option<i64> => "Int", "Price in cents instead of the service's.";
        price_override_reason: Option<String> => "String";
        name_override: Option<String> => "String";
        next_bill_date: Option<String> => "Date", "First date to bill this service (no proration then).";
        prorate: Option<bool> => "Boolean", "Charge the rest of an already billed period now; null inherits billing settings' prorate_services.";
        proration_date: Option<String> => "Date", "The first charged day (default today, in the instance time zone).";
    }
}

/// Adds a recurring service to an account. When the account's current period is already
/// billed (its `next_bill_date` is after the start date) and proration applies (`prorate`,
/// else billing settings' `prorate_services`), an uninvoiced debit charges the rest of the
/// period, `[start, next_bill_date - 1]`; the start is `proration_date`, else today (local).
/// Otherwise the next billing pass bills it.
pub async fn add_service_to_account(
    db: &DatabaseConnection,
    user_id: i64,
    input: AddServiceToAccount,
) -> AppResult<account_service::Model> {
    let txn = begin_write(db).await?;
    let result = add_service_to_account_in(&txn, user_id, input, now()).await?;
    txn.commit().await?;
    Ok(result)
}

/// [`add_service_to_account`] inside the caller's transaction, effective at `at`.
pub async fn add_service_to_account_in<C: ConnectionTrait>(
    txn: &C,
    user_id: i64,
    input: AddServiceToAccount,
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<account_service::Model> {
    let (account, service) = transactions::charge_target(
        txn,
        input.account_id.0,
        input.service_id.0,
        input.quantity,
        input.price_override,
    )
    .await?;
    let Some(frequency) = service
        .billing_frequency
        .filter(|_| service.r#type == ServiceType::Recurring)
    else {
        return Err(AppError::validation(
            "service_id",
            "only recurring services are added to accounts; use createAccountOneTimeTransaction for one-time services",
        ));
    };
    if service.application != ServiceApplication::Debit {
        return Err(AppError::validation(
            "service_id",
            "recurring credit services are not supported",
        ));
    }
    if !service.enabled {
        return Err(AppError::validation(
            "service_id",
            format!("service {} is disabled", service.id),
        ));
    }
    let today = settings::local_date(txn, at).await?;
    let start = input
        .proration_date
        .as_deref()
        .map(|d| values::date_input("proration_date", d))
        .transpose()?
        .unwrap_or(today);
    let explicit_next = input
        .next_bill_date
        .as_deref()
        .map(|d| values::date_input("next_bill_date", d))
        .transpose()?;
    let billing = settings::billing_setting(txn).await?;
    let prorate = input.prorate.unwrap_or(billing.prorate_services);

    let mut am = account_service::ActiveModel {
        account_id: Set(account.id),
        service_id: Set(service.id),
        quantity: Set(input.quantity),
        price_override: Set(input.price_override),
        price_override_reason: Set(optional_text(
            "price_override_reason",
            input.price_override_reason.as_deref(),
        )?),
        name_override: Set(optional_text(
            "name_override",
            input.name_override.as_deref(),
        )?),
        next_bill_date: Set(explicit_next.or(account.next_bill_date)),
        addition_prorate_date: Set(None),
        number_of_times_billed: Set(0),
        ..Default::default()
    }
    .stamped(at);
    let model = am.clone().insert(txn).await?;

    // When proration applies and the start is before the account's next bill date, the
    // periods already billed are charged now, from the start: normally the rest of the current
    // period; for a start before the last bill date (a back-dated addition, or a scheduled one
    // run late), each period since, so that no day goes unbilled. A period ends the day before
    // a billing date and starts `frequency` billing dates earlier. Otherwise (an inactive
    // account, an explicit next bill date) the next billing pass bills it.
    let billed_now = account_guard::is_active(txn, &account).await? && explicit_next.is_none();
    if let Some(next_bill) = account
        .next_bill_date
        .filter(|n| *n > start && billed_now && prorate)
    {
        let charges = catch_up_charges(
            next_bill,
            start,
            frequency,
            billing_day(&account, next_bill),
            price(&service, &model),
            billing.round_prorated_amounts,
        )?;
        for charge in &charges {
            transactions::insert_debit(
                txn,
                &account,
                &service,
                Some(&model),
                charge.amount,
                charge.from,
                charge.to,
                Some(user_id),
                frequency,
            )
            .await?;
        }
        if let Some(first) = charges.last().map(|c| c.from) {
            am = model.clone().into();
            am.addition_prorate_date = Set(Some(first));
            am.update(txn).await?;
        }
    }
    refresh_next_charge(txn, account.id).await?;
    let model = find::<account_service::Entity, _>(txn, model.id).await?;
    account_events::record_event(
        txn,
        account.id,
        "SERVICES_ADDED",
        None,
        Some(service.id.to_string()),
        at,
    )
    .await?;
    audit::created(txn, model.id, user_id, &model).await?;
    Ok(model)
}

crate::input! {
    #[derive(Default)]
    pub struct DeleteAccountService as "DeleteAccountServiceMutationInput" {
        prorate: Option<bool> => "Boolean", "Credit the unused part of the service's last debit; null inherits prorate_services.";
        proration_date: Option<String> => "Date", "The last charged day (default today, in the instance time zone).";
    }
}

/// Removes a service from an account (kept as history, hidden from listings). With proration
/// (`prorate`, else `prorate_services`) the unused part of its debits after the proration date
/// (default today; the last charged day) is credited.
pub async fn delete_account_service(
    db: &DatabaseConnection,
    user_id: i64,
    id: i64,
    input: DeleteAccountService,
) -> AppResult<()> {
    let txn = begin_write(db).await?;
    delete_account_service_in(&txn, user_id, id, input, now()).await?;
    txn.commit().await?;
    Ok(())
}

/// [`delete_account_service`] inside the caller's transaction, effective at `at`.
pub async fn delete_account_service_in<C: ConnectionTrait>(
    txn: &C,
    user_id: i64,
    id: i64,
    input: DeleteAccountService,
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<()> {
    let old = find::<account_service::Entity, _>(txn, id).await?;
    if old.removed_at.is_some() {
        return Err(AppError::not_found("AccountService", id));
    }
    account_guard::changeable(txn, old.account_id).await?;
    let billing = settings::billing_setting(txn).await?;
    let prorate = input.prorate.unwrap_or(billing.prorate_services);
    let d = match input.proration_date.as_deref() {
        Some(d) => values::date_input("proration_date", d)?,
        None => settings::local_date(txn, at).await?,
    };
    if prorate {
        // Every debit of the service billed past the last charged day: usually the last one;
        // more when the date is in an earlier period (a back-dated or late removal).
        let billed_past = debit::Entity::find()
            .filter(debit::Column::AccountServiceId.eq(id))
            .filter(debit::Column::ProratedTo.gt(d))
            .order_by_asc(debit::Column::Id)
            .all(txn)
            .await?;
        let credits =
            transactions::plan_credits(txn, billed_past, d, billing.round_prorated_amounts).await?;
        for credit in credits {
            transactions::insert_proration_credit(
                txn,
                &credit.debit,
                credit.amount,
                credit.from,
                Some(user_id),
            )
            .await?;
        }
    }
    let mut am: account_service::ActiveModel = old.clone().into();
    am.removed_at = Set(Some(at));
    let new = save(txn, id, old.version, am).await?;
    refresh_next_charge(txn, old.account_id).await?;
    account_events::record_event(
        txn,
        old.account_id,
        "SERVICES_REMOVED",
        Some(old.service_id.to_string()),
        None,
        at,
    )
    .await?;
    audit::record(
        txn,
        audit::LogType::Deleted,
        id,
        Some(user_id),
        Some(&old),
        Some(&new),
        "service removed from account",
    )
    .await?;
    Ok(())
}
