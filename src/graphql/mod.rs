//! The GraphQL layer, in two: the schema ([`schema`]: what clients can ask, described once) and
//! its execution ([`execution`]: how a request is checked, run, and answered).

pub mod execution;
pub mod schema;
