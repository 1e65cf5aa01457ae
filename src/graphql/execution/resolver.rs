//! What every resolver works with: the schema's shared [`State`], the database (or the
//! replica, for reads that may use it), the caller and their permissions, and [`field`], which
//! reports a resolver's error with its path the way GraphQL requires.

use async_graphql::dynamic::{Field, FieldFuture, ResolverContext, TypeRef};
use sea_orm::DatabaseConnection;

use crate::auth::{CurrentUser, Permission};
use crate::error::AppError;
use crate::graphql::execution::errors;
use crate::service::webhooks::delivery;

/// Shared state resolvers read from the schema data.
pub struct State {
    pub db: DatabaseConnection,
    /// How webhooks are sent (`generateTestWebhook`) and where they may go.
    pub webhooks: delivery::Delivery,
    /// The read replica, if any (`FATHOM_READ_REPLICA_URL`).
    pub replica: Option<std::sync::Arc<crate::replica::Replica>>,
}

/// Request data: this request carries a mutation, so every read of it goes to the primary.
pub struct PrimaryOnly;

/// The connection for a read that may be served by the replica (the report): the replica when
/// there is one, it is usable, and the request carries no mutation; else the primary.
pub async fn reader<'a>(ctx: &ResolverContext<'a>) -> &'a DatabaseConnection {
    let state = ctx.ctx.data_unchecked::<State>();
    match &state.replica {
        Some(replica) if ctx.ctx.data_opt::<PrimaryOnly>().is_none() => {
            replica.reader(&state.db).await
        }
        _ => &state.db,
    }
}

/// A read that may be served by the replica: `$read` (an expression that awaits a
/// `Result<_, AppError>` and uses `$db`) runs on the connection [`reader`] chooses. When that
/// was the replica and the read failed there because the replica could not serve it
/// (`UNAVAILABLE`: it stopped, restarted, or refused connections since its last check), it runs
/// again on the primary, in the same request ([`primary_after`]): the client never sees the
/// replica's failure.
macro_rules! read_maybe_replica {
    ($ctx:expr, |$db:ident| $read:expr) => {{
        let $db = $crate::graphql::execution::resolver::reader($ctx).await;
        match $read {
            Err(err) => {
                match $crate::graphql::execution::resolver::primary_after($ctx, $db, &err) {
                    Some($db) => $read,
                    None => Err(err),
                }
            }
            answer => answer,
        }
    }};
}
pub(crate) use read_maybe_replica;

/// After a read on `db` failed with `err`: the primary, to read again from, when `db` was the
/// replica and it could not serve the read (counted in `fathom_replica_fallbacks_total`; the
/// replica counts as down until its next check); `None` otherwise.
pub fn primary_after<'a>(
    ctx: &ResolverContext<'a>,
    db: &DatabaseConnection,
    err: &AppError,
) -> Option<&'a DatabaseConnection> {
    let state = ctx.ctx.data_unchecked::<State>();
    match (&state.replica, err) {
        (Some(replica), AppError::Unavailable(_)) if replica.is_replica(db) => {
            replica.failed(err);
            Some(&state.db)
        }
        _ => None,
    }
}

/// What a failed field leaves for async-graphql once [`field`] has reported the real error
/// (with its path): [`propagate`](crate::graphql::execution::propagate) removes it and puts the `null`s where GraphQL says.
pub const FIELD_FAILED: &str = "\u{0}field failed";

/// A field of the schema: `Field::new`, with the resolver's error reported the way GraphQL
/// requires (with `path` and `locations`). async-graphql's dynamic schema would drop the
/// field from its object and the path from the error; this reports the error through the
/// context, with both, and [`propagate::apply`](crate::graphql::execution::propagate::apply) then makes the field `null` (or the nearest
/// nullable ancestor, when the field is non-null).
pub fn field<F>(name: impl Into<String>, ty: impl Into<TypeRef>, resolver: F) -> Field
where
    F: for<'a> Fn(ResolverContext<'a>) -> FieldFuture<'a> + Send + Sync + 'static,
{
    Field::new(name, ty, move |ctx| {
        let context = ctx.ctx;
        match resolver(ctx) {
            FieldFuture::Value(value) => FieldFuture::Value(value),
            FieldFuture::Future(future) => FieldFuture::Future(Box::pin(async move {
                future.await.map_err(|err| {
                    context
                        .add_error(context.set_error_path(err.into_server_error(context.item.pos)));
                    async_graphql::Error::new(FIELD_FAILED)
                })
            })),
        }
    })
}

pub fn gql(err: AppError) -> async_graphql::Error {
    errors::IntoGraphql::into_graphql(err)
}

pub fn db<'a>(ctx: &ResolverContext<'a>) -> &'a DatabaseConnection {
    &ctx.ctx.data_unchecked::<State>().db
}

/// The caller, if the request carries a valid token (the HTTP layer guarantees it does).
pub fn caller<'a>(ctx: &ResolverContext<'a>) -> async_graphql::Result<&'a CurrentUser> {
    ctx.ctx.data_opt::<CurrentUser>().ok_or_else(|| {
        gql(AppError::Unauthenticated(
            "a personal access token is required".into(),
        ))
    })
}

/// The caller, if their role grants `permission`; `FORBIDDEN` naming it otherwise.
pub fn require<'a>(
    ctx: &ResolverContext<'a>,
    permission: Permission,
) -> async_graphql::Result<&'a CurrentUser> {
    let user = caller(ctx)?;
    user.require(permission).map_err(gql)?;
    Ok(user)
}

/// Like [`require`], as an [`AppError`] (for resolvers written against the service layer).
pub fn allowed<'a>(
    ctx: &ResolverContext<'a>,
    permission: Permission,
) -> Result<&'a CurrentUser, AppError> {
    let user = ctx
        .ctx
        .data_opt::<CurrentUser>()
        .ok_or_else(|| AppError::Unauthenticated("a personal access token is required".into()))?;
    user.require(permission)?;
    Ok(user)
}

/// What a mutation that returns no record answers (Sonar's `SuccessResponse`).
pub struct SuccessResponse {
    pub success: bool,
    pub message: Option<String>,
}
