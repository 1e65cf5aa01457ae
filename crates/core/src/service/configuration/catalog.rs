//! Account statuses and account types.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, Set,
};

use crate::domain::normalize_color;
use crate::entity::{account, account_status, account_type, billing_default};
use crate::error::{AppError, AppResult};
use crate::service::base::store::Stamped;
use crate::service::base::{
    audit,
    clock::now,
    input::UNUSED,
    settings,
    store::{begin_write, find, save},
    values::{required_text, Id},
};

fn color(field: &str, value: &str) -> AppResult<String> {
    normalize_color(value)
        .ok_or_else(|| AppError::validation(field, "a colour is six hexadecimal digits"))
}

crate::input! {
    pub struct CreateAccountStatus as "CreateAccountStatusMutationInput" {
        name: String => "String!";
        activates_account: bool => "Boolean!";
        color: String => "HtmlHexColor!";
        icon: String => "Icon!";
    }
}

crate::input! {
    #[derive(Default)]
    pub struct UpdateAccountStatus as "UpdateAccountStatusMutationInput" {
        name: Option<String> => "String";
        activates_account: Option<bool> => "Boolean";
        color: Option<String> => "HtmlHexColor";
        icon: Option<String> => "Icon";
    }
}

pub async fn insert_status<C: ConnectionTrait>(
    db: &C,
    input: CreateAccountStatus,
) -> AppResult<account_status::Model> {
    let at = now();
    // The statuses are kept in memory by every server (`settings::Snapshot`).
    settings::bump(db).await?;
    Ok(account_status::ActiveModel {
        name: Set(required_text("name", &input.name)?),
        activates_account: Set(input.activates_account),
        color: Set(color("color", &input.color)?),
        icon: Set(input.icon),
        ..Default::default()
    }
    .stamped(at)
    .insert(db)
    .await?)
}

pub async fn create_status(
    db: &DatabaseConnection,
    user_id: i64,
    input: CreateAccountStatus,
) -> AppResult<account_status::Model> {
    let txn = begin_write(db).await?;
    let model = insert_status(&txn, input).await?;
    audit::created(&txn, model.id, user_id, &model).await?;
    txn.commit().await?;
    Ok(model)
}

pub async fn update_status(
    db: &DatabaseConnection,
    user_id: i64,
    id: i64,
    input: UpdateAccountStatus,
) -> AppResult<account_status::Model> {
    let txn = begin_write(db).await?;
    let old = find::<account_status::Entity, _>(&txn, id).await?;
    let mut am: account_status::ActiveModel = old.clone().into();
    if let Some(name) = &input.name {
        am.name = Set(required_text("name", name)?);
    }
    if let Some(activates) = input.activates_account {
        if activates
            && settings::billing_setting(&txn)
                .await?
                .disconnect_account_status_id
                == id
        {
            return Err(AppError::validation(
                "activates_account",
                "this is the billing settings' disconnect status, which must not activate accounts",
            ));
        }
        am.activates_account = Set(activates);
    }
    if let Some(c) = &input.color {
        am.color = Set(color("color", c)?);
    }
    if let Some(icon) = input.icon {
        am.icon = Set(icon);
    }
    let new = save(&txn, id, old.version, am).await?;
    settings::bump(&txn).await?;
    audit::updated(&txn, id, user_id, &old, &new, "account status updated").await?;
    txn.commit().await?;
    Ok(new)
}

/// Deletes a status nothing uses: no account is in it and billing settings do not name it.
pub async fn delete_status(db: &DatabaseConnection, user_id: i64, id: i64) -> AppResult<()> {
    let txn = begin_write(db).await?;
    let old = find::<account_status::Entity, _>(&txn, id).await?;
    let in_use = account::Entity::find()
        .filter(account::Column::AccountStatusId.eq(id))
        .count(&txn)
        .await?;
    if in_use > 0 {
        return Err(AppError::Conflict(format!(
            "{in_use} account(s) are in status {}; move them first",
            old.name
        )));
    }
    let billing = settings::billing_setting(&txn).await?;
    if billing.disconnect_account_status_id == id || billing.unarchive_account_status_id == Some(id)
    {
        return Err(AppError::Conflict(format!(
            "billing settings name {} as a status to use; change them first",
            old.name
        )));
    }
    if let Some(default) = billing_default::Entity::find()
        .filter(
            Condition::any()
                .add(billing_default::Column::DelinquencyAccountStatusId.eq(id))
                .add(billing_default::Column::DelinquencyRemovalAccountStatusId.eq(id)),
        )
        .one(&txn)
        .await?
    {
        return Err(AppError::Conflict(format!(
            "billing default {} moves delinquent accounts to or from {}; change it first",
            default.id, old.name
        )));
    }
    account_status::Entity::delete_many()
        .filter(Condition::all().add(account_status::Column::Id.eq(id)))
        .exec(&txn)
        .await?;
    settings::bump(&txn).await?;
    audit::deleted(&txn, id, user_id, &old).await?;
    txn.commit().await?;
    Ok(())
}

crate::input! {
    pub struct CreateAccountType as "CreateAccountTypeMutationInput" {
        name: String => "String!";
        color: Option<String> => "HtmlHexColor", "Defaults to 9E9E9E.";
        icon: Option<String> => "Icon", "Defaults to HOME759658 when that value exists.";
        r#type as "type": String => "AccountTypeEnum!";
        invoice_message_id: Option<Id> => "Int64Bit", UNUSED;
    }
}

crate::input! {
    #[derive(Default)]
    pub struct UpdateAccountType as "UpdateAccountTypeMutationInput" {
        name: Option<String> => "String";
        color: Option<String> => "HtmlHexColor";
        icon: Option<String> => "Icon";
        r#type as "type": Option<String> => "AccountTypeEnum";
        invoice_message_id: Option<Id> => "Int64Bit", UNUSED;
    }
}

pub const DEFAULT_TYPE_COLOR: &str = "9E9E9E";
pub const DEFAULT_TYPE_ICON: &str = "HOME759658";

pub async fn insert_type<C: ConnectionTrait>(
    db: &C,
    input: CreateAccountType,
) -> AppResult<account_type::Model> {
    let at = now();
    let icon = input.icon.unwrap_or_else(default_icon);
    Ok(account_type::ActiveModel {
        name: Set(required_text("name", &input.name)?),
        color: Set(match &input.color {
            Some(c) => color("color", c)?,
            None => DEFAULT_TYPE_COLOR.to_owned(),
        }),
        icon: Set(icon),
        r#type: Set(input.r#type),
        invoice_message_id: Set(None),
        ..Default::default()
    }
    .stamped(at)
    .insert(db)
    .await?)
}

/// `HOME759658` when Sonar's icon list has it, else its first icon.
pub fn default_icon() -> String {
    let icons = crate::sonar_enums::sonar_values("Icon").unwrap_or(&[]);
    icons
        .iter()
        .find(|(v, _)| *v == DEFAULT_TYPE_ICON)
        .or(icons.first())
        .map(|(v, _)| (*v).to_owned())
        .unwrap_or_default()
}

pub async fn create_type(
    db: &DatabaseConnection,
    user_id: i64,
    input: CreateAccountType,
) -> AppResult<account_type::Model> {
    let txn = begin_write(db).await?;
    let model = insert_type(&txn, input).await?;
    audit::created(&txn, model.id, user_id, &model).await?;
    txn.commit().await?;
    Ok(model)
}

pub async fn update_type(
    db: &DatabaseConnection,
    user_id: i64,
    id: i64,
    input: UpdateAccountType,
) -> AppResult<account_type::Model> {
    let txn = begin_write(db).await?;
    let old = find::<account_type::Entity, _>(&txn, id).await?;
    let mut am: account_type::ActiveModel = old.clone().into();
    if let Some(name) = &input.name {
        am.name = Set(required_text("name", name)?);
    }
    if let Some(c) = &input.color {
        am.color = Set(color("color", c)?);
    }
    if let Some(icon) = input.icon {
        am.icon = Set(icon);
    }
    if let Some(t) = input.r#type {
        am.r#type = Set(t);
    }
    let new = save(&txn, id, old.version, am).await?;
    audit::updated(&txn, id, user_id, &old, &new, "account type updated").await?;
    txn.commit().await?;
    Ok(new)
}

pub async fn delete_type(db: &DatabaseConnection, user_id: i64, id: i64) -> AppResult<()> {
    let txn = begin_write(db).await?;
    let old = find::<account_type::Entity, _>(&txn, id).await?;
    let in_use = account::Entity::find()
        .filter(account::Column::AccountTypeId.eq(id))
        .count(&txn)
        .await?;
    if in_use > 0 {
        return Err(AppError::Conflict(format!(
            "{in_use} account(s) are of type {}; change them first",
            old.name
        )));
    }
    if let Some(default) = billing_default::Entity::find()
        .filter(billing_default::Column::AccountTypeId.eq(id))
        .one(&txn)
        .await?
    {
        return Err(AppError::Conflict(format!(
            "billing default {} is for type {}; change or delete it first",
            default.id, old.name
        )));
    }
    account_type::Entity::delete_by_id(id).exec(&txn).await?;
    audit::deleted(&txn, id, user_id, &old).await?;
    txn.commit().await?;
    Ok(())
}
