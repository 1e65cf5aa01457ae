//! Idempotency keys (DESIGN §5): one row per `(token, Idempotency-Key)` holding the request's
//! fingerprint, its state and, once answered, the stored response; and one row per mutation
//! field the request carried out, written in that mutation's own transaction.
//!
//! These rows are not history: they are kept 24 hours and then purged (the worker deletes
//! them), and they go with their token (`ON DELETE CASCADE`), unlike the rest of the model
//! whose foreign keys restrict deletes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("idempotency_keys")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(big_integer("token_id"))
                    .col(string_len("key", 255))
                    .col(string_len("fingerprint", 64))
                    .col(string_len("status", 16))
                    .col(timestamp_with_time_zone_null("locked_until"))
                    .col(integer_null("response_status"))
                    .col(string_null("response_content_type"))
                    .col(text_null("response_body"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(big_integer("version").default(1).take())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_idempotency_keys_token_id")
                            .from("idempotency_keys", "token_id")
                            .to("personal_access_tokens", "id")
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_idempotency_keys_token_id_key")
                    .table("idempotency_keys")
                    .col("token_id")
                    .col("key")
                    .unique()
                    .if_not_exists()
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_idempotency_keys_created_at")
                    .table("idempotency_keys")
                    .col("created_at")
                    .if_not_exists()
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("idempotency_key_writes")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(big_integer("idempotency_key_id"))
                    .col(integer("ordinal"))
                    .col(string_null("result_type"))
                    .col(big_integer_null("result_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(big_integer("version").default(1).take())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_idempotency_key_writes_idempotency_key_id")
                            .from("idempotency_key_writes", "idempotency_key_id")
                            .to("idempotency_keys", "id")
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::Restrict),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_idempotency_key_writes_idempotency_key_id_ordinal")
                    .table("idempotency_key_writes")
                    .col("idempotency_key_id")
                    .col("ordinal")
                    .unique()
                    .if_not_exists()
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["idempotency_key_writes", "idempotency_keys"] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
