//! fathom: a GraphQL API server for the account lifecycle of internet service providers,
//! mirroring the schema of Sonar's v2 API.
//!
//! This crate is the server: HTTP ([`app`], [`http`]), GraphQL ([`graphql`]), the command
//! line ([`cli`]), configuration, the background worker and metrics. The domain, entities and
//! services live in the `fathom-core` crate (`crates/core`), which knows nothing of GraphQL or
//! HTTP; its modules are re-exported here under their own names.
//!
//! A request walks: router ([`app`]) → authentication ([`auth`], [`service::access::tokens`]) →
//! resolver ([`graphql`]) → service ([`service`], one transaction) → entities ([`entity`]) →
//! database, and back. ARCHITECTURE.md draws the whole map.

pub use fathom_core::{
    auth, db, domain, entity, error, rate_limit, replica, service, sonar_enums, tooling,
};

pub mod app;
pub mod cli;
pub mod config;
pub mod graphql;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod pages;
pub mod worker;
