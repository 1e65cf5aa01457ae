//! Entity for the `companies` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "companies")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub default: bool,
    pub enabled: bool,
    pub country: String,
    pub primary_color: String,
    pub secondary_color: String,
    pub show_remittance_slip: bool,
    pub billing_communication_delay_start_local_time: Option<String>,
    pub billing_communication_delay_end_local_time: Option<String>,
    pub checks_payable_to: Option<String>,
    pub customer_portal_url: Option<String>,
    pub isp_type: Option<String>,
    pub phone_number: Option<String>,
    pub tax_identification: Option<String>,
    pub website_address: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
