//! Entity for the `payments` table (Sonar's `Payment`). `reversed` is fathom's: the payment was
//! reversed or voided (its row of `reversed_payments` or `voided_payments` says which).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: i64,
    pub company_id: i64,
    pub amount: i64,
    pub amount_remaining: i64,
    pub payment_type: String,
    pub payment_datetime: DateTimeUtc,
    pub reference: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    pub payment_tracker_id: Option<String>,
    pub transaction_id: Option<String>,
    pub status: String,
    pub successful: bool,
    pub reversed: bool,
    pub user_id: Option<i64>,
    pub bank_account_id: Option<i64>,
    pub credit_card_id: Option<i64>,
    pub deposit_slip_id: Option<i64>,
    pub creation_token: Option<String>,
    pub fee: Option<i64>,
    pub fractional_fee: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub full_processor_response: Option<String>,
    pub is_autopay: Option<bool>,
    pub passed_3ds_check: Option<bool>,
    pub passed_avs_check: Option<bool>,
    pub passed_cvv_check: Option<bool>,
    pub processor_message: Option<String>,
    pub processor_status: Option<String>,
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
        belongs_to = "super::company::Entity",
        from = "Column::CompanyId",
        to = "super::company::Column::Id"
    )]
    Company,
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id"
    )]
    User,
}

impl ActiveModelBehavior for ActiveModel {}
