//! Entity for the `invoices` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "invoices")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: i64,
    pub company_id: i64,
    pub date: Date,
    pub due_date: Date,
    pub end_date: Date,
    pub total_debits: i64,
    pub remaining_due: i64,
    pub total_taxes: i64,
    pub child_invoice_remaining_due: i64,
    pub status: String,
    #[sea_orm(column_type = "Text")]
    pub message: Option<String>,
    pub number_of_months: i32,
    pub void: bool,
    pub voided_at: Option<DateTimeUtc>,
    pub frozen: bool,
    pub delinquent: bool,
    pub delinquency_date: Option<Date>,
    pub late_fee_applied: bool,
    pub late_fee_only: bool,
    pub pending_email: bool,
    pub tax_committed: bool,
    pub tax_provider_id: Option<i64>,
    pub auto_pay_attempts: i32,
    pub auto_pay_date: Option<Date>,
    pub invoice_template_version_id: Option<i64>,
    pub parent_invoice_id: Option<i64>,
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
        belongs_to = "Entity",
        from = "Column::ParentInvoiceId",
        to = "Column::Id"
    )]
    ParentInvoice,
}

impl ActiveModelBehavior for ActiveModel {}
