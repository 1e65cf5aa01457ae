//! The instance's configuration as operators change it: system and billing settings
//! ([`settings`]), account statuses and account types ([`catalog`]), the billing defaults that
//! rule delinquency ([`billing_defaults`]), the dates when nobody is cut off for non-payment
//! ([`delinquency_exclusions`]), the reasons a disconnection gives ([`disconnection_reasons`]).
//!
//! May call: [`super::base`], [`super::billing`] (invoices marked delinquent again when the
//! minimum amount due changes).

pub mod billing_defaults;
pub mod catalog;
pub mod delinquency_exclusions;
pub mod disconnection_reasons;
pub mod settings;
