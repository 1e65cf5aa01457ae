//! Creating and changing users (`createUser`, `updateUser`, `fathom user create`).
//!
//! The rules a user of a billing API expects:
//! - usernames are unique (`CONFLICT` with `extensions.field = "username"`);
//! - a user has one role, which must exist (`VALIDATION_FAILED` on `role_id`, as every
//!   reference to another record); left out, the role is [`DEFAULT_ROLE`], the least privilege;
//! - **nobody locks the administrators out**: at least one enabled user whose role grants
//!   `USERS_MANAGE` always remains. Concretely, a caller cannot disable themselves nor give
//!   themselves a role without `USERS_MANAGE` (so whoever manages users can always undo a
//!   mistake), and any change that disables a user or moves them to a role without
//!   `USERS_MANAGE` is refused if it would leave no enabled user with `USERS_MANAGE`. On
//!   PostgreSQL such a change first locks the rows of the enabled user managers, so that two
//!   administrators disabling each other at the same moment cannot both succeed (SQLite's write
//!   transactions are serialized already).
//!
//! fathom grants permissions by role only: `super_admin` is recorded and returned as given but
//! grants nothing by itself, so it plays no part in these rules. fathom has no passwords:
//! `updateUser`'s `password` is accepted and ignored.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, SqlErr,
};

use crate::auth::{decode_permissions, Permission};
use crate::domain::valid_email;
use crate::entity::{role, user};
use crate::error::{AppError, AppResult};
use crate::service::base::store::Stamped;
use crate::service::base::{
    audit::{self, LogType},
    clock::now,
    store::{begin_write, find, save},
    values::{required_text, Id},
};

const USERNAME: &str = "Unique (else CONFLICT with extensions.field username), without spaces.";

const SUPER_ADMIN: &str = "Recorded and returned as given. fathom grants permissions by role only, so this grants nothing by itself: give the Administrator role for every permission.";

/// The role of a user created without `role_id`: the least privilege (every `_READ`
/// permission, nothing else).
pub const DEFAULT_ROLE: &str = "Read Only";

crate::input! {
    pub struct CreateUser as "CreateUserMutationInput" {
        name: String => "String!";
        username: String => "String!", USERNAME;
        super_admin: Option<bool> => "Boolean", "Defaults to false. Recorded and returned as given. fathom grants permissions by role only, so this grants nothing by itself: give the Administrator role for every permission.";
        role_id: Option<Id> => "Int64Bit", "The role whose permissions the user has. Left out: Read Only (every _READ permission, nothing else), the least privilege.";
        email_address: String => "EmailAddress!";
        mobile_number: Option<String> => "Numeric";
        language: Option<String> => "Language";
        public_name: String => "String!";
        enabled: Option<bool> => "Boolean", "Defaults to true. A disabled user's tokens do not work.";
    }
}

crate::input! {
    #[derive(Default)]
    pub struct UpdateUser as "UpdateUserMutationInput" {
        name: Option<String> => "String";
        username: Option<String> => "String", USERNAME;
        super_admin: Option<bool> => "Boolean", SUPER_ADMIN;
        role_id: Option<Id> => "Int64Bit", "A new role. Nobody can give themselves a role without USERS_MANAGE, and at least one enabled user with USERS_MANAGE always remains (else VALIDATION_FAILED).";
        email_address: Option<String> => "EmailAddress";
        mobile_number: Option<String> => "Numeric";
        password: Option<String> => "String", "Accepted so that Sonar scripts run unchanged; fathom has no passwords (only personal access tokens) and ignores it.";
        language: Option<String> => "Language";
        public_name: Option<String> => "String";
        enabled: Option<bool> => "Boolean", "false disables the user: their tokens stop working on their next request. Nobody can disable themselves, and at least one enabled user with USERS_MANAGE always remains (else VALIDATION_FAILED).";
        unset_mobile_number: Option<bool> => "Boolean", "Clear the mobile number.";
    }
}

fn username(value: &str) -> AppResult<String> {
    let username = required_text("username", value)?;
    if username
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(AppError::validation(
            "username",
            "username must not contain spaces",
        ));
    }
    Ok(username)
}

fn email(value: &str) -> AppResult<String> {
    let email = required_text("email_address", value)?;
    if !valid_email(&email) {
        return Err(AppError::validation(
            "email_address",
            "not a valid email address",
        ));
    }
    Ok(email)
}

fn mobile_number(value: &str) -> AppResult<String> {
    let number = required_text("mobile_number", value)?;
    if !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::validation(
            "mobile_number",
            "mobile_number is digits only",
        ));
    }
    Ok(number)
}

fn language(value: &str) -> AppResult<String> {
    let known = crate::sonar_enums::sonar_values("Language")
        .is_some_and(|values| values.iter().any(|(v, _)| *v == value));
    if !known {
        return Err(AppError::validation(
            "language",
            format!("{value} is not a Language"),
        ));
    }
    Ok(value.to_owned())
}

fn taken(username: &str) -> AppError {
    AppError::Taken {
        field: "username".into(),
        message: format!("the username {username} is taken"),
    }
}

/// The unique index on `username` is the only one of the users table besides its key, so a
/// unique violation here is a username taken by a concurrent request.
fn insert_error(err: DbErr, username: &str) -> AppError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => taken(username),
        _ => err.into(),
    }
}

async fn check_username_free<C: ConnectionTrait>(
    db: &C,
    username: &str,
    except: Option<i64>,
) -> AppResult<()> {
    let mut query = user::Entity::find().filter(user::Column::Username.eq(username));
    if let Some(id) = except {
        query = query.filter(user::Column::Id.ne(id));
    }
    if query.count(db).await? > 0 {
        return Err(taken(username));
    }
    Ok(())
}

fn grants(role: &role::Model, permission: Permission) -> bool {
    decode_permissions(&role.permissions).contains(&permission)
}

/// The role `role_id` names, or `VALIDATION_FAILED` on `role_id`.
async fn role_by_id<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<role::Model> {
    find::<role::Entity, _>(db, id).await.map_err(|e| match e {
        AppError::NotFound(_) => {
            AppError::validation("role_id", format!("role {id} does not exist"))
        }
        other => other,
    })
}

/// The role called `name`, or `VALIDATION_FAILED` on `field` listing the roles there are.
pub async fn role_by_name<C: ConnectionTrait>(
    db: &C,
    field: &str,
    name: &str,
) -> AppResult<role::Model> {
    let roles = role::Entity::find()
        .order_by_asc(role::Column::Name)
        .all(db)
        .await?;
    let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
    let message = format!(
        "there is no role named {name:?}; the roles are: {}",
        names.join(", ")
    );
    roles
        .iter()
        .find(|r| r.name == name)
        .cloned()
        .ok_or_else(|| AppError::validation(field, message))
}

/// The ids of the enabled users whose role grants `USERS_MANAGE`, in id order. With `lock`,
/// on PostgreSQL, their rows stay locked until the transaction ends.
async fn enabled_user_managers<C: ConnectionTrait>(db: &C, lock: bool) -> AppResult<Vec<i64>> {
    let manager_roles: Vec<i64> = role::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .filter(|r| grants(r, Permission::UsersManage))
        .map(|r| r.id)
        .collect();
    if manager_roles.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::Enabled.eq(true))
        .filter(user::Column::RoleId.is_in(manager_roles))
        .order_by_asc(user::Column::Id);
    if lock && db.get_database_backend() == DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    Ok(query.into_tuple().all(db).await?)
}

struct NewUser {
    name: String,
    public_name: String,
    username: String,
    email_address: String,
    role_id: i64,
    super_admin: bool,
    enabled: bool,
    mobile_number: Option<String>,
    language: Option<String>,
}

async fn insert<C: ConnectionTrait>(db: &C, new: NewUser) -> AppResult<user::Model> {
    check_username_free(db, &new.username, None).await?;
    let at = now();
    let username = new.username.clone();
    user::ActiveModel {
        name: Set(new.name),
        public_name: Set(new.public_name),
        username: Set(new.username),
        email_address: Set(new.email_address),
        role_id: Set(Some(new.role_id)),
        enabled: Set(new.enabled),
        super_admin: Set(new.super_admin),
        // fathom has no set-up step (no passwords, no invitations): a user is ready at once.
        completed_setup: Set(true),
        is_sonar_staff: Set(None),
        language: Set(new.language),
        mobile_number: Set(new.mobile_number),
        ..Default::default()
    }
    .stamped(at)
    .insert(db)
    .await
    .map_err(|e| insert_error(e, &username))
}

/// `createUser`, as the user `by`: one transaction with its audit row.
pub async fn create(db: &DatabaseConnection, by: i64, input: CreateUser) -> AppResult<user::Model> {
    let name = required_text("name", &input.name)?;
    let public_name = required_text("public_name", &input.public_name)?;
    let username = username(&input.username)?;
    let email_address = email(&input.email_address)?;
    let mobile_number = input
        .mobile_number
        .as_deref()
        .map(mobile_number)
        .transpose()?;
    let language = input.language.as_deref().map(language).transpose()?;
    let txn = begin_write(db).await?;
    let role = match input.role_id {
        Some(Id(id)) => role_by_id(&txn, id).await?,
        None => role_by_name(&txn, "role_id", DEFAULT_ROLE).await?,
    };
    let model = insert(
        &txn,
        NewUser {
            name,
            public_name,
            username,
            email_address,
            role_id: role.id,
            super_admin: input.super_admin.unwrap_or(false),
            enabled: input.enabled.unwrap_or(true),
            mobile_number,
            language,
        },
    )
    .await?;
    audit::created(&txn, model.id, by, &model).await?;
    txn.commit().await?;
    Ok(model)
}

/// `fathom user create`: a user with the role called `role_name`, audited as a change made
/// from the command line (no user).
pub async fn create_from_cli(
    db: &DatabaseConnection,
    username_given: &str,
    role_name: &str,
    name: Option<&str>,
    email_given: Option<&str>,
) -> AppResult<user::Model> {
    let username = username(username_given)?;
    let name = required_text("name", name.unwrap_or(&username))?;
    let email_address = match email_given {
        Some(e) => email(e)?,
        None => default_email(&username),
    };
    let txn = begin_write(db).await?;
    let role = role_by_name(&txn, "role", role_name).await?;
    let model = insert(
        &txn,
        NewUser {
            public_name: name.clone(),
            name,
            username,
            email_address,
            role_id: role.id,
            super_admin: false,
            enabled: true,
            mobile_number: None,
            language: None,
        },
    )
    .await?;
    audit::record(
        &txn,
        LogType::Created,
        model.id,
        None,
        None,
        Some(&model),
        "User created from the command line",
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

/// The address of a user created without one: under `.invalid`, the top-level domain reserved
/// for names that can never be real (RFC 2606); fathom sends no email.
pub fn default_email(username: &str) -> String {
    format!("{username}@fathom.invalid")
}

/// `updateUser`, as the user `by`: one transaction with its audit row, `_version` bumped.
pub async fn update(
    db: &DatabaseConnection,
    by: i64,
    id: i64,
    input: UpdateUser,
) -> AppResult<user::Model> {
    if input.unset_mobile_number == Some(true) && input.mobile_number.is_some() {
        return Err(AppError::validation(
            "unset_mobile_number",
            "give mobile_number or unset_mobile_number, not both",
        ));
    }
    let txn = begin_write(db).await?;
    let old = find::<user::Entity, _>(&txn, id).await?;
    let mut am: user::ActiveModel = old.clone().into();
    if let Some(v) = &input.name {
        am.name = Set(required_text("name", v)?);
    }
    if let Some(v) = &input.public_name {
        am.public_name = Set(required_text("public_name", v)?);
    }
    if let Some(v) = &input.username {
        let new_username = username(v)?;
        if new_username != old.username {
            check_username_free(&txn, &new_username, Some(id)).await?;
        }
        am.username = Set(new_username);
    }
    if let Some(v) = &input.email_address {
        am.email_address = Set(email(v)?);
    }
    if let Some(v) = &input.mobile_number {
        am.mobile_number = Set(Some(mobile_number(v)?));
    }
    if input.unset_mobile_number == Some(true) {
        am.mobile_number = Set(None);
    }
    if let Some(v) = &input.language {
        am.language = Set(Some(language(v)?));
    }
    if let Some(v) = input.super_admin {
        am.super_admin = Set(v);
    }
    let new_role = match input.role_id {
        Some(Id(role_id)) if Some(role_id) != old.role_id => Some(role_by_id(&txn, role_id).await?),
        _ => None,
    };
    let disabling = input.enabled == Some(false) && old.enabled;
    let losing_users_manage = new_role
        .as_ref()
        .is_some_and(|r| !grants(r, Permission::UsersManage));

    if id == by && input.enabled == Some(false) {
        return Err(AppError::validation(
            "enabled",
            "you cannot disable yourself; another user with USERS_MANAGE can",
        ));
    }
    if id == by && losing_users_manage {
        return Err(AppError::validation(
            "role_id",
            format!(
                "you cannot give yourself the role {}: it does not grant USERS_MANAGE, so you \
                 could not undo it; another user with USERS_MANAGE can",
                new_role
                    .as_ref()
                    .map(|r| r.name.as_str())
                    .unwrap_or_default()
            ),
        ));
    }
    let may_remove_a_manager = disabling || losing_users_manage;
    if may_remove_a_manager {
        enabled_user_managers(&txn, true).await?;
    }
    if let Some(enabled) = input.enabled {
        am.enabled = Set(enabled);
    }
    if let Some(role) = &new_role {
        am.role_id = Set(Some(role.id));
    }
    let new = save(&txn, id, old.version, am).await?;
    if may_remove_a_manager && enabled_user_managers(&txn, false).await?.is_empty() {
        return Err(AppError::validation(
            if disabling { "enabled" } else { "role_id" },
            "at least one enabled user with USERS_MANAGE must remain; give another user a role \
             with USERS_MANAGE first",
        ));
    }
    audit::updated(&txn, id, by, &old, &new, "user updated").await?;
    txn.commit().await?;
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_username_with_a_space_is_refused_and_one_without_is_trimmed() {
        assert!(username("two words").is_err());
        assert!(username("   ").is_err());
        assert_eq!(username("  billing-bot ").unwrap(), "billing-bot");
    }

    #[test]
    fn a_mobile_number_is_digits_only() {
        assert!(mobile_number("+1 555").is_err());
        assert_eq!(mobile_number("15555550100").unwrap(), "15555550100");
    }

    #[test]
    fn the_default_email_of_a_user_is_a_valid_address_that_can_never_be_real() {
        let address = default_email("billing-bot");
        assert!(valid_email(&address));
        assert!(address.ends_with(".invalid"));
    }
}
