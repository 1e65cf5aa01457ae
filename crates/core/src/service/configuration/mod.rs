//! The instance's configuration as operators change it: system and billing settings
//! ([`settings`]), account statuses and account types ([`catalog`]), the dates when nobody is
//! cut off for non-payment ([`delinquency_exclusions`]).
//!
//! May call: [`super::base`].

pub mod catalog;
pub mod delinquency_exclusions;
pub mod settings;
