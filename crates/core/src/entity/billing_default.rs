//! Entity for the `billing_defaults` table (Sonar's `BillingDefault`, its delinquency fields).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "billing_defaults")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// The account type it is for; `None`: any type without one of its own.
    pub account_type_id: Option<i64>,
    /// Whether it applies to accounts whose type has no billing default (at most one has).
    pub default: bool,
    /// Days after an invoice's due date before it is delinquent.
    pub grace_days: i32,
    pub switch_status_after_delinquency: bool,
    pub days_of_delinquency_for_status_switch: Option<i32>,
    pub delinquency_account_status_id: Option<i64>,
    pub delinquency_removal_account_status_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::account_type::Entity",
        from = "Column::AccountTypeId",
        to = "super::account_type::Column::Id"
    )]
    AccountType,
    #[sea_orm(
        belongs_to = "super::account_status::Entity",
        from = "Column::DelinquencyAccountStatusId",
        to = "super::account_status::Column::Id"
    )]
    DelinquencyAccountStatus,
    #[sea_orm(
        belongs_to = "super::account_status::Entity",
        from = "Column::DelinquencyRemovalAccountStatusId",
        to = "super::account_status::Column::Id"
    )]
    DelinquencyRemovalAccountStatus,
}

impl ActiveModelBehavior for ActiveModel {}
