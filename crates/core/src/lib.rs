//! fathom's core: the domain rules, the database entities and the service layer, with no
//! knowledge of GraphQL or HTTP (the `fathom` crate serves them).
//!
//! [`service`] holds every business rule, one function per operation, each one transaction;
//! [`entity`] is one sea-orm entity per table; [`db`] connects, migrates and opens write
//! transactions; [`error::AppError`] is the one error type, each variant naming the
//! `extensions.code` a client sees; [`auth`] is tokens and permissions; [`domain`] the small
//! value rules and the closed sets of stored values; [`rate_limit`] and [`replica`] the parts
//! shared between several servers over one database.

pub mod auth;
pub mod db;
pub mod domain;
pub mod entity;
pub mod error;
pub mod rate_limit;
pub mod replica;
pub mod service;
pub mod sonar_enums;
pub mod tooling;
