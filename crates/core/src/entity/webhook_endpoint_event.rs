//! Entity for the `webhook_endpoint_events` table: one model/event pair an endpoint subscribes to.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "webhook_endpoint_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub webhook_endpoint_id: i64,
    pub model: String,
    pub event: String,
    pub deleted_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::webhook_endpoint::Entity",
        from = "Column::WebhookEndpointId",
        to = "super::webhook_endpoint::Column::Id"
    )]
    WebhookEndpoint,
}

impl ActiveModelBehavior for ActiveModel {}
