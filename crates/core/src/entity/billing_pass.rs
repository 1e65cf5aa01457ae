//! Entity for the `billing_passes` table: one row per billing date whose pass completed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "billing_passes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The local date billed through.
    pub date: Date,
    /// How many passes for this date completed.
    pub runs: i32,
    /// The last completed run's start and end.
    pub started_at: DateTimeUtc,
    pub finished_at: DateTimeUtc,
    /// What the last completed run did.
    pub accounts_billed: i64,
    pub debits_created: i64,
    pub invoices_created: i64,
    /// Accounts the last completed run could not bill.
    pub accounts_failed: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
