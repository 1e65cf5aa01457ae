//! Money: services and what an account subscribes to ([`services`]), debits, one-time
//! transactions and credits ([`transactions`]), invoices and applying credits to them
//! ([`invoicing`]), proration ([`proration`]), the billing pass ([`pass`]), and billing an
//! account that comes back ([`reactivation`]).
//!
//! May call: [`super::base`].

pub mod invoicing;
pub mod pass;
pub mod proration;
pub mod reactivation;
pub mod services;
pub mod transactions;
