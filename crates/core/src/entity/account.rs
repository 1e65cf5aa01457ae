//! Entity for the `accounts` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub account_status_id: i64,
    pub account_type_id: i64,
    pub company_id: i64,
    pub parent_account_id: Option<i64>,
    pub activation_date: Option<Date>,
    pub activation_time: Option<String>,
    pub next_bill_date: Option<Date>,
    pub archived_at: Option<DateTimeUtc>,
    pub archived_by_user_id: Option<i64>,
    pub is_delinquent: bool,
    pub is_eligible_for_archive: Option<bool>,
    pub data_usage_percentage: Option<i32>,
    pub geopoint: Option<String>,
    pub next_recurring_charge_amount: Option<i64>,
    /// The day of the month billing cycles fall on (see the migration that added it).
    pub billing_day: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::account_status::Entity",
        from = "Column::AccountStatusId",
        to = "super::account_status::Column::Id"
    )]
    AccountStatus,
    #[sea_orm(
        belongs_to = "super::account_type::Entity",
        from = "Column::AccountTypeId",
        to = "super::account_type::Column::Id"
    )]
    AccountType,
    #[sea_orm(
        belongs_to = "Entity",
        from = "Column::ParentAccountId",
        to = "Column::Id"
    )]
    ParentAccount,
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::ArchivedByUserId",
        to = "super::user::Column::Id"
    )]
    ArchivedByUser,
    #[sea_orm(
        belongs_to = "super::company::Entity",
        from = "Column::CompanyId",
        to = "super::company::Column::Id"
    )]
    Company,
}

impl ActiveModelBehavior for ActiveModel {}
