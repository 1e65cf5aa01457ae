//! The schema: Sonar-shaped types, inputs, scalars and enums, built at start-up from
//! descriptions ([`defs`], [`billing_defs`], [`webhook_defs`], through [`entity_def`]) rather
//! than one Rust type per GraphQL type, so that every collection shares one mechanism
//! ([`args`], [`objects`]); the root types ([`queries`], [`mutations`]) and the types that are
//! not generic ([`disconnect`], [`report`], [`webhooks`], [`extra_fields`]).
//!
//! Resolvers check the permission, convert input, call one service function and convert its
//! result. They never write SQL and never let a database error through: every error leaves
//! as an `AppError` with its `extensions.code`.

pub mod args;
pub mod billing_defs;
pub mod defs;
pub mod disconnect;
pub mod disconnection_runs;
pub mod entity_def;
pub mod enums;
pub mod extra_fields;
pub mod forecast;
pub mod inputs;
pub mod mutations;
pub mod objects;
pub mod payments;
pub mod queries;
pub mod report;
pub mod scalars;
pub mod webhook_defs;
pub mod webhooks;

use async_graphql::dynamic::{Schema, SchemaError};
use sea_orm::DatabaseConnection;

use crate::config::Limits;
use crate::graphql::execution::{compiled, guard, resolver::State};
use crate::service::webhooks::delivery;

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
    for ty in disconnection_runs::types() {
        builder = builder.register(ty);
    }
    for ty in forecast::types() {
        builder = builder.register(ty);
    }
    for ty in queries::extra_types() {
        builder = builder.register(ty);
    }
    for ty in webhooks::types() {
        builder = builder.register(ty);
    }
    for ty in payments::types() {
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
