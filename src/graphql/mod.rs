//! The GraphQL layer: Sonar-shaped types, inputs, scalars and enums, and thin resolvers.
//!
//! Resolvers check the permission, convert input, call one service function and convert its
//! result. They never write SQL and never let a database error through: every error leaves
//! here as an [`AppError`] with its `extensions.code`.
//!
//! The schema is built at start-up from descriptions ([`defs`]) rather than one Rust type per
//! GraphQL type, so that every collection shares one mechanism ([`args`], [`loader`]).

pub mod args;
pub mod billing_defs;
pub mod coercion;
pub mod compiled;
pub mod complexity;
pub mod defs;
pub mod disconnect;
pub mod entity_def;
pub mod enums;
pub mod errors;
pub mod extra_fields;
pub mod guard;
pub mod idempotent;
pub mod inputs;
pub mod loader;
pub mod mutations;
pub mod objects;
pub mod propagate;
pub mod queries;
pub mod report;
pub mod scalars;
pub mod webhook_defs;
pub mod webhooks;

use async_graphql::dynamic::{Field, FieldFuture, ResolverContext, Schema, SchemaError, TypeRef};
use sea_orm::DatabaseConnection;

use crate::auth::{CurrentUser, Permission};
use crate::config::Limits;
use crate::error::AppError;
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

/// What a failed field leaves for async-graphql once [`field`] has reported the real error
/// (with its path): [`propagate`] removes it and puts the `null`s where GraphQL says.
pub const FIELD_FAILED: &str = "\u{0}field failed";

/// A field of the schema: `Field::new`, with the resolver's error reported the way GraphQL
/// requires (with `path` and `locations`). async-graphql's dynamic schema would drop the
/// field from its object and the path from the error; this reports the error through the
/// context, with both, and [`propagate::apply`] then makes the field `null` (or the nearest
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

/// Builds the schema. Depth and complexity are checked before a request reaches it
/// ([`guard`]); the schema itself limits directives, and fragment nesting as a backstop.
pub fn build_schema(db: DatabaseConnection, limits: &Limits) -> Result<Schema, SchemaError> {
    schema_builder(db, limits, None).finish()
}

/// Like [`build_schema`], with a read replica for the reads that may use one.
pub fn build_schema_with_replica(
    db: DatabaseConnection,
    limits: &Limits,
    replica: Option<std::sync::Arc<crate::replica::Replica>>,
) -> Result<Schema, SchemaError> {
    schema_builder(db, limits, replica).finish()
}

/// The same schema, that validates a request and executes nothing: the compiled read path
/// ([`compiled`]) runs a query only once async-graphql has found it valid here, with the very
/// rules (and messages) the general path applies.
pub fn build_validator(db: DatabaseConnection, limits: &Limits) -> Result<Schema, SchemaError> {
    schema_builder(db, limits, None)
        .extension(compiled::ValidateOnly)
        .finish()
}

fn schema_builder(
    db: DatabaseConnection,
    limits: &Limits,
    replica: Option<std::sync::Arc<crate::replica::Replica>>,
) -> async_graphql::dynamic::SchemaBuilder {
    let mut builder = Schema::build("Query", Some("Mutation"), None);
    for scalar in scalars::scalars() {
        builder = builder.register(scalar);
    }
    for e in enums::enums() {
        builder = builder.register(e);
    }
    for input in args::input_types() {
        builder = builder.register(input);
    }
    for input in inputs::input_types() {
        builder = builder.register(input);
    }
    for def in defs::all() {
        builder = builder.register(objects::object_type(def));
        if !def.plural.is_empty() {
            builder = builder.register(objects::connection_type(def));
        }
    }
    for ty in report::types() {
        builder = builder.register(ty);
    }
    for ty in disconnect::types() {
        builder = builder.register(ty);
    }
    for ty in queries::extra_types() {
        builder = builder.register(ty);
    }
    for ty in webhooks::types() {
        builder = builder.register(ty);
    }
    builder = builder
        .register(objects::page_info_type())
        .register(extra_fields::recurring_service_detail_type())
        .register(objects::transaction_interface())
        .register(queries::query_type())
        .register(mutations::mutation_type())
        .data(State {
            db,
            webhooks: delivery::Delivery::new(limits.webhooks.policy())
                .expect("the webhook HTTP client"),
            replica,
        })
        .limit_recursive_depth(guard::MAX_NESTING)
        .limit_directives(limits.max_directives);
    builder
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
