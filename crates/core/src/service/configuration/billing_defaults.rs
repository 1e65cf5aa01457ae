//! Billing defaults (Sonar's `BillingDefault`; fathom keeps its delinquency fields): the grace
//! days of an account's invoices and the statuses its delinquency moves it to. One applies to
//! the accounts of its `account_type_id`, or (`default`) to every account whose type has none
//! of its own ([`Snapshot::billing_default_for`]). At most one per account type, at most one
//! default. The delinquency statuses must activate accounts: a delinquent account is still
//! billed until it is disconnected. Every change bumps the settings generation: the write path
//! reads them from memory.
//!
//! [`Snapshot::billing_default_for`]: crate::service::base::settings::Snapshot::billing_default_for

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, Set,
};

use crate::entity::{account_status, account_type, billing_default};
use crate::error::{AppError, AppResult};
use crate::service::base::{
    audit,
    clock::now,
    settings::bump,
    store::{begin_write, find, save, Stamped},
    values::{required_text, Id},
};

/// The most grace days, and days of delinquency before a switch: ten years.
pub const MAX_DAYS: i32 = 3650;

crate::input! {
    /// Input of `createBillingDefault`.
    pub struct CreateBillingDefault as "CreateBillingDefaultMutationInput" {
        name: String => "String!";
        account_type_id: Option<Id> => "Int64Bit", "The account type it is for; leave it out for a default.";
        default: Option<bool> => "Boolean", "Whether it applies to accounts whose type has no billing default of its own (at most one is).";
        grace_days: Option<i32> => "Int", "Days after an invoice's due date before it is delinquent (default 0).";
        switch_status_after_delinquency: Option<bool> => "Boolean";
        days_of_delinquency_for_status_switch: Option<i32> => "Int";
        delinquency_account_status_id: Option<Id> => "Int64Bit", "An activating status.";
        delinquency_removal_account_status_id: Option<Id> => "Int64Bit", "An activating status.";
    }
}

crate::input! {
    /// Input of `updateBillingDefault`.
    #[derive(Default)]
    pub struct UpdateBillingDefault as "UpdateBillingDefaultMutationInput" {
        name: Option<String> => "String";
        account_type_id: Option<Id> => "Int64Bit";
        unset_account_type_id: Option<bool> => "Boolean";
        default: Option<bool> => "Boolean";
        grace_days: Option<i32> => "Int";
        switch_status_after_delinquency: Option<bool> => "Boolean";
        days_of_delinquency_for_status_switch: Option<i32> => "Int";
        unset_days_of_delinquency_for_status_switch: Option<bool> => "Boolean";
        delinquency_account_status_id: Option<Id> => "Int64Bit";
        unset_delinquency_account_status_id: Option<bool> => "Boolean";
        delinquency_removal_account_status_id: Option<Id> => "Int64Bit";
        unset_delinquency_removal_account_status_id: Option<bool> => "Boolean";
    }
}

fn days(field: &str, value: i32) -> AppResult<i32> {
    if (0..=MAX_DAYS).contains(&value) {
        Ok(value)
    } else {
        Err(AppError::validation(
            field,
            format!("{field} is 0 to {MAX_DAYS}"),
        ))
    }
}

/// Checks a billing default as it would be written, against the others.
async fn check<C: ConnectionTrait>(db: &C, row: &billing_default::Model) -> AppResult<()> {
    days("grace_days", row.grace_days)?;
    if let Some(d) = row.days_of_delinquency_for_status_switch {
        days("days_of_delinquency_for_status_switch", d)?;
    }
    if let Some(type_id) = row.account_type_id {
        find::<account_type::Entity, _>(db, type_id)
            .await
            .map_err(|err| match err {
                AppError::NotFound(_) => AppError::validation(
                    "account_type_id",
                    format!("account type {type_id} does not exist"),
                ),
                other => other,
            })?;
    }
    for (field, status) in [
        (
            "delinquency_account_status_id",
            row.delinquency_account_status_id,
        ),
        (
            "delinquency_removal_account_status_id",
            row.delinquency_removal_account_status_id,
        ),
    ] {
        let Some(id) = status else { continue };
        let status = find::<account_status::Entity, _>(db, id)
            .await
            .map_err(|_| {
                AppError::validation(field, format!("account status {id} does not exist"))
            })?;
        if !status.activates_account {
            return Err(AppError::validation(
                field,
                format!(
                    "{} does not activate accounts: a delinquent account is still billed until it is disconnected",
                    status.name
                ),
            ));
        }
    }
    if row.switch_status_after_delinquency && row.delinquency_account_status_id.is_none() {
        return Err(AppError::validation(
            "delinquency_account_status_id",
            "switch_status_after_delinquency needs delinquency_account_status_id",
        ));
    }
    let others = billing_default::Entity::find()
        .filter(billing_default::Column::Id.ne(row.id))
        .filter(
            Condition::any()
                .add(billing_default::Column::Default.eq(true))
                .add(billing_default::Column::AccountTypeId.is_not_null()),
        )
        .all(db)
        .await?;
    if let Some(type_id) = row.account_type_id {
        if let Some(other) = others.iter().find(|o| o.account_type_id == Some(type_id)) {
            return Err(AppError::validation(
                "account_type_id",
                format!(
                    "billing default {} is for account type {type_id} already",
                    other.id
                ),
            ));
        }
    }
    if row.default {
        if let Some(other) = others.iter().find(|o| o.default) {
            return Err(AppError::validation(
                "default",
                format!(
                    "billing default {} is the default already: unset its default first",
                    other.id
                ),
            ));
        }
    }
    Ok(())
}

/// `createBillingDefault`.
pub async fn create(
    db: &DatabaseConnection,
    user_id: i64,
    input: CreateBillingDefault,
) -> AppResult<billing_default::Model> {
    let at = now();
    let draft = billing_default::Model {
        id: 0,
        name: required_text("name", &input.name)?,
        account_type_id: input.account_type_id.map(|i| i.0),
        default: input.default.unwrap_or(false),
        grace_days: input.grace_days.unwrap_or(0),
        switch_status_after_delinquency: input.switch_status_after_delinquency.unwrap_or(false),
        days_of_delinquency_for_status_switch: input.days_of_delinquency_for_status_switch,
        delinquency_account_status_id: input.delinquency_account_status_id.map(|i| i.0),
        delinquency_removal_account_status_id: input
            .delinquency_removal_account_status_id
            .map(|i| i.0),
        created_at: at,
        updated_at: at,
        version: 1,
    };
    let txn = begin_write(db).await?;
    // The settings generation's row, locked first, orders concurrent writers of billing
    // defaults: the uniqueness checks below read what the one before wrote.
    bump(&txn).await?;
    check(&txn, &draft).await?;
    let mut am: billing_default::ActiveModel = draft.into();
    am.id = sea_orm::NotSet;
    let model = am.stamped(at).insert(&txn).await?;
    audit::created(&txn, model.id, user_id, &model).await?;
    txn.commit().await?;
    Ok(model)
}

/// `updateBillingDefault`: the fields given; each `unset_…` empties its field (giving both a
/// field and its `unset_…` is refused).
pub async fn update(
    db: &DatabaseConnection,
    user_id: i64,
    id: i64,
    input: UpdateBillingDefault,
) -> AppResult<billing_default::Model> {
    fn pick<T: Copy>(
        field: &str,
        given: Option<T>,
        unset: Option<bool>,
        old: Option<T>,
    ) -> AppResult<Option<T>> {
        match (given, unset == Some(true)) {
            (Some(_), true) => Err(AppError::validation(
                format!("unset_{field}"),
                format!("give {field} or unset_{field}, not both"),
            )),
            (_, true) => Ok(None),
            (Some(v), false) => Ok(Some(v)),
            (None, false) => Ok(old),
        }
    }
    let txn = begin_write(db).await?;
    bump(&txn).await?;
    let old = find::<billing_default::Entity, _>(&txn, id).await?;
    let mut new = old.clone();
    if let Some(name) = &input.name {
        new.name = required_text("name", name)?;
    }
    new.account_type_id = pick(
        "account_type_id",
        input.account_type_id.map(|i| i.0),
        input.unset_account_type_id,
        old.account_type_id,
    )?;
    new.default = input.default.unwrap_or(old.default);
    new.grace_days = input.grace_days.unwrap_or(old.grace_days);
    new.switch_status_after_delinquency = input
        .switch_status_after_delinquency
        .unwrap_or(old.switch_status_after_delinquency);
    new.days_of_delinquency_for_status_switch = pick(
        "days_of_delinquency_for_status_switch",
        input.days_of_delinquency_for_status_switch,
        input.unset_days_of_delinquency_for_status_switch,
        old.days_of_delinquency_for_status_switch,
    )?;
    new.delinquency_account_status_id = pick(
        "delinquency_account_status_id",
        input.delinquency_account_status_id.map(|i| i.0),
        input.unset_delinquency_account_status_id,
        old.delinquency_account_status_id,
    )?;
    new.delinquency_removal_account_status_id = pick(
        "delinquency_removal_account_status_id",
        input.delinquency_removal_account_status_id.map(|i| i.0),
        input.unset_delinquency_removal_account_status_id,
        old.delinquency_removal_account_status_id,
    )?;
    check(&txn, &new).await?;
    let mut am: billing_default::ActiveModel = old.clone().into();
    am.name = Set(new.name);
    am.account_type_id = Set(new.account_type_id);
    am.default = Set(new.default);
    am.grace_days = Set(new.grace_days);
    am.switch_status_after_delinquency = Set(new.switch_status_after_delinquency);
    am.days_of_delinquency_for_status_switch = Set(new.days_of_delinquency_for_status_switch);
    am.delinquency_account_status_id = Set(new.delinquency_account_status_id);
    am.delinquency_removal_account_status_id = Set(new.delinquency_removal_account_status_id);
    let saved = save(&txn, id, old.version, am).await?;
    audit::updated(&txn, id, user_id, &old, &saved, "billing default updated").await?;
    txn.commit().await?;
    Ok(saved)
}

/// `deleteBillingDefault`: a setting, not history, so it goes (with its audit row). Invoices
/// written under it keep their delinquency dates.
pub async fn delete(db: &DatabaseConnection, user_id: i64, id: i64) -> AppResult<()> {
    let txn = begin_write(db).await?;
    let old = find::<billing_default::Entity, _>(&txn, id).await?;
    billing_default::Entity::delete_many()
        .filter(billing_default::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    bump(&txn).await?;
    audit::deleted(&txn, id, user_id, &old).await?;
    txn.commit().await?;
    Ok(())
}
