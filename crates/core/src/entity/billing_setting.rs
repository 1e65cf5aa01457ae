//! Entity for the `billing_settings` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "billing_settings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub disconnect_account_status_id: i64,
    pub unarchive_account_status_id: Option<i64>,
    pub prorate_services: bool,
    pub prorate_service_quantity: bool,
    pub prorate_account_status_change: bool,
    pub prorate_account_delinquency_status_change: Option<bool>,
    pub prorate_billing_day_change: bool,
    pub round_prorated_amounts: bool,
    pub daily_billing: bool,
    pub generate_invoice_on_initial_activation: bool,
    pub always_round_taxes_up: bool,
    pub apply_late_fees_to_child_invoices: bool,
    pub autopay_bank_account_retry_interval_in_days: i32,
    pub autopay_credit_card_retry_interval_in_days: i32,
    pub autopay_disconnect_invoice: Option<bool>,
    pub autopay_disconnect_invoice_days: Option<i32>,
    pub autopay_initial_invoice: Option<bool>,
    pub autopay_initial_invoice_days: Option<i32>,
    pub days_after_invoice_due_for_late_fee_application: Option<i32>,
    pub include_late_fee_invoices_in_printed_batches: bool,
    pub invoice_and_email_late_fees_immediately: bool,
    pub printed_invoice_batch_duplex: bool,
    pub printed_invoice_fee_service_id: Option<i64>,
    pub use_invoice_templates: bool,
    /// An invoice is delinquent only when more than this is left to pay (cents).
    pub minimum_amount_due_for_delinquency: i64,
    /// Days of delinquency, beyond its billing default's `days_of_delinquency_for_status_switch`,
    /// after which the delinquency pass disconnects an account (switched or not); `None`: never.
    pub delinquency_disconnect_days: Option<i32>,
    /// The user the delinquency pass's disconnections are recorded as.
    pub delinquency_user_id: Option<i64>,
    /// Whether every disconnection must give a reason.
    pub disconnection_reason_required: bool,
    /// The reason the delinquency pass's disconnections record.
    pub delinquency_disconnection_reason_id: Option<i64>,
    pub delinquency_check_day_monday: bool,
    pub delinquency_check_day_tuesday: bool,
    pub delinquency_check_day_wednesday: bool,
    pub delinquency_check_day_thursday: bool,
    pub delinquency_check_day_friday: bool,
    pub delinquency_check_day_saturday: bool,
    pub delinquency_check_day_sunday: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::account_status::Entity",
        from = "Column::DisconnectAccountStatusId",
        to = "super::account_status::Column::Id"
    )]
    DisconnectAccountStatus,
}

impl ActiveModelBehavior for ActiveModel {}
