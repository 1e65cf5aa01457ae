//! Phone numbers of contacts (Sonar's `PhoneNumber`): what `createAccount`'s primary contact
//! brings in `phone_numbers`. Not history: a contact's numbers are its current ones.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("phone_numbers")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(big_integer("contact_id"))
                    .col(big_integer_null("phone_number_type_id"))
                    .col(string("country"))
                    .col(string("number"))
                    .col(string_null("extension"))
                    .col(string("number_formatted"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(big_integer("version").default(1).take())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_phone_numbers_contact_id")
                            .from("phone_numbers", "contact_id")
                            .to("contacts", "id")
                            .on_delete(ForeignKeyAction::Restrict)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_phone_numbers_contact_id")
                    .table("phone_numbers")
                    .col("contact_id")
                    .if_not_exists()
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("phone_numbers").if_exists().take())
            .await
    }
}
