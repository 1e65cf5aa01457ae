//! The instance's configuration as operators change it: system and billing settings
//! ([`settings`]), account statuses and account types ([`catalog`]).
//!
//! May call: [`super::base`].

pub mod catalog;
pub mod settings;
