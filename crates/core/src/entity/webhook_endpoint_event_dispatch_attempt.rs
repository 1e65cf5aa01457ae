//! Entity for the `webhook_endpoint_event_dispatch_attempts` table: one delivery attempt.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "webhook_endpoint_event_dispatch_attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub webhook_endpoint_event_dispatch_id: i64,
    /// `SUCCESS` or `FAIL`.
    pub status: String,
    pub response_code: Option<i32>,
    /// The first 2 KiB of the answer's body, or what went wrong when there was no answer.
    #[sea_orm(column_type = "Text", nullable)]
    pub response: Option<String>,
    pub response_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::webhook_endpoint_event_dispatch::Entity",
        from = "Column::WebhookEndpointEventDispatchId",
        to = "super::webhook_endpoint_event_dispatch::Column::Id"
    )]
    WebhookEndpointEventDispatch,
}

impl ActiveModelBehavior for ActiveModel {}
