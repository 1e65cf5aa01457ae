//! Entity for the `delinquency_passes` table: one row per date whose delinquency pass completed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "delinquency_passes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The local date the pass was for.
    pub date: Date,
    /// How many passes for this date completed.
    pub runs: i32,
    /// The last completed run's start and end.
    pub started_at: DateTimeUtc,
    pub finished_at: DateTimeUtc,
    /// Whether the date was a check day and not excluded: statuses were switched and accounts
    /// disconnected (otherwise invoices and accounts were only marked).
    pub acted: bool,
    /// What the last completed run did.
    pub accounts_switched: i64,
    pub accounts_restored: i64,
    pub accounts_disconnected: i64,
    pub accounts_failed: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
