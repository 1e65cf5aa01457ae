//! Entity for the `disconnection_runs` table (a fathom extension): a bulk disconnection of
//! selected accounts, carried out by the worker, with its progress.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "disconnection_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// `PENDING` (not started), `RUNNING`, `COMPLETED`, `CANCELLED`.
    pub status: String,
    /// When its disconnections take effect (and the worker starts on it).
    pub datetime: DateTimeUtc,
    pub prorate: Option<bool>,
    pub disconnection_reason_id: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub comment: Option<String>,
    /// The company every selected account belongs to, when the run names one.
    pub company_id: Option<i64>,
    pub total: i32,
    pub done: i32,
    pub failed: i32,
    pub cancelled: i32,
    pub remaining: i32,
    pub created_by_user_id: i64,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::disconnection_reason::Entity",
        from = "Column::DisconnectionReasonId",
        to = "super::disconnection_reason::Column::Id"
    )]
    DisconnectionReason,
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::CreatedByUserId",
        to = "super::user::Column::Id"
    )]
    CreatedByUser,
}

impl ActiveModelBehavior for ActiveModel {}
