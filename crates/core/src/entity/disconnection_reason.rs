//! Entity for the `disconnection_reasons` table (a fathom extension): why an account was
//! disconnected, from a list the Administrators keep.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "disconnection_reasons")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// Whether the customer chose to leave (false: the ISP disconnected them).
    pub voluntary: bool,
    /// Whether new disconnections may give it; an inactive reason stays on the logs it is on.
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
