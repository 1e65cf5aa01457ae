//! An account's life: creating and changing accounts ([`accounts`]), their contacts
//! ([`contacts`], [`phone_numbers`]) and addresses ([`addresses`]), parent and child accounts
//! ([`hierarchy`]), disconnecting one ([`disconnect`]) or many ([`disconnection_runs`]), the events scheduled for a date
//! and time, run by the worker ([`scheduled`]), and the delinquency pass that switches and
//! disconnects accounts that do not pay ([`delinquency`]), and what all of these would do to
//! an account in the days ahead ([`forecast`]).
//!
//! May call: [`super::base`], [`super::billing`] (what a change of status or a disconnection
//! bills or credits), [`super::configuration`] (the dates nobody is cut off), [`super::read`]
//! (a disconnection run selects accounts as the `accounts` query does).

pub mod accounts;
pub mod addresses;
pub mod contacts;
pub mod delinquency;
pub mod disconnect;
pub mod disconnection_runs;
pub mod forecast;
pub mod hierarchy;
pub mod phone_numbers;
pub mod scheduled;
