//! The business of fathom, by capability. Each folder says what it owns and what it may call:
//! [`base`] (what every capability builds on), [`configuration`], [`access`], [`billing`],
//! [`lifecycle`], [`webhooks`], and [`read`] (the query engine). [`inputs`] lists every mutation
//! input type for the schema.
//!
//! Rules of this layer: no async-graphql types; functions take `&impl ConnectionTrait` so the
//! caller can pass a transaction, and the function that writes more than once owns its
//! transaction (begin, pass `&txn` down, commit). Every change writes its audit row
//! ([`base::audit`]) in the same transaction, and bumps the row's `version` with a
//! compare-and-set ([`base::store::save`]), so two concurrent writers of one row cannot both
//! succeed. No module here calls the tooling ([`crate::tooling`]).

pub mod access;
pub mod base;
pub mod billing;
pub mod configuration;
pub mod inputs;
pub mod lifecycle;
pub mod read;
pub mod webhooks;
