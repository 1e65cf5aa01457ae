//! Accounts: creation, updates and status changes (with their account events), archiving,
//! activation dates, and parent/child links.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set,
};

use crate::entity::{
    account, account_event, account_service, account_status, account_type, company,
};
use crate::error::{AppError, AppResult};
use crate::service::base::store::Stamped;
use crate::service::{
    base::{
        account_events, account_guard, audit,
        clock::now,
        compose, settings,
        store::{self, begin_write, find, save},
        values::{self, required_text, Id},
    },
    billing::reactivation,
    lifecycle::{
        addresses::{self, MailingAddress},
        contacts,
        phone_numbers::{self, CreatePhoneNumber},
    },
};

crate::input! {
    pub struct PrimaryContact as "CreatePrimaryContactMutationInput" {
        name: String => "String!";
        role: Option<String> => "String";
        email_address: Option<String> => "EmailAddress";
        marketing_opt_in: Option<bool> => "Boolean";
        phone_numbers: Option<Vec<CreatePhoneNumber>> => "[CreatePhoneNumberMutationInput]", "The contact's phone numbers.";
    }
}

crate::input! {
    pub struct CreateAccount as "CreateAccountMutationInput" {
        id: Option<Id> => "Int64Bit", "Keep an account number from a previous system; assigned automatically when left out.";
        name: String => "String!";
        account_status_id: Id => "Int64Bit!";
        account_type_id: Id => "Int64Bit!";
        serviceable_address_id: Option<Id> => "Int64Bit", "A free serviceable address to assign to the account.";
        mailing_address: Option<MailingAddress> => "CreateAddressMutationInput";
        primary_contact: PrimaryContact => "CreatePrimaryContactMutationInput!";
        company_id: Id => "Int64Bit!";
    }
}

crate::input! {
    #[derive(Default)]
    pub struct UpdateAccount as "UpdateAccountMutationInput" {
        name: Option<String> => "String";
        account_status_id: Option<Id> => "Int64Bit", "Changing the status records a STATUS_UPDATED account event (and ACTIVATED when the new status activates).";
        account_type_id: Option<Id> => "Int64Bit";
        serviceable_address_id: Option<Id> => "Int64Bit", "Assign a free serviceable address (ends the previous assignment).";
        company_id: Option<Id> => "Int64Bit";
        prorate: Option<bool> => "Boolean", "Accepted for compatibility; status changes through updateAccount do not prorate (use disconnectAccount).";
        unset_serviceable_address_id: Option<bool> => "Boolean", "Release the account's serviceable address.";
    }
}

crate::input! {
    pub struct UpdateActivationDate as "UpdateAccountActivationDateMutationInput" {
        activation_date: String => "Date!";
        activation_time: Option<String> => "Time";
    }
}

async fn status<C: ConnectionTrait>(
    db: &C,
    field: &str,
    id: i64,
) -> AppResult<account_status::Model> {
    find::<account_status::Entity, _>(db, id)
        .await
        .map_err(|_| AppError::validation(field, format!("account status {id} does not exist")))
}

async fn check_type<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<()> {
    find::<account_type::Entity, _>(db, id)
        .await
        .map(|_| ())
        .map_err(|_| {
            AppError::validation(
                "account_type_id",
                format!("account type {id} does not exist"),
            )
        })
}

async fn check_company<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<company::Model> {
    find::<company::Entity, _>(db, id)
        .await
        .map_err(|_| AppError::validation("company_id", format!("company {id} does not exist")))
}

/// What entering `new_status` at `at` from a status that did not activate (or from none, at
/// creation) changes on an account: an `ACTIVATED` account event; on the first activation,
/// `activation_date`/`activation_time`; and billing from the activation's local date
/// ([`reactivation`]: a new account, or one away longer than what was billed, starts a cycle
/// that day, so the first billing pass bills its first period in advance; one that comes back
/// within a billed period resumes its cycle and is charged the days its credits gave back),
/// with `next_bill_date`, the billing day and `next_recurring_charge_amount` set to match.
/// Moving between two activating statuses is not an activation.
///
/// [`reactivation`]: crate::service::billing::reactivation
pub async fn entering_status<C: ConnectionTrait>(
    db: &C,
    account: &account::Model,
    was_active: bool,
    new_status: &account_status::Model,
    at: DateTime<Utc>,
    am: &mut account::ActiveModel,
) -> AppResult<()> {
    am.account_status_id = Set(new_status.id);
    if !new_status.activates_account || was_active {
        return Ok(());
    }
    let event = account_events::record_event(
        db,
        account.id,
        "ACTIVATED",
        None,
        Some(new_status.id.to_string()),
        at,
    )
    .await?;
    let local = at.with_timezone(&settings::time_zone(db).await?);
    if account.activation_date.is_none() {
        am.activation_date = Set(Some(local.date_naive()));
        am.activation_time = Set(Some(local.format("%H:%M:%S").to_string()));
    }
    let whole_units = settings::billing_setting(db).await?.round_prorated_amounts;
    let billing =
        reactivation::reactivate(db, account, local.date_naive(), event.id, whole_units).await?;
    am.next_bill_date = Set(Some(billing.next_bill_date));
    am.billing_day = Set(Some(billing.billing_day));
    if billing.next_recurring_charge_amount != 0 || account.next_recurring_charge_amount.is_some() {
        am.next_recurring_charge_amount = Set(Some(billing.next_recurring_charge_amount));
    }
    Ok(())
}

/// Changes an account's status: `STATUS_UPDATED` with previous and current status ids, plus
/// whatever entering the new status means ([`entering_status`]).
pub async fn change_status<C: ConnectionTrait>(
    db: &C,
    account: &account::Model,
    new_status: &account_status::Model,
    at: DateTime<Utc>,
    am: &mut account::ActiveModel,
) -> AppResult<()> {
    if new_status.id == account.account_status_id {
        return Ok(());
    }
    account_events::record_event(
        db,
        account.id,
        "STATUS_UPDATED",
        Some(account.account_status_id.to_string()),
        Some(new_status.id.to_string()),
        at,
    )
    .await?;
    let was_active = account_guard::is_active(db, account).await?;
    if was_active && !new_status.activates_account {
        stop_billing(db, account.id, am).await?;
    }
    entering_status(db, account, was_active, new_status, at, am).await
}

/// A disconnection's status change: the active `account` moves to the status `target`, which
/// does not activate. Like [`change_status`] (`STATUS_UPDATED`; billing stops: no next bill
/// date on the account or its services), and the account's next recurring charge becomes 0,
/// all with the account's `_version` bumped by a compare-and-set on `account.version` (a lost
/// race is a `CONFLICT`). One statement on PostgreSQL, three on SQLite. Returns the account as
/// changed.
pub async fn deactivate<C: ConnectionTrait>(
    db: &C,
    account: &account::Model,
    target: &account_status::Model,
    at: DateTime<Utc>,
) -> AppResult<account::Model> {
    use sea_orm::sea_query::Expr;
    use sea_orm::QueryTrait;
    debug_assert!(!target.activates_account);
    let event = account_event::Entity::insert(
        account_event::ActiveModel {
            account_id: Set(account.id),
            event: Set("STATUS_UPDATED".to_owned()),
            event_datetime: Set(at),
            previous: Set(Some(account.account_status_id.to_string())),
            current: Set(Some(target.id.to_string())),
            ..Default::default()
        }
        .stamped(at),
    );
    let stop = account_service::Entity::update_many()
        .col_expr(
            account_service::Column::NextBillDate,
            Expr::value(Option::<chrono::NaiveDate>::None),
        )
        .filter(account_service::Column::AccountId.eq(account.id))
        .filter(account_service::Column::RemovedAt.is_null());
    let change = account::Entity::update_many()
        .col_expr(account::Column::AccountStatusId, Expr::value(target.id))
        .col_expr(
            account::Column::NextBillDate,
            Expr::value(Option::<chrono::NaiveDate>::None),
        )
        .col_expr(
            account::Column::NextRecurringChargeAmount,
            Expr::value(Some(0i64)),
        )
        .col_expr(account::Column::Version, Expr::value(account.version + 1))
        .col_expr(account::Column::UpdatedAt, Expr::value(now()))
        .filter(account::Column::Id.eq(account.id))
        .filter(account::Column::Version.eq(account.version));
    let backend = db.get_database_backend();
    let changed = if backend == sea_orm::DbBackend::Postgres {
        let statement = compose::postgres(
            "WITH e AS ({0}), s AS ({1}) {2} RETURNING *",
            vec![
                event.build(backend),
                stop.build(backend),
                change.build(backend),
            ],
        );
        match db.query_one_raw(statement).await? {
            Some(row) => {
                Some(<account::Model as sea_orm::FromQueryResult>::from_query_result(&row, "")?)
            }
            None => None,
        }
    } else {
        let changed = change.exec_with_returning(db).await?.into_iter().next();
        if changed.is_some() {
            event.exec_without_returning(db).await?;
            stop.exec(db).await?;
        }
        changed
    };
    changed.ok_or_else(|| {
        AppError::Conflict(format!(
            "account {} is being changed by another request",
            account.id
        ))
    })
}

/// Leaving the active statuses (a disconnection, or any status change) stops billing: the
/// account and its services lose their next bill dates, and a later activation starts a new
/// cycle from its own date, so the time in between is never billed.
async fn stop_billing<C: ConnectionTrait>(
    db: &C,
    account_id: i64,
    am: &mut account::ActiveModel,
) -> AppResult<()> {
    use sea_orm::sea_query::Expr;
    am.next_bill_date = Set(None);
    account_service::Entity::update_many()
        .col_expr(
            account_service::Column::NextBillDate,
            Expr::value(Option::<chrono::NaiveDate>::None),
        )
        .filter(account_service::Column::AccountId.eq(account_id))
        .filter(account_service::Column::RemovedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

pub async fn create(
    db: &DatabaseConnection,
    user_id: i64,
    input: CreateAccount,
) -> AppResult<account::Model> {
    let txn = begin_write(db).await?;
    let name = required_text("name", &input.name)?;
    let status = status(&txn, "account_status_id", input.account_status_id.0).await?;
    check_type(&txn, input.account_type_id.0).await?;
    let company = check_company(&txn, input.company_id.0).await?;
    let at = now();
    let mut am = account::ActiveModel {
        name: Set(name),
        account_status_id: Set(status.id),
        account_type_id: Set(input.account_type_id.0),
        company_id: Set(input.company_id.0),
        parent_account_id: Set(None),
        is_delinquent: Set(false),
        ..Default::default()
    }
    .stamped(at);
    if let Some(Id(id)) = input.id {
        store::free_id::<account::Entity, _>(&txn, id).await?;
        am.id = Set(id);
    }
    let inserted = am.insert(&txn).await?;
    if input.id.is_some() {
        store::bump_sequence(&txn, "accounts").await?;
    }
    let mut am: account::ActiveModel = inserted.clone().into();
    entering_status(&txn, &inserted, false, &status, at, &mut am).await?;
    let model = am.update(&txn).await?;

    let phone_numbers = input.primary_contact.phone_numbers.unwrap_or_default();
    let contact = contacts::insert(
        &txn,
        model.id,
        contacts::NewContact {
            name: input.primary_contact.name,
            role: input.primary_contact.role,
            email_address: input.primary_contact.email_address,
            marketing_opt_in: input.primary_contact.marketing_opt_in,
            primary: true,
            language: None,
            username: None,
        },
        "primary_contact",
    )
    .await?;
    phone_numbers::insert_all(
        &txn,
        user_id,
        contact.id,
        phone_numbers,
        &company.country,
        "primary_contact.phone_numbers",
    )
    .await?;
    if let Some(mailing) = input.mailing_address {
        addresses::create_mailing(&txn, model.id, mailing).await?;
    }
    if let Some(Id(address_id)) = input.serviceable_address_id {
        let today = settings::local_date(&txn, at).await?;
        addresses::assign(&txn, model.id, address_id, today).await?;
    }
    audit::created(&txn, model.id, user_id, &model).await?;
    txn.commit().await?;
    Ok(model)
}

pub async fn update(
    db: &DatabaseConnection,
    user_id: i64,
    id: i64,
    input: UpdateAccount,
) -> AppResult<account::Model> {
    let txn = begin_write(db).await?;
    let result = update_in(&txn, user_id, id, input, now()).await?;
    txn.commit().await?;
    Ok(result)
}

/// [`update`] inside the caller's transaction, effective at `at`.
pub async fn update_in<C: ConnectionTrait>(
    txn: &C,
    user_id: i64,
    id: i64,
    input: UpdateAccount,
    at: chrono::DateTime<chrono::Utc>,
) -> AppResult<account::Model> {
    let old = account_guard::changeable(txn, id).await?;
    let mut am: account::ActiveModel = old.clone().into();
    if let Some(name) = &input.name {
        am.name = Set(required_text("name", name)?);
    }
    if let Some(Id(type_id)) = input.account_type_id {
        check_type(txn, type_id).await?;
        am.account_type_id = Set(type_id);
    }
    if let Some(Id(company_id)) = input.company_id {
        check_company(txn, company_id).await?;
        am.company_id = Set(company_id);
    }
    if let Some(Id(status_id)) = input.account_status_id {
        let new_status = status(txn, "account_status_id", status_id).await?;
        change_status(txn, &old, &new_status, at, &mut am).await?;
    }
    if input.unset_serviceable_address_id == Some(true) && input.serviceable_address_id.is_some() {
        return Err(AppError::validation(
            "unset_serviceable_address_id",
            "give serviceable_address_id or unset_serviceable_address_id, not both",
        ));
    }
    let today = settings::local_date(txn, at).await?;
    if input.unset_serviceable_address_id == Some(true) {
        addresses::release_assigned(txn, id, today).await?;
    } else if let Some(Id(address_id)) = input.serviceable_address_id {
        addresses::assign(txn, id, address_id, today).await?;
    }
    let new = save(txn, id, old.version, am).await?;
    audit::updated(txn, id, user_id, &old, &new, "account updated").await?;
    Ok(new)
}

pub async fn update_activation_date(
    db: &DatabaseConnection,
    user_id: i64,
    id: i64,
    input: UpdateActivationDate,
) -> AppResult<account::Model> {
    let date = values::date_input("activation_date", &input.activation_date)?;
    let time = match &input.activation_time {
        Some(t) => Some(
            crate::domain::parse_time(t)
                .ok_or_else(|| {
                    AppError::validation("activation_time", "activation_time must be HH:MM:SS")
                })?
                .format("%H:%M:%S")
                .to_string(),
        ),
        None => None,
    };
    let txn = begin_write(db).await?;
    let old = account_guard::changeable(&txn, id).await?;
    let mut am: account::ActiveModel = old.clone().into();
    am.activation_date = Set(Some(date));
    if time.is_some() {
        am.activation_time = Set(time);
    }
    let new = save(&txn, id, old.version, am).await?;
    audit::updated(&txn, id, user_id, &old, &new, "activation date updated").await?;
    txn.commit().await?;
    Ok(new)
}

/// Archives an inactive account: it leaves default listings and is frozen.
pub async fn archive(db: &DatabaseConnection, user_id: i64, id: i64) -> AppResult<account::Model> {
    let txn = begin_write(db).await?;
    let old = account_guard::changeable(&txn, id).await?;
    if account_guard::is_active(&txn, &old).await? {
        return Err(AppError::validation(
            "id",
            format!("account {id} is active; disconnect it before archiving"),
        ));
    }
    let at = now();
    let mut am: account::ActiveModel = old.clone().into();
    am.archived_at = Set(Some(at));
    am.archived_by_user_id = Set(Some(user_id));
    account_events::record_event(&txn, id, "ARCHIVED", None, None, at).await?;
    let new = save(&txn, id, old.version, am).await?;
    audit::updated(&txn, id, user_id, &old, &new, "account archived").await?;
    txn.commit().await?;
    Ok(new)
}

/// Brings an archived account back; when billing settings name an unarchive status, the
/// account moves to it.
pub async fn unarchive(
    db: &DatabaseConnection,
    user_id: i64,
    id: i64,
) -> AppResult<account::Model> {
    let txn = begin_write(db).await?;
    let old = find::<account::Entity, _>(&txn, id).await?;
    if old.archived_at.is_none() {
        return Err(AppError::validation(
            "id",
            format!("account {id} is not archived"),
        ));
    }
    let at = now();
    let mut am: account::ActiveModel = old.clone().into();
    am.archived_at = Set(None);
    am.archived_by_user_id = Set(None);
    account_events::record_event(&txn, id, "UNARCHIVED", None, None, at).await?;
    if let Some(status_id) = settings::billing_setting(&txn)
        .await?
        .unarchive_account_status_id
    {
        let new_status = status(&txn, "unarchive_account_status_id", status_id).await?;
        change_status(&txn, &old, &new_status, at, &mut am).await?;
    }
    let new = save(&txn, id, old.version, am).await?;
    audit::updated(&txn, id, user_id, &old, &new, "account unarchived").await?;
    txn.commit().await?;
    Ok(new)
}
