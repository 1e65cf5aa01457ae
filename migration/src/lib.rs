//! Database migrations for fathom.
//!
//! The schema is portable across SQLite and PostgreSQL: statements are built with the
//! sea-query schema builder, except where raw SQL is clearer and valid on both databases
//! (partial indexes, the report views, the settings generation row, data changes such as a
//! role's new permission), and the triggers that refuse deleting history (one dialect each).

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_data_model;
mod m20261122_000002_forbid_history_deletes;
mod m20261122_000003_add_account_billing_day;
mod m20261122_000004_create_report_views;
mod m20261129_000005_create_idempotency_keys;
mod m20261129_000006_add_read_indexes;
mod m20261129_000007_create_settings_generations;
mod m20261129_000008_create_webhooks;
mod m20261129_000009_create_rate_limit_buckets;
mod m20261129_000010_billing_manages_webhooks;
mod m20261129_000011_create_phone_numbers;
mod m20261206_000012_rebill_reactivations;
mod m20261206_000013_create_payments;
mod m20261206_000014_create_delinquency_exclusions;
mod m20261206_000015_delinquency;
mod m20261207_000016_disconnection_reasons;
mod m20261207_000017_disconnection_runs;
pub mod m20261207_000018_maintained_counts;
mod m20261207_000019_sqlite_win_back_trigger;
mod m20261207_000020_relation_order_indexes;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_data_model::Migration),
            Box::new(m20261122_000002_forbid_history_deletes::Migration),
            Box::new(m20261122_000003_add_account_billing_day::Migration),
            Box::new(m20261122_000004_create_report_views::Migration),
            Box::new(m20261129_000005_create_idempotency_keys::Migration),
            Box::new(m20261129_000006_add_read_indexes::Migration),
            Box::new(m20261129_000007_create_settings_generations::Migration),
            Box::new(m20261129_000008_create_webhooks::Migration),
            Box::new(m20261129_000009_create_rate_limit_buckets::Migration),
            Box::new(m20261129_000010_billing_manages_webhooks::Migration),
            Box::new(m20261129_000011_create_phone_numbers::Migration),
            Box::new(m20261206_000012_rebill_reactivations::Migration),
            Box::new(m20261206_000013_create_payments::Migration),
            Box::new(m20261206_000014_create_delinquency_exclusions::Migration),
            Box::new(m20261206_000015_delinquency::Migration),
            Box::new(m20261207_000016_disconnection_reasons::Migration),
            Box::new(m20261207_000017_disconnection_runs::Migration),
            Box::new(m20261207_000018_maintained_counts::Migration),
            Box::new(m20261207_000019_sqlite_win_back_trigger::Migration),
            Box::new(m20261207_000020_relation_order_indexes::Migration),
        ]
    }
}
