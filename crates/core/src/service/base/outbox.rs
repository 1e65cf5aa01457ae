//! The webhook outbox (DESIGN §5): the model/event pairs endpoints may subscribe to, who
//! subscribes to what, and the dispatch rows a change enqueues.
//!
//! The outbox: a change that an endpoint subscribes to writes one
//! `webhook_endpoint_event_dispatches` row per subscribed endpoint, in the change's own
//! transaction and by one batched `INSERT` ([`enqueue_statement`]), so a rolled-back change
//! enqueues nothing and a committed one always enqueues. Changes reach the outbox through the
//! audit log ([`crate::service::base::audit::Batch`]): every audit row whose type and record map to a pair of
//! [`MODEL_EVENTS`] ([`pair_of`]) is a change; the few changes without an audit row of their own
//! (the disconnection log, the billing pass's debits) are added to the batch as
//! [`crate::service::base::audit::Batch::notify_created`]. Which pairs have subscribers comes from the settings snapshot
//! ([`crate::service::base::settings::Snapshot::webhooks`]), kept in memory and checked against the settings
//! generation, which every change of an endpoint or a subscription bumps; a change that nobody
//! subscribes to costs no statement and builds no payload.
//!
//! A dispatch's payload is the JSON object
//! `{"id", "model", "event", "occurred_at", "object", "changes"}`: `id` is the dispatch's own id
//! (receivers drop duplicates by it), `object` the record as fathom keeps it (after the change;
//! before it for `DELETED` and `DETACHED`), `changes` `{field: [old, new]}` for `UPDATED` and
//! null otherwise. Endpoints are managed in [`crate::service::webhooks::endpoints`]; delivery is
//! [`crate::service::webhooks::delivery`]'s.

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, Statement, Value,
};

use crate::domain::LogType;
use crate::entity::{webhook_endpoint, webhook_endpoint_event};
use crate::error::{AppError, AppResult};

/// The model/event pairs an endpoint may subscribe to (`webhook_model_events`).
pub const MODEL_EVENTS: &[(&str, &[&str])] = &[
    ("Account", &["CREATED", "UPDATED"]),
    ("AccountService", &["ATTACHED", "DETACHED"]),
    ("Debit", &["CREATED"]),
    ("DisconnectionLog", &["CREATED"]),
    ("Discount", &["CREATED"]),
    ("Invoice", &["CREATED"]),
    ("Payment", &["CREATED", "UPDATED"]),
    ("ReversedPayment", &["CREATED"]),
    ("ScheduledEvent", &["CREATED", "UPDATED", "DELETED"]),
    ("VoidedPayment", &["CREATED"]),
];

/// The pair an audit row of `kind` about a `loggable_type` reports, if any. `SYSTEM` rows are
/// changes the system made (the billing pass, the scheduler): the billing pass's invoices are
/// created, its accounts and the scheduler's events updated. An account service's `CREATED`
/// and `DELETED` rows are Sonar's `ATTACHED` and `DETACHED`.
pub fn pair_of(loggable_type: &str, kind: LogType) -> Option<(&'static str, &'static str)> {
    use LogType::*;
    Some(match (loggable_type, kind) {
        ("Account", Created) => ("Account", "CREATED"),
        ("Account", Updated | System) => ("Account", "UPDATED"),
        ("AccountService", Created | Attached) => ("AccountService", "ATTACHED"),
        ("AccountService", Deleted | Detached) => ("AccountService", "DETACHED"),
        ("Debit", Created) => ("Debit", "CREATED"),
        ("DisconnectionLog", Created) => ("DisconnectionLog", "CREATED"),
        ("Discount", Created) => ("Discount", "CREATED"),
        ("Invoice", Created | System) => ("Invoice", "CREATED"),
        ("Payment", Created) => ("Payment", "CREATED"),
        ("Payment", Updated) => ("Payment", "UPDATED"),
        ("ReversedPayment", Created) => ("ReversedPayment", "CREATED"),
        ("VoidedPayment", Created) => ("VoidedPayment", "CREATED"),
        ("ScheduledEvent", Created) => ("ScheduledEvent", "CREATED"),
        ("ScheduledEvent", Updated | System) => ("ScheduledEvent", "UPDATED"),
        ("ScheduledEvent", Deleted) => ("ScheduledEvent", "DELETED"),
        _ => return None,
    })
}

/// `VALIDATION_FAILED` unless `(model, event)` is one of [`MODEL_EVENTS`]; the pair as stored.
pub fn check_pair(model: &str, event: &str) -> AppResult<(&'static str, &'static str)> {
    for (m, events) in MODEL_EVENTS {
        if *m == model {
            if let Some(e) = events.iter().find(|e| **e == event) {
                return Ok((m, e));
            }
        }
    }
    let allowed: Vec<String> = MODEL_EVENTS
        .iter()
        .flat_map(|(m, events)| events.iter().map(move |e| format!("{m} {e}")))
        .collect();
    Err(AppError::validation(
        "model_events",
        format!(
            "{model} {event} is not a model event fathom reports; allowed: {}",
            allowed.join(", ")
        ),
    ))
}

/// One enabled endpoint's subscription to one pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub event_id: i64,
    pub endpoint_id: i64,
    pub model: String,
    pub event: String,
}

/// The subscriptions of enabled endpoints, in id order.
#[derive(Debug, Clone, Default)]
pub struct Subscriptions(Vec<Subscription>);

impl Subscriptions {
    pub async fn load<C: ConnectionTrait>(db: &C) -> AppResult<Self> {
        let endpoints: Vec<i64> = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::Enabled.eq(true))
            .filter(webhook_endpoint::Column::DeletedAt.is_null())
            .all(db)
            .await?
            .into_iter()
            .map(|e| e.id)
            .collect();
        if endpoints.is_empty() {
            return Ok(Subscriptions::default());
        }
        let events = webhook_endpoint_event::Entity::find()
            .filter(webhook_endpoint_event::Column::DeletedAt.is_null())
            .filter(webhook_endpoint_event::Column::WebhookEndpointId.is_in(endpoints))
            .order_by_asc(webhook_endpoint_event::Column::Id)
            .all(db)
            .await?;
        Ok(Subscriptions(
            events
                .into_iter()
                .map(|e| Subscription {
                    event_id: e.id,
                    endpoint_id: e.webhook_endpoint_id,
                    model: e.model,
                    event: e.event,
                })
                .collect(),
        ))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The subscriptions to `(model, event)`.
    pub fn to<'a>(
        &'a self,
        model: &'a str,
        event: &'a str,
    ) -> impl Iterator<Item = &'a Subscription> + 'a {
        self.0
            .iter()
            .filter(move |s| s.model == model && s.event == event)
    }

    pub fn wants(&self, model: &str, event: &str) -> bool {
        self.to(model, event).next().is_some()
    }
}

/// A change to report: the record after it (before it, for a removal) and, for an update, the
/// record before it, both as the JSON text the audit log keeps.
#[derive(Debug, Clone)]
pub struct Change {
    pub model: &'static str,
    pub event: &'static str,
    pub occurred_at: DateTime<Utc>,
    pub object: Option<String>,
    pub previous: Option<String>,
}

impl Change {
    /// The payload without its leading `{"id":N`: what follows the id, from the comma on.
    fn payload_rest(&self) -> String {
        let object: serde_json::Value = self
            .object
            .as_deref()
            .and_then(|o| serde_json::from_str(o).ok())
            .unwrap_or(serde_json::Value::Null);
        let changes = if self.event == "UPDATED" {
            let before: serde_json::Value = self
                .previous
                .as_deref()
                .and_then(|o| serde_json::from_str(o).ok())
                .unwrap_or(serde_json::Value::Null);
            let mut changes = serde_json::Map::new();
            if let Some(after) = object.as_object() {
                for (field, new) in after {
                    let old = before
                        .get(field)
                        .cloned()
                        .unwrap_or(serde_json::Value::Null);
                    if &old != new {
                        changes.insert(
                            field.clone(),
                            serde_json::Value::Array(vec![old, new.clone()]),
                        );
                    }
                }
            }
            serde_json::Value::Object(changes)
        } else {
            serde_json::Value::Null
        };
        let rest = serde_json::json!({
            "model": self.model,
            "event": self.event,
            "occurred_at": self.occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "object": object,
            "changes": changes,
        })
        .to_string();
        // `{"model":…}` → `,"model":…}`; serde_json keeps insertion order off, so the keys
        // come out sorted: changes, event, model, object, occurred_at (all after "id").
        format!(",{}", &rest[1..])
    }
}

/// At most this many dispatches per statement (five values each).
const ROWS_PER_STATEMENT: usize = 2000;

/// The `INSERT`s of the dispatches of `changes` to their subscribers (none when nobody
/// subscribes), in order of change, then subscription. Each dispatch's id is chosen in the
/// statement itself so that its payload can start with it: on PostgreSQL from the table's
/// sequence; on SQLite, whose writers take turns, after the largest id so far.
pub fn enqueue_statements(
    backend: DbBackend,
    subscriptions: &Subscriptions,
    changes: &[Change],
) -> Vec<Statement> {
    let mut rows: Vec<(i64, i64, String, DateTime<Utc>)> = Vec::new();
    for change in changes {
        let mut rest = None;
        for sub in subscriptions.to(change.model, change.event) {
            let rest = rest.get_or_insert_with(|| change.payload_rest()).clone();
            rows.push((sub.event_id, sub.endpoint_id, rest, change.occurred_at));
        }
    }
    rows.chunks(ROWS_PER_STATEMENT)
        .map(|chunk| enqueue_statement(backend, chunk))
        .collect()
}

fn enqueue_statement(backend: DbBackend, rows: &[(i64, i64, String, DateTime<Utc>)]) -> Statement {
    let mut values: Vec<Value> = Vec::with_capacity(rows.len() * 5);
    let mut tuples = Vec::with_capacity(rows.len());
    for (ord, (event_id, endpoint_id, rest, at)) in rows.iter().enumerate() {
        let n = values.len();
        tuples.push(match backend {
            DbBackend::Postgres => format!(
                "(${}::bigint, ${}::bigint, ${}::bigint, ${}::text, ${}::timestamptz)",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5
            ),
            _ => "(?, ?, ?, ?, ?)".to_owned(),
        });
        values.push((ord as i64 + 1).into());
        values.push((*event_id).into());
        values.push((*endpoint_id).into());
        values.push(rest.clone().into());
        values.push((*at).into());
    }
    let columns =
        "id, webhook_endpoint_event_id, webhook_endpoint_id, payload, test, last_status, \
                   attempts, next_attempt_at, created_at, updated_at, version";
    let sql = match backend {
        DbBackend::Postgres => format!(
            "INSERT INTO webhook_endpoint_event_dispatches ({columns}) \
             SELECT s.id, s.e, s.w, '{{\"id\":' || s.id || s.rest, FALSE, 'PENDING', 0, s.at, s.at, s.at, 1 \
             FROM (SELECT nextval(pg_get_serial_sequence('webhook_endpoint_event_dispatches', 'id')) AS id, v.* \
                   FROM (VALUES {}) AS v(ord, e, w, rest, at) ORDER BY v.ord) s",
            tuples.join(", ")
        ),
        _ => format!(
            "INSERT INTO webhook_endpoint_event_dispatches ({columns}) \
             SELECT b.base + v.column1, v.column2, v.column3, \
                    '{{\"id\":' || (b.base + v.column1) || v.column4, 0, 'PENDING', 0, v.column5, v.column5, v.column5, 1 \
             FROM (VALUES {}) AS v, \
                  (SELECT COALESCE(MAX(id), 0) AS base FROM webhook_endpoint_event_dispatches) AS b \
             ORDER BY v.column1",
            tuples.join(", ")
        ),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_maps_back_to_an_allowed_one() {
        for (loggable, kind) in [
            ("Account", LogType::Created),
            ("Account", LogType::System),
            ("AccountService", LogType::Deleted),
            ("Invoice", LogType::System),
            ("ScheduledEvent", LogType::Deleted),
        ] {
            let (m, e) = pair_of(loggable, kind).unwrap();
            assert!(check_pair(m, e).is_ok(), "{m} {e}");
        }
        assert!(pair_of("Contact", LogType::Created).is_none());
        let err = check_pair("Account", "DELETED").unwrap_err();
        assert!(err.to_string().contains("Account UPDATED"), "{err}");
    }

    #[test]
    fn an_update_reports_what_changed() {
        let change = Change {
            model: "Account",
            event: "UPDATED",
            occurred_at: DateTime::from_timestamp(0, 0).unwrap(),
            object: Some(r#"{"id":1,"status":2,"name":"a"}"#.into()),
            previous: Some(r#"{"id":1,"status":1,"name":"a"}"#.into()),
        };
        let body = format!("{{\"id\":7{}", change.payload_rest());
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["id"], 7);
        assert_eq!(v["changes"], serde_json::json!({"status": [1, 2]}));
        assert_eq!(v["object"]["name"], "a");
        assert_eq!(v["occurred_at"], "1970-01-01T00:00:00.000Z");
    }
}
