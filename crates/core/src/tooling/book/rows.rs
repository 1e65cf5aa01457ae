//! The rows of one chunk of the book, table by table, held as the entities' own models (so the
//! audit rows can carry the same JSON the mutations write) with ids the generator assigned.
//!
//! Every table's rows in a chunk have consecutive ids, from the chunk's base for that table, in
//! the order they were made; so a row's position in its vector is `id - base`, and a later event
//! of the simulation (an invoice taking a debit, a disconnection releasing an address) finds
//! and changes it in place. The writer sends each table once per chunk, in [`TABLES`] order,
//! which is the order of the foreign keys.

use sea_orm::{EntityTrait, IdenStatic, Iterable, ModelTrait, Value};

use crate::entity::{
    account, account_event, account_service, address, contact, debit, disconnection_log, discount,
    invoice, invoice_discount_application as application,
    invoice_payment_application as payment_application, log, payment, scheduled_event,
    serviceable_address_account_assignment_history as history,
};

/// How many tables the seeder writes.
pub const N_TABLES: usize = 15;

/// The tables the seeder writes, in the order it writes them: every foreign key points to a
/// table earlier in the list (or to a lower id of the same table, for parent accounts).
pub const TABLES: [&str; N_TABLES] = [
    "accounts",
    "addresses",
    "serviceable_address_account_assignment_histories",
    "contacts",
    "account_services",
    "scheduled_events",
    "invoices",
    "debits",
    "discounts",
    "invoice_discount_applications",
    "disconnection_logs",
    "account_events",
    "logs",
    "payments",
    "invoice_payment_applications",
];

/// The first id of each table (in [`TABLES`] order) for the next chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bases(pub [i64; N_TABLES]);

#[derive(Debug, Default)]
pub struct Chunk {
    pub bases: [i64; N_TABLES],
    /// How many accounts of the book this chunk holds.
    pub book_accounts: u64,
    pub accounts: Vec<account::Model>,
    pub addresses: Vec<address::Model>,
    pub histories: Vec<history::Model>,
    pub contacts: Vec<contact::Model>,
    pub account_services: Vec<account_service::Model>,
    pub scheduled_events: Vec<scheduled_event::Model>,
    pub invoices: Vec<invoice::Model>,
    pub debits: Vec<debit::Model>,
    pub discounts: Vec<discount::Model>,
    pub applications: Vec<application::Model>,
    pub disconnection_logs: Vec<disconnection_log::Model>,
    pub account_events: Vec<account_event::Model>,
    pub logs: Vec<log::Model>,
    pub payments: Vec<payment::Model>,
    pub payment_applications: Vec<payment_application::Model>,
}

/// Positions in [`TABLES`].
pub mod t {
    pub const ACCOUNTS: usize = 0;
    pub const ADDRESSES: usize = 1;
    pub const HISTORIES: usize = 2;
    pub const CONTACTS: usize = 3;
    pub const ACCOUNT_SERVICES: usize = 4;
    pub const SCHEDULED_EVENTS: usize = 5;
    pub const INVOICES: usize = 6;
    pub const DEBITS: usize = 7;
    pub const DISCOUNTS: usize = 8;
    pub const APPLICATIONS: usize = 9;
    pub const DISCONNECTION_LOGS: usize = 10;
    pub const ACCOUNT_EVENTS: usize = 11;
    pub const LOGS: usize = 12;
    pub const PAYMENTS: usize = 13;
    pub const PAYMENT_APPLICATIONS: usize = 14;
}

impl Chunk {
    pub fn new(bases: Bases) -> Chunk {
        Chunk {
            bases: bases.0,
            ..Default::default()
        }
    }

    /// The id the next row of `table` gets.
    pub fn next_id(&self, table: usize) -> i64 {
        self.bases[table] + self.counts()[table] as i64
    }

    /// Rows per table, in [`TABLES`] order.
    pub fn counts(&self) -> [usize; N_TABLES] {
        [
            self.accounts.len(),
            self.addresses.len(),
            self.histories.len(),
            self.contacts.len(),
            self.account_services.len(),
            self.scheduled_events.len(),
            self.invoices.len(),
            self.debits.len(),
            self.discounts.len(),
            self.applications.len(),
            self.disconnection_logs.len(),
            self.account_events.len(),
            self.logs.len(),
            self.payments.len(),
            self.payment_applications.len(),
        ]
    }

    /// Where the chunk after this one starts.
    pub fn next_bases(&self) -> Bases {
        let counts = self.counts();
        let mut next = self.bases;
        for (base, count) in next.iter_mut().zip(counts) {
            *base += count as i64;
        }
        Bases(next)
    }
}

/// The column names of `E`'s table, in the order of [`values`].
pub fn columns<E: EntityTrait>() -> Vec<&'static str> {
    E::Column::iter().map(|c| c.as_str()).collect()
}

/// A row's values, column by column, as the entity's model gives them: the same values (and so
/// the same encodings) sea-orm itself would bind.
pub fn values<M: ModelTrait>(model: &M) -> impl Iterator<Item = Value> + '_ {
    <M::Entity as EntityTrait>::Column::iter().map(move |c| model.get(c))
}
