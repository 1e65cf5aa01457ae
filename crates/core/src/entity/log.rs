//! Entity for the `logs` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "logs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub r#type: String,
    pub loggable_type: String,
    pub loggable_id: i64,
    pub user_id: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub previous: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub current: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub message: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id"
    )]
    User,
    /// The account this row belongs to when `loggable_type` is `Account` (the column is polymorphic).
    #[sea_orm(
        belongs_to = "super::account::Entity",
        from = "Column::LoggableId",
        to = "super::account::Column::Id"
    )]
    Loggable,
}

impl ActiveModelBehavior for ActiveModel {}
