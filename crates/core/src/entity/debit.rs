//! Entity for the `debits` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "debits")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: i64,
    pub company_id: i64,
    pub service_id: i64,
    pub account_service_id: Option<i64>,
    pub invoice_id: Option<i64>,
    pub amount: i64,
    pub quantity: i32,
    pub description: Option<String>,
    pub service_name: String,
    pub r#type: String,
    pub number_of_months: i32,
    pub prorated_from: Option<Date>,
    pub prorated_to: Option<Date>,
    pub quantity_prorated_from: Option<i32>,
    pub quantity_prorated_to: Option<i32>,
    pub reversed: bool,
    pub reversed_at: Option<DateTimeUtc>,
    pub reversed_by_user_id: Option<i64>,
    pub user_id: Option<i64>,
    pub linked_debit_id: Option<i64>,
    pub general_ledger_code: Option<String>,
    pub general_ledger_code_description: Option<String>,
    pub minutes: Option<f64>,
    pub service_transaction_type: Option<String>,
    pub voice_service_generic_parameter_id: Option<i64>,
    /// fathom's: the `ACTIVATED` account event whose reactivation charged this debit (the days
    /// of a billed period that the reactivation brought back into service).
    pub reactivation_account_event_id: Option<i64>,
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
        belongs_to = "super::service::Entity",
        from = "Column::ServiceId",
        to = "super::service::Column::Id"
    )]
    Service,
    #[sea_orm(
        belongs_to = "super::invoice::Entity",
        from = "Column::InvoiceId",
        to = "super::invoice::Column::Id"
    )]
    Invoice,
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id"
    )]
    User,
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::ReversedByUserId",
        to = "super::user::Column::Id"
    )]
    ReversedByUser,
    #[sea_orm(
        belongs_to = "Entity",
        from = "Column::LinkedDebitId",
        to = "Column::Id"
    )]
    LinkedDebit,
}

impl ActiveModelBehavior for ActiveModel {}
