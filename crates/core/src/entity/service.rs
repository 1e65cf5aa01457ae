//! Entity for the `services` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "services")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub r#type: String,
    pub application: String,
    pub amount: i64,
    pub company_id: Option<i64>,
    pub enabled: bool,
    pub display_if_zero: bool,
    pub general_ledger_code_id: Option<i64>,
    pub tax_definition_id: Option<i64>,
    pub reverse_tax_definition_id: Option<i64>,
    pub billing_frequency: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::company::Entity",
        from = "Column::CompanyId",
        to = "super::company::Column::Id"
    )]
    Company,
}

impl ActiveModelBehavior for ActiveModel {}
