//! Users, roles and personal access tokens.

use chrono::Duration;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};

use crate::auth::{
    builtin_roles, decode_permissions, encode_permissions, CheckedToken, CurrentUser,
};
use crate::entity::{personal_access_token, role, user};
use crate::error::{AppError, AppResult};
use crate::service::base::store::Stamped;
use crate::service::base::{
    audit,
    clock::now,
    store::{begin_write, find},
    values::{required_text, Page},
};

crate::input! {
    /// Input of `createPersonalAccessToken`.
    pub struct CreatePersonalAccessToken as "CreatePersonalAccessTokenMutationInput" {
        name: String => "String!";
    }
}

pub async fn get<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<user::Model> {
    find::<user::Entity, _>(db, id).await
}

pub async fn tokens_of<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
) -> AppResult<Page<personal_access_token::Model>> {
    let items = personal_access_token::Entity::find()
        .filter(personal_access_token::Column::UserId.eq(user_id))
        .order_by_asc(personal_access_token::Column::Id)
        .all(db)
        .await?;
    let total_count = items.len() as u64;
    Ok(Page {
        items,
        page: 1,
        records_per_page: total_count.max(1),
        total_count,
    })
}

/// What an authentication depends on, as one string: the token's id and version, its user's
/// version, and the role's id and version. Revoking a token, disabling a user, changing their
/// role or the role's permissions all bump one of them (every write bumps `version`), so a
/// cached authentication is current exactly when this is unchanged. `t`, `u`, `r` are the
/// token, user and role rows.
const STAMP: &str = "CAST(t.id AS TEXT) || ':' || CAST(t.version AS TEXT) || ':' || \
     CAST(u.version AS TEXT) || ':' || CAST(COALESCE(r.id, 0) AS TEXT) || ':' || \
     CAST(COALESCE(r.version, 0) AS TEXT)";

/// A scalar subquery giving the [`STAMP`] of the valid token whose hash is the parameter
/// `hash_param` (NULL when it is unknown, revoked or its user disabled): read in the same
/// statement as a compiled read, it checks a cached authentication without a statement of
/// its own.
pub fn stamp_subquery(hash_param: &str) -> String {
    format!(
        "(SELECT {STAMP} FROM personal_access_tokens t JOIN users u ON u.id = t.user_id \
         LEFT JOIN roles r ON r.id = u.role_id \
         WHERE t.token_hash = {hash_param} AND NOT t.revoked AND u.enabled)"
    )
}

/// A bearer token, checked for form; the error is the `UNAUTHENTICATED` the caller gets.
pub fn parse_bearer(raw: Option<&str>) -> AppResult<CheckedToken> {
    let raw = raw.ok_or_else(|| {
        AppError::Unauthenticated("send Authorization: Bearer <personal access token>".into())
    })?;
    CheckedToken::parse(raw)
        .ok_or_else(|| AppError::Unauthenticated("the token is malformed".into()))
}

/// Who a bearer token acts as. Every failure is `UNAUTHENTICATED`: a malformed token fails
/// before the database is read; an unknown, revoked or deleted token, or a disabled user,
/// fails after. `last_used_at` is written at most once a minute per token.
pub async fn authenticate(db: &DatabaseConnection, raw: Option<&str>) -> AppResult<CurrentUser> {
    let token = parse_bearer(raw)?;
    authenticate_stamped(db, &token).await.map(|(user, _)| user)
}

/// [`authenticate`], with the [`STAMP`] of what the answer depends on.
pub async fn authenticate_stamped(
    db: &DatabaseConnection,
    token: &CheckedToken,
) -> AppResult<(CurrentUser, String)> {
    let invalid = || AppError::Unauthenticated("the token is not valid".into());
    // One statement: the token, its user's state and role's permissions.
    #[derive(sea_orm::FromQueryResult)]
    struct Found {
        id: i64,
        user_id: i64,
        revoked: bool,
        last_used_at: Option<chrono::DateTime<chrono::Utc>>,
        enabled: bool,
        permissions: Option<String>,
        stamp: String,
    }
    let backend = db.get_database_backend();
    let placeholder = if backend == sea_orm::DbBackend::Postgres {
        "$1"
    } else {
        "?"
    };
    let statement = sea_orm::Statement::from_sql_and_values(
        backend,
        format!(
            "SELECT t.id, t.user_id, t.revoked, t.last_used_at, u.enabled, r.permissions, \
             {STAMP} AS stamp \
             FROM personal_access_tokens t JOIN users u ON u.id = t.user_id \
             LEFT JOIN roles r ON r.id = u.role_id WHERE t.token_hash = {placeholder}"
        ),
        [token.hash().into()],
    );
    let found = <Found as sea_orm::FromQueryResult>::find_by_statement(statement)
        .one(db)
        .await?
        .ok_or_else(invalid)?;
    if found.revoked {
        return Err(AppError::Unauthenticated(
            "the token has been revoked".into(),
        ));
    }
    if !found.enabled {
        return Err(AppError::Unauthenticated(
            "the token's user is disabled".into(),
        ));
    }
    let permissions = found
        .permissions
        .as_deref()
        .map(decode_permissions)
        .unwrap_or_default();
    let token_row = (found.id, found.last_used_at);
    let at = now();
    if token_row.1.is_none_or(|t| at - t >= Duration::minutes(1)) {
        // Conditional, so that concurrent requests write it once; a failure here must not
        // fail the request.
        let stale = at - Duration::minutes(1);
        let _ = personal_access_token::Entity::update_many()
            .col_expr(
                personal_access_token::Column::LastUsedAt,
                sea_orm::sea_query::Expr::value(at),
            )
            .filter(personal_access_token::Column::Id.eq(token_row.0))
            .filter(
                sea_orm::Condition::any()
                    .add(personal_access_token::Column::LastUsedAt.is_null())
                    .add(personal_access_token::Column::LastUsedAt.lt(stale)),
            )
            .exec(db)
            .await;
    }
    Ok((
        CurrentUser {
            user_id: found.user_id,
            token_id: found.id,
            permissions,
        },
        found.stamp,
    ))
}

/// Creates a token for `user_id` and returns it with its secret (shown only now).
pub async fn create_token<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    name: &str,
) -> AppResult<(personal_access_token::Model, CheckedToken)> {
    let name = required_text("name", name)?;
    let token = CheckedToken::generate();
    let at = now();
    let model = personal_access_token::ActiveModel {
        user_id: Set(user_id),
        name: Set(name),
        token_hash: Set(token.hash()),
        revoked: Set(false),
        last_used_at: Set(None),
        ..Default::default()
    }
    .stamped(at)
    .insert(db)
    .await?;
    audit::created(db, model.id, user_id, &model).await?;
    Ok((model, token))
}

pub async fn create_token_for_caller(
    db: &DatabaseConnection,
    user_id: i64,
    name: &str,
) -> AppResult<(personal_access_token::Model, CheckedToken)> {
    let txn = begin_write(db).await?;
    let created = create_token(&txn, user_id, name).await?;
    txn.commit().await?;
    Ok(created)
}

/// Deletes one of the caller's tokens (a token row is not history: it may go). Deleting
/// another user's token needs `USERS_MANAGE`.
pub async fn delete_token(db: &DatabaseConnection, caller: &CurrentUser, id: i64) -> AppResult<()> {
    let txn = begin_write(db).await?;
    let token = find::<personal_access_token::Entity, _>(&txn, id).await?;
    if token.user_id != caller.user_id {
        caller.require(crate::auth::Permission::UsersManage)?;
    }
    personal_access_token::Entity::delete_by_id(id)
        .exec(&txn)
        .await?;
    audit::deleted(&txn, id, caller.user_id, &token).await?;
    txn.commit().await?;
    Ok(())
}

/// Creates the built-in roles that are missing.
pub async fn ensure_roles<C: ConnectionTrait>(db: &C) -> AppResult<()> {
    for (name, permissions) in builtin_roles() {
        let exists = role::Entity::find()
            .filter(role::Column::Name.eq(name))
            .count(db)
            .await?
            > 0;
        if !exists {
            let at = now();
            role::ActiveModel {
                name: Set(name.to_owned()),
                permissions: Set(encode_permissions(&permissions)),
                ..Default::default()
            }
            .stamped(at)
            .insert(db)
            .await?;
        }
    }
    Ok(())
}

pub async fn find_by_username<C: ConnectionTrait>(
    db: &C,
    username: &str,
) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(db)
        .await?)
}

/// Creates a user with the named built-in role.
pub async fn create_user<C: ConnectionTrait>(
    db: &C,
    username: &str,
    name: &str,
    email: &str,
    role_name: &str,
) -> AppResult<user::Model> {
    ensure_roles(db).await?;
    let role = role::Entity::find()
        .filter(role::Column::Name.eq(role_name))
        .one(db)
        .await?
        .ok_or_else(|| AppError::validation("role", format!("no role named {role_name}")))?;
    let at = now();
    let model = user::ActiveModel {
        name: Set(name.to_owned()),
        public_name: Set(name.to_owned()),
        username: Set(username.to_owned()),
        email_address: Set(email.to_owned()),
        role_id: Set(Some(role.id)),
        enabled: Set(true),
        super_admin: Set(role_name == "Administrator"),
        completed_setup: Set(true),
        ..Default::default()
    }
    .stamped(at)
    .insert(db)
    .await?;
    Ok(model)
}

/// Whether any user exists.
pub async fn any_user<C: ConnectionTrait>(db: &C) -> AppResult<bool> {
    Ok(user::Entity::find().count(db).await? > 0)
}
