//! The Activations & Disconnections report reads two views, so that its tables are filtered,
//! sorted, paged and counted in SQL by the same collection mechanism as every other list, and
//! each disconnection keeps the total of the proration credits it gave.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DisconnectionLogs {
    Table,
    CreditTotal,
}

/// One row per `ACTIVATED` account event. `reactivation`: the account had been activated
/// before. `serviceable_address_id`: the account's serviceable address now.
pub(crate) const ACTIVATIONS: &str = "CREATE VIEW report_activations AS
SELECT e.id AS id,
       e.id AS account_event_id,
       e.account_id AS account_id,
       a.name AS account_name,
       a.account_type_id AS account_type_id,
       a.account_status_id AS account_status_id,
       a.company_id AS company_id,
       e.event_datetime AS activated_at,
       EXISTS (SELECT 1 FROM account_events p
               WHERE p.account_id = e.account_id AND p.event = 'ACTIVATED'
                 AND (p.event_datetime < e.event_datetime OR (p.event_datetime = e.event_datetime AND p.id < e.id))) AS reactivation,
       (SELECT MIN(ad.id) FROM addresses ad WHERE ad.addressable_id = e.account_id AND ad.serviceable = TRUE) AS serviceable_address_id
FROM account_events e JOIN accounts a ON a.id = e.account_id
WHERE e.event = 'ACTIVATED'";

/// One row per disconnection log.
pub(crate) const DISCONNECTIONS: &str = "CREATE VIEW report_disconnections AS
SELECT l.id AS id,
       l.id AS disconnection_log_id,
       l.account_id AS account_id,
       a.name AS account_name,
       a.account_type_id AS account_type_id,
       a.company_id AS company_id,
       l.disconnected_at AS disconnected_at,
       l.disconnected_by_user_id AS disconnected_by_user_id,
       l.serviceable_address_reference_record AS serviceable_address_reference_record,
       l.final_invoice_id AS final_invoice_id,
       i.total_debits AS final_invoice_total,
       l.credit_total AS credit_total,
       (l.scheduled_event_id IS NOT NULL) AS scheduled
FROM disconnection_logs l
JOIN accounts a ON a.id = l.account_id
LEFT JOIN invoices i ON i.id = l.final_invoice_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(DisconnectionLogs::Table)
                    .add_column(
                        ColumnDef::new(DisconnectionLogs::CreditTotal)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(ACTIVATIONS).await?;
        db.execute_unprepared(DISCONNECTIONS).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP VIEW IF EXISTS report_disconnections")
            .await?;
        db.execute_unprepared("DROP VIEW IF EXISTS report_activations")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(DisconnectionLogs::Table)
                    .drop_column(DisconnectionLogs::CreditTotal)
                    .to_owned(),
            )
            .await
    }
}
