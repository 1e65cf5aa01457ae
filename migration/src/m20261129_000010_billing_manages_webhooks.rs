//! The built-in Billing role has every permission but `USERS_MANAGE` and `SETTINGS_WRITE`
//! (DESIGN §3), so `WEBHOOKS_MANAGE` too: databases whose roles were seeded before webhooks
//! existed, or by the release that left it out, get it here.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE roles SET permissions = permissions || ',WEBHOOKS_MANAGE' \
                 WHERE name = 'Billing' AND permissions NOT LIKE '%WEBHOOKS_MANAGE%'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
