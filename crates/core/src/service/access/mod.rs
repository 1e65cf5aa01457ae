//! Who may do what: users and their roles ([`users`]), personal access tokens and
//! authenticating a request with one ([`tokens`]).
//!
//! May call: [`super::base`].

pub mod tokens;
pub mod users;
