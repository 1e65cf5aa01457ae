//! Contacts of accounts. Every account has exactly one primary contact (created with it).

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set,
};

use crate::domain::valid_email;
use crate::entity::{account, contact};
use crate::error::{AppError, AppResult};
use crate::service::base::store::Stamped;
use crate::service::base::{
    account_guard, audit,
    clock::now,
    store::{begin_write, find, save},
    values::{optional_text, required_text, Id},
};

pub struct NewContact {
    pub name: String,
    pub role: Option<String>,
    pub email_address: Option<String>,
    pub marketing_opt_in: Option<bool>,
    pub primary: bool,
    pub language: Option<String>,
    pub username: Option<String>,
}

fn email(field: &str, value: Option<&str>) -> AppResult<Option<String>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if valid_email(v) => Ok(Some(v.to_owned())),
        Some(_) => Err(AppError::validation(field, "not a valid email address")),
    }
}

/// Inserts a contact of `account_id`; `field` prefixes the names of refused fields.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    account_id: i64,
    c: NewContact,
    field: &str,
) -> AppResult<contact::Model> {
    let at = now();
    Ok(contact::ActiveModel {
        contactable_type: Set("Account".into()),
        contactable_id: Set(account_id),
        name: Set(required_text(&format!("{field}.name"), &c.name)?),
        role: Set(optional_text(&format!("{field}.role"), c.role.as_deref())?),
        email_address: Set(email(
            &format!("{field}.email_address"),
            c.email_address.as_deref(),
        )?),
        language: Set(c.language),
        marketing_opt_in: Set(c.marketing_opt_in),
        primary: Set(c.primary),
        username: Set(optional_text(
            &format!("{field}.username"),
            c.username.as_deref(),
        )?),
        ..Default::default()
    }
    .stamped(at)
    .insert(db)
    .await?)
}

crate::input! {
    pub struct CreateContact as "CreateContactMutationInput" {
        contactable_type: String => "ContactableType!", "Only Account is supported.";
        contactable_id: Id => "Int64Bit!";
        name: String => "String!";
        role: Option<String> => "String";
        email_address: Option<String> => "EmailAddress";
        become_primary: Option<bool> => "Boolean", "Make this the primary contact (the previous one stops being primary).";
        language: Option<String> => "Language";
        username: Option<String> => "String";
        password: Option<String> => "String", "Accepted for compatibility; fathom has no customer portal and does not store it.";
        marketing_opt_in: Option<bool> => "Boolean";
    }
}

crate::input! {
    #[derive(Default)]
    pub struct UpdateContact as "UpdateContactMutationInput" {
        name: Option<String> => "String";
        role: Option<String> => "String";
        email_address: Option<String> => "EmailAddress";
        become_primary: Option<bool> => "Boolean";
        language: Option<String> => "Language";
        username: Option<String> => "String";
        password: Option<String> => "String", "Accepted for compatibility; fathom has no customer portal and does not store it.";
        marketing_opt_in: Option<bool> => "Boolean";
        unset_email_address: Option<bool> => "Boolean";
        unset_role: Option<bool> => "Boolean";
        unset_username: Option<bool> => "Boolean";
    }
}

async fn demote_primary<C: ConnectionTrait>(db: &C, account_id: i64) -> AppResult<()> {
    contact::Entity::update_many()
        .col_expr(contact::Column::Primary, Expr::value(false))
        .col_expr(contact::Column::UpdatedAt, Expr::value(now()))
        .col_expr(
            contact::Column::Version,
            Expr::col(contact::Column::Version).add(1),
        )
        .filter(contact::Column::ContactableType.eq("Account"))
        .filter(contact::Column::ContactableId.eq(account_id))
        .filter(contact::Column::Primary.eq(true))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn create(
    db: &DatabaseConnection,
    user_id: i64,
    input: CreateContact,
) -> AppResult<contact::Model> {
    if input.contactable_type != "Account" {
        return Err(AppError::validation(
            "contactable_type",
            "fathom keeps contacts of accounts only",
        ));
    }
    let account_id = input.contactable_id.0;
    let txn = begin_write(db).await?;
    let account = find::<account::Entity, _>(&txn, account_id)
        .await
        .map_err(|_| {
            AppError::validation(
                "contactable_id",
                format!("account {account_id} does not exist"),
            )
        })?;
    if account.archived_at.is_some() {
        return Err(AppError::AccountArchived(format!(
            "account {account_id} is archived"
        )));
    }
    let primary = input.become_primary == Some(true);
    if primary {
        demote_primary(&txn, account_id).await?;
    }
    let model = insert(
        &txn,
        account_id,
        NewContact {
            name: input.name,
            role: input.role,
            email_address: input.email_address,
            marketing_opt_in: input.marketing_opt_in,
            primary,
            language: input.language,
            username: input.username,
        },
        "input",
    )
    .await?;
    audit::created(&txn, model.id, user_id, &model).await?;
    txn.commit().await?;
    Ok(model)
}

pub async fn update(
    db: &DatabaseConnection,
    user_id: i64,
    id: i64,
    input: UpdateContact,
) -> AppResult<contact::Model> {
    let txn = begin_write(db).await?;
    let old = find::<contact::Entity, _>(&txn, id).await?;
    account_guard::changeable(&txn, old.contactable_id).await?;
    let mut am: contact::ActiveModel = old.clone().into();
    if let Some(v) = &input.name {
        am.name = Set(required_text("name", v)?);
    }
    if input.unset_role == Some(true) {
        am.role = Set(None);
    } else if let Some(v) = &input.role {
        am.role = Set(optional_text("role", Some(v))?);
    }
    if input.unset_email_address == Some(true) {
        am.email_address = Set(None);
    } else if let Some(v) = &input.email_address {
        am.email_address = Set(email("email_address", Some(v))?);
    }
    if input.unset_username == Some(true) {
        am.username = Set(None);
    } else if let Some(v) = &input.username {
        am.username = Set(optional_text("username", Some(v))?);
    }
    if let Some(v) = input.language {
        am.language = Set(Some(v));
    }
    if let Some(v) = input.marketing_opt_in {
        am.marketing_opt_in = Set(Some(v));
    }
    // demote_primary only touches the current primary, never this (non-primary) row, so the
    // version read above still guards the save below.
    if input.become_primary == Some(true) && !old.primary {
        demote_primary(&txn, old.contactable_id).await?;
        am.primary = Set(true);
    } else if input.become_primary == Some(false) && old.primary {
        return Err(AppError::validation(
            "become_primary",
            "make another contact primary instead",
        ));
    }
    let new = save(&txn, id, old.version, am).await?;
    audit::updated(&txn, id, user_id, &old, &new, "contact updated").await?;
    txn.commit().await?;
    Ok(new)
}

/// Deletes a contact that is not the account's primary contact.
pub async fn delete(db: &DatabaseConnection, user_id: i64, id: i64) -> AppResult<()> {
    let txn = begin_write(db).await?;
    let old = find::<contact::Entity, _>(&txn, id).await?;
    account_guard::changeable(&txn, old.contactable_id).await?;
    if old.primary {
        return Err(AppError::validation(
            "id",
            "the primary contact cannot be deleted; make another contact primary first",
        ));
    }
    contact::Entity::delete_by_id(id).exec(&txn).await?;
    audit::deleted(&txn, id, user_id, &old).await?;
    txn.commit().await?;
    Ok(())
}
