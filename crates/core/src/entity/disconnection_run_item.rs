//! Entity for the `disconnection_run_items` table: one account of a disconnection run and
//! what became of it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "disconnection_run_items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub disconnection_run_id: i64,
    pub account_id: i64,
    /// `PENDING`, `DONE`, `FAILED`, `CANCELLED`.
    pub status: String,
    /// Why it failed: the `extensions.code` `disconnectAccount` would have answered.
    pub error_code: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub error_message: Option<String>,
    pub finished_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::disconnection_run::Entity",
        from = "Column::DisconnectionRunId",
        to = "super::disconnection_run::Column::Id"
    )]
    DisconnectionRun,
    #[sea_orm(
        belongs_to = "super::account::Entity",
        from = "Column::AccountId",
        to = "super::account::Column::Id"
    )]
    Account,
}

impl ActiveModelBehavior for ActiveModel {}
