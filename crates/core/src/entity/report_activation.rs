//! Entity for the `report_activations` view (read-only): one row per `ACTIVATED` event.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "report_activations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_event_id: i64,
    pub account_id: i64,
    pub account_name: String,
    pub account_type_id: i64,
    pub account_status_id: i64,
    pub company_id: i64,
    pub activated_at: DateTimeUtc,
    pub reactivation: bool,
    /// Whether the account had been disconnected before (a win-back).
    pub win_back: bool,
    pub serviceable_address_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::account::Entity",
        from = "Column::AccountId",
        to = "super::account::Column::Id"
    )]
    Account,
}

impl ActiveModelBehavior for ActiveModel {}
