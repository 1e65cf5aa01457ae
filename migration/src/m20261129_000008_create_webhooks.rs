//! Webhooks (DESIGN §5, Sonar's `WebhookEndpoint` family): endpoints, the model/event pairs each
//! subscribes to, one dispatch per change and subscribed endpoint (the outbox, written in the
//! change's own transaction), and one row per delivery attempt.
//!
//! Endpoints and their subscriptions are removed by marking them (`deleted_at`), so that the
//! dispatches and attempts that refer to them stay readable. Dispatches and attempts are
//! history: the database refuses to delete them.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn base(table: &str) -> TableCreateStatement {
    Table::create()
        .table(Alias::new(table))
        .if_not_exists()
        .col(big_pk_auto("id"))
        .take()
}

fn stamps(table: &mut TableCreateStatement) -> TableCreateStatement {
    table
        .col(timestamp_with_time_zone("created_at"))
        .col(timestamp_with_time_zone("updated_at"))
        .col(big_integer("version").default(1).take())
        .take()
}

fn fk(from: &str, column: &str, to: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{from}_{column}"))
        .from(Alias::new(from), Alias::new(column))
        .to(Alias::new(to), Alias::new("id"))
        .on_delete(ForeignKeyAction::Restrict)
        .on_update(ForeignKeyAction::Restrict)
        .take()
}

const HISTORY: &[&str] = &[
    "webhook_endpoint_event_dispatches",
    "webhook_endpoint_event_dispatch_attempts",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(stamps(
                base("webhook_endpoints")
                    .col(string("name"))
                    .col(text("endpoint"))
                    .col(boolean("enabled"))
                    .col(string("signing_secret"))
                    .col(timestamp_with_time_zone_null("deleted_at")),
            ))
            .await?;
        manager
            .create_table(stamps(
                base("webhook_endpoint_events")
                    .col(big_integer("webhook_endpoint_id"))
                    .col(string("model"))
                    .col(string("event"))
                    .col(timestamp_with_time_zone_null("deleted_at"))
                    .foreign_key(&mut fk(
                        "webhook_endpoint_events",
                        "webhook_endpoint_id",
                        "webhook_endpoints",
                    )),
            ))
            .await?;
        manager
            .create_table(stamps(
                base("webhook_endpoint_event_dispatches")
                    .col(big_integer("webhook_endpoint_event_id"))
                    .col(big_integer("webhook_endpoint_id"))
                    .col(text("payload"))
                    .col(boolean("test"))
                    .col(string("last_status"))
                    .col(integer("attempts").default(0).take())
                    .col(timestamp_with_time_zone_null("next_attempt_at"))
                    .col(timestamp_with_time_zone_null("last_attempted_at"))
                    .col(timestamp_with_time_zone_null("sent_at"))
                    .foreign_key(&mut fk(
                        "webhook_endpoint_event_dispatches",
                        "webhook_endpoint_event_id",
                        "webhook_endpoint_events",
                    ))
                    .foreign_key(&mut fk(
                        "webhook_endpoint_event_dispatches",
                        "webhook_endpoint_id",
                        "webhook_endpoints",
                    )),
            ))
            .await?;
        manager
            .create_table(stamps(
                base("webhook_endpoint_event_dispatch_attempts")
                    .col(big_integer("webhook_endpoint_event_dispatch_id"))
                    .col(string("status"))
                    .col(integer_null("response_code"))
                    .col(text_null("response"))
                    .col(timestamp_with_time_zone_null("response_at"))
                    .foreign_key(&mut fk(
                        "webhook_endpoint_event_dispatch_attempts",
                        "webhook_endpoint_event_dispatch_id",
                        "webhook_endpoint_event_dispatches",
                    )),
            ))
            .await?;
        for (name, table, columns) in [
            (
                "ix_webhook_endpoint_events_model_event",
                "webhook_endpoint_events",
                &["model", "event"][..],
            ),
            (
                "ix_webhook_endpoint_events_webhook_endpoint_id",
                "webhook_endpoint_events",
                &["webhook_endpoint_id"][..],
            ),
            (
                "ix_webhook_dispatches_endpoint_status",
                "webhook_endpoint_event_dispatches",
                &["webhook_endpoint_id", "last_status", "id"][..],
            ),
            (
                "ix_webhook_dispatches_status_next",
                "webhook_endpoint_event_dispatches",
                &["last_status", "next_attempt_at"][..],
            ),
            (
                "ix_webhook_dispatches_event_id",
                "webhook_endpoint_event_dispatches",
                &["webhook_endpoint_event_id"][..],
            ),
            (
                "ix_webhook_attempts_dispatch_id",
                "webhook_endpoint_event_dispatch_attempts",
                &["webhook_endpoint_event_dispatch_id"][..],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Alias::new(table)).if_not_exists();
            for column in columns {
                index.col(Alias::new(*column));
            }
            manager.create_index(index).await?;
        }
        let db = manager.get_connection();
        // The built-in Administrator role has every permission, the new one included (a new
        // database gets it when its roles are seeded).
        db.execute_unprepared(
            "UPDATE roles SET permissions = permissions || ',WEBHOOKS_MANAGE' \
             WHERE name = 'Administrator' AND permissions NOT LIKE '%WEBHOOKS_MANAGE%'",
        )
        .await?;
        for table in HISTORY {
            let sql = match manager.get_database_backend() {
                DbBackend::Postgres => format!(
                    "CREATE TRIGGER tr_{table}_no_delete BEFORE DELETE ON {table} \
                     FOR EACH ROW EXECUTE FUNCTION fathom_forbid_delete()"
                ),
                _ => format!(
                    "CREATE TRIGGER IF NOT EXISTS tr_{table}_no_delete BEFORE DELETE ON {table} \
                     BEGIN SELECT RAISE(ABORT, 'fathom keeps history: rows of {table} are never deleted'); END"
                ),
            };
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "webhook_endpoint_event_dispatch_attempts",
            "webhook_endpoint_event_dispatches",
            "webhook_endpoint_events",
            "webhook_endpoints",
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).if_exists().take())
                .await?;
        }
        Ok(())
    }
}
