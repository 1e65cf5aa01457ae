//! Entity for the `idempotency_keys` table: one `Idempotency-Key` of one token (see
//! `crate::service::base::idempotency`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub token_id: i64,
    pub key: String,
    /// SHA-256 (hex) of the request body in canonical JSON.
    pub fingerprint: String,
    /// `RUNNING` or `COMPLETED`.
    pub status: String,
    /// While `RUNNING`: until when the request that holds the key may still be running.
    pub locked_until: Option<DateTimeUtc>,
    pub response_status: Option<i32>,
    pub response_content_type: Option<String>,
    pub response_body: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
