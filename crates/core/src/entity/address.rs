//! Entity for the `addresses` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "addresses")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub addressable_type: Option<String>,
    pub addressable_id: Option<i64>,
    pub r#type: String,
    pub serviceable: bool,
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub subdivision: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
    pub county: Option<String>,
    pub latitude: Option<String>,
    pub longitude: Option<String>,
    pub timezone: Option<String>,
    pub address_status_id: Option<i64>,
    pub is_anchor: bool,
    pub anchor_address_id: Option<i64>,
    pub billing_default_id: Option<i64>,
    pub attainable_download_speed: Option<i32>,
    pub attainable_upload_speed: Option<i32>,
    pub avalara_pcode: Option<String>,
    pub census_year: Option<i32>,
    pub fips: Option<String>,
    pub fips_source: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "Entity",
        from = "Column::AnchorAddressId",
        to = "Column::Id"
    )]
    AnchorAddress,
    /// The account this row belongs to when `addressable_type` is `Account` (the column is polymorphic).
    #[sea_orm(
        belongs_to = "super::account::Entity",
        from = "Column::AddressableId",
        to = "super::account::Column::Id"
    )]
    Addressable,
}

impl ActiveModelBehavior for ActiveModel {}
