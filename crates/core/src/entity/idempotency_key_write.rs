//! Entity for the `idempotency_key_writes` table: a mutation field that a request with an
//! `Idempotency-Key` carried out, written in that mutation's own transaction.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_key_writes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub idempotency_key_id: i64,
    /// The position of the mutation field among the request's mutation fields, from 0.
    pub ordinal: i32,
    /// What the mutation returned, as its audit row names it (`Account`, `Debit`, …), when the
    /// transaction wrote one; with `result_id`, enough to answer the field again.
    pub result_type: Option<String>,
    pub result_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
