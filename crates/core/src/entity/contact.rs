//! Entity for the `contacts` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "contacts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub contactable_type: String,
    pub contactable_id: i64,
    pub name: String,
    pub role: Option<String>,
    pub email_address: Option<String>,
    pub language: Option<String>,
    pub marketing_opt_in: Option<bool>,
    pub primary: bool,
    pub username: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The account this row belongs to when `contactable_type` is `Account` (the column is polymorphic).
    #[sea_orm(
        belongs_to = "super::account::Entity",
        from = "Column::ContactableId",
        to = "super::account::Column::Id"
    )]
    Contactable,
}

impl ActiveModelBehavior for ActiveModel {}
