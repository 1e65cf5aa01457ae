//! How a request is carried out, beside and around async-graphql's executor: the checks before
//! it runs ([`guard`], [`complexity`], [`coercion`]), the compiled read path that answers a
//! query in one SQL statement ([`compiled`]), what resolvers work with ([`resolver`]), relations
//! loaded in batches ([`loader`]), mutation fields under an idempotency key ([`idempotent`]),
//! and the errors clients see ([`errors`]) with GraphQL's null propagation ([`propagate`]).

pub mod coercion;
pub mod compiled;
pub mod complexity;
pub mod errors;
pub mod guard;
pub mod idempotent;
pub mod loader;
pub mod propagate;
pub mod resolver;
