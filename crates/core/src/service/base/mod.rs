//! What every capability builds on, and which calls none of them: transactions and rows
//! ([`store`]), the clock ([`clock`]), input values and their checks ([`values`]), declared
//! mutation inputs ([`input`]), the settings as read ([`settings`]), the account lock
//! ([`account_guard`]) and its event log ([`account_events`]), the audit trail ([`audit`])
//! with the webhook outbox it fills in the same transaction ([`outbox`]), idempotency keys
//! ([`idempotency`]), composing several SQL statements into one ([`compose`]), and folding the
//! kept counts' shards ([`kept_counts`]).
//!
//! May call: nothing else in `service`.

pub mod account_events;
pub mod account_guard;
pub mod audit;
pub mod clock;
pub mod compose;
pub mod idempotency;
pub mod input;
pub mod kept_counts;
pub mod outbox;
pub mod settings;
pub mod store;
pub mod values;
