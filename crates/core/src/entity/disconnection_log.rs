//! Entity for the `disconnection_logs` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "disconnection_logs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: i64,
    pub disconnected_at: DateTimeUtc,
    pub disconnected_by_user_id: i64,
    pub serviceable_address_id: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub serviceable_address_reference_record: Option<String>,
    pub final_invoice_id: Option<i64>,
    pub prorated: bool,
    pub proration_source: String,
    pub previous_account_status_id: i64,
    pub account_status_id: i64,
    pub scheduled_event_id: Option<i64>,
    /// The total of the proration credits the disconnection gave, in cents.
    pub credit_total: i64,
    /// Whether the delinquency pass disconnected the account for non-payment.
    pub for_non_payment: bool,
    /// Why: one of the disconnection reasons, when the disconnection gave one.
    pub disconnection_reason_id: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub comment: Option<String>,
    /// What the account's recurring services came to per month when it was disconnected, in
    /// cents (each price times quantity over its billing frequency, rounded half away from
    /// zero; credit services count against).
    pub monthly_recurring_amount: i64,
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
        belongs_to = "super::user::Entity",
        from = "Column::DisconnectedByUserId",
        to = "super::user::Column::Id"
    )]
    DisconnectedByUser,
    #[sea_orm(
        belongs_to = "super::address::Entity",
        from = "Column::ServiceableAddressId",
        to = "super::address::Column::Id"
    )]
    ServiceableAddress,
    #[sea_orm(
        belongs_to = "super::disconnection_reason::Entity",
        from = "Column::DisconnectionReasonId",
        to = "super::disconnection_reason::Column::Id"
    )]
    DisconnectionReason,
}

impl ActiveModelBehavior for ActiveModel {}
