//! Money: services and what an account subscribes to ([`services`]), debits, one-time
//! transactions and credits ([`transactions`]), invoices and applying credits and payments to
//! them ([`invoicing`]), payments and their reversals ([`payments`]), proration
//! ([`proration`]), the billing pass ([`pass`]), billing an account that comes back
//! ([`reactivation`]), and which invoices and accounts are delinquent ([`delinquency`]).
//!
//! May call: [`super::base`].

pub mod delinquency;
pub mod invoicing;
pub mod pass;
pub mod payments;
pub mod proration;
pub mod reactivation;
pub mod services;
pub mod transactions;
