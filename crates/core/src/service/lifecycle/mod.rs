//! An account's life: creating and changing accounts ([`accounts`]), their contacts
//! ([`contacts`], [`phone_numbers`]) and addresses ([`addresses`]), parent and child accounts
//! ([`hierarchy`]), disconnecting one ([`disconnect`]), and the events scheduled for a date
//! and time, run by the worker ([`scheduled`]).
//!
//! May call: [`super::base`], [`super::billing`] (what a change of status or a disconnection
//! bills or credits).

pub mod accounts;
pub mod addresses;
pub mod contacts;
pub mod disconnect;
pub mod hierarchy;
pub mod phone_numbers;
pub mod scheduled;
