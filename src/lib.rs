//! fathom: a GraphQL API server for the account lifecycle of internet service providers,
//! mirroring the schema of Sonar's v2 API.
//!
//! A request walks: router ([`app`]) → authentication ([`auth`]) → resolver ([`graphql`]) →
//! service ([`service`], one transaction) → entities ([`entity`]) → database, and back.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod entity;
pub mod error;
pub mod graphiql;
pub mod graphql;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod rate_limit;
pub mod replica;
pub mod service;
pub mod sonar_enums;
pub mod worker;
