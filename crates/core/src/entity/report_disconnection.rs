//! Entity for the `report_disconnections` view (read-only): one row per disconnection log.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "report_disconnections")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub disconnection_log_id: i64,
    pub account_id: i64,
    pub account_name: String,
    pub account_type_id: i64,
    pub company_id: i64,
    pub disconnected_at: DateTimeUtc,
    pub disconnected_by_user_id: i64,
    #[sea_orm(column_type = "Text")]
    pub serviceable_address_reference_record: Option<String>,
    pub final_invoice_id: Option<i64>,
    pub final_invoice_total: Option<i64>,
    pub credit_total: i64,
    pub scheduled: bool,
    pub disconnection_reason_id: Option<i64>,
    /// The reason's `voluntary`; `None` without a reason.
    pub voluntary: Option<bool>,
    pub for_non_payment: bool,
    #[sea_orm(column_type = "Text")]
    pub comment: Option<String>,
    /// What the account's recurring services came to per month when it left (lost MRR).
    pub monthly_recurring_amount: i64,
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
