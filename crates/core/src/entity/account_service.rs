//! Entity for the `account_services` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "account_services")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: i64,
    pub service_id: i64,
    pub quantity: i32,
    pub price_override: Option<i64>,
    pub price_override_reason: Option<String>,
    pub name_override: Option<String>,
    pub next_bill_date: Option<Date>,
    pub addition_prorate_date: Option<Date>,
    pub data_usage_last_calculated_date: Option<Date>,
    pub number_of_times_billed: i32,
    pub package_id: Option<i64>,
    pub unique_package_relationship_id: Option<String>,
    pub removed_at: Option<DateTimeUtc>,
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
        belongs_to = "super::service::Entity",
        from = "Column::ServiceId",
        to = "super::service::Column::Id"
    )]
    Service,
}

impl ActiveModelBehavior for ActiveModel {}
