//! Webhooks: the endpoints operators register and the events they subscribe to
//! ([`endpoints`]), and delivering the dispatches the outbox ([`super::base::outbox`]) queued
//! ([`delivery`]).
//!
//! May call: [`super::base`].

pub mod delivery;
pub mod endpoints;
