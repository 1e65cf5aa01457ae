//! The query engine, which is not a business rule: listing a table with its filters, sorts and
//! pages ([`collection`]) under filter rules described once for both read paths ([`filter`]),
//! compiling a whole GraphQL selection into one SQL statement
//! ([`selection`]), and the Activations & Disconnections report ([`report`]).
//!
//! May call: [`super::base`], [`super::access`] (the token check a compiled read carries).

pub mod collection;
pub mod filter;
pub mod report;
pub mod selection;
