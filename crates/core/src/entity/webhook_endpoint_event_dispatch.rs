//! Entity for the `webhook_endpoint_event_dispatches` table: one change to deliver to one
//! endpoint (the outbox row).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "webhook_endpoint_event_dispatches")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub webhook_endpoint_event_id: i64,
    pub webhook_endpoint_id: i64,
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    pub test: bool,
    /// `PENDING`, `SUCCESS` or `FAIL`.
    pub last_status: String,
    pub attempts: i32,
    /// When the next delivery attempt is due (null once the dispatch is finished).
    pub next_attempt_at: Option<DateTimeUtc>,
    pub last_attempted_at: Option<DateTimeUtc>,
    pub sent_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::webhook_endpoint_event::Entity",
        from = "Column::WebhookEndpointEventId",
        to = "super::webhook_endpoint_event::Column::Id"
    )]
    WebhookEndpointEvent,
}

impl ActiveModelBehavior for ActiveModel {}
