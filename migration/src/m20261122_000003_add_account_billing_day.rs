//! The day of the month an account's billing cycles fall on. Cycles are "that day of each
//! month" (the last day of shorter months), computed from this anchor rather than from the
//! previous cycle, so that an account activated on the 31st bills on the 31st again after
//! February instead of drifting to the 28th.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    BillingDay,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .add_column(ColumnDef::new(Accounts::BillingDay).integer().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Accounts::Table)
                    .drop_column(Accounts::BillingDay)
                    .to_owned(),
            )
            .await
    }
}
