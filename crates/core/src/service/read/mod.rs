//! The query engine, which is not a business rule: listing a table with its filters, sorts and
//! pages ([`collection`]) under filter rules described once for both read paths ([`filter`]),
//! compiling a whole GraphQL selection into one SQL statement
//! ([`selection`]), counts kept by the database ([`counts`]), and the Activations &
//! Disconnections report ([`report`]) over its kept tallies ([`tallies`]).
//!
//! May call: [`super::base`], [`super::access`] (the token check a compiled read carries).

pub mod collection;
pub mod counts;
pub mod filter;
pub mod report;
pub mod selection;
