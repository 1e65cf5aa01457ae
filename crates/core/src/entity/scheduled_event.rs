//! Entity for the `scheduled_events` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "scheduled_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: i64,
    pub event: String,
    pub datetime: DateTimeUtc,
    pub description: Option<String>,
    pub primary_event_object_id: Option<String>,
    pub amount: Option<i64>,
    pub prorate: Option<bool>,
    pub status: String,
    pub complete: bool,
    pub executed_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub result_message: Option<String>,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTimeUtc>,
    pub created_by_user_id: i64,
    /// A disconnection's reason and comment, recorded on its disconnection log.
    pub disconnection_reason_id: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub comment: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::account::Entity",
        from = "Column::AccountId",
        to = "super::account::Column::Id"
    )]
    Account,
    #[sea_orm(
        belongs_to = "super::disconnection_reason::Entity",
        from = "Column::DisconnectionReasonId",
        to = "super::disconnection_reason::Column::Id"
    )]
    DisconnectionReason,
}

impl ActiveModelBehavior for ActiveModel {}
