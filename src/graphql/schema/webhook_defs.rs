//! The webhook entities (Sonar's `WebhookEndpoint` family), described for the generic schema.
//! Every one is read with `WEBHOOKS_MANAGE`: payloads carry account data.

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, TypeRef};
use async_graphql::Value;

use crate::auth::Permission::WebhooksManage;
use crate::entity::*;
use crate::graphql::schema::{
    defs::{many, one},
    entity_def::{columns, fields, EntityDef, Ops, Row, WithSecret},
};

pub static WEBHOOK_ENDPOINT: EntityDef = EntityDef {
    name: "WebhookEndpoint",
    plural: "webhook_endpoints",
    description: "A URL that fathom POSTs changes to, signed with the endpoint's secret. Deleted endpoints are not listed.",
    fields: fields!(webhook_endpoint::Model;
        enabled: "Boolean!" => "A disabled endpoint's dispatches wait, in order, until it is enabled again.",
        endpoint: "HttpsUrl!" => "",
        name: "String!" => "",
    ),
    general_search: columns!(webhook_endpoint::Model; name, endpoint),
    relations: || {
        vec![many("webhook_endpoint_events", &WEBHOOK_ENDPOINT_EVENT, webhook_endpoint_event::Relation::WebhookEndpoint)]
    },
    read: WebhooksManage,
    ops: &Ops::<webhook_endpoint::Entity>::new(),
    extra: endpoint_fields,
    interfaces: &[],
    base: true,
};

pub static WEBHOOK_ENDPOINT_EVENT: EntityDef = EntityDef {
    name: "WebhookEndpointEvent",
    plural: "webhook_endpoint_events",
    description: "One model/event pair an endpoint subscribes to (see webhook_model_events). Deleted subscriptions are not listed.",
    fields: fields!(webhook_endpoint_event::Model;
        event: "WebhookEndpointModelEvent!" => "",
        model: "String!" => "",
        webhook_endpoint_id: "Int64Bit!" => "",
    ),
    general_search: columns!(webhook_endpoint_event::Model; model),
    relations: || {
        vec![
            one("webhook_endpoint", &WEBHOOK_ENDPOINT, webhook_endpoint_event::Relation::WebhookEndpoint),
            many("webhook_endpoint_event_dispatches", &WEBHOOK_ENDPOINT_EVENT_DISPATCH, webhook_endpoint_event_dispatch::Relation::WebhookEndpointEvent),
        ]
    },
    read: WebhooksManage,
    ops: &Ops::<webhook_endpoint_event::Entity>::new(),
    extra: crate::graphql::schema::entity_def::no_extra,
    interfaces: &[],
    base: true,
};

pub static WEBHOOK_ENDPOINT_EVENT_DISPATCH: EntityDef = EntityDef {
    name: "WebhookEndpointEventDispatch",
    plural: "webhook_endpoint_event_dispatches",
    description: "One change to deliver to one endpoint, written in the change's own transaction; delivered until a 2xx answer, or given up (FAIL) after 12 attempts.",
    fields: fields!(webhook_endpoint_event_dispatch::Model;
        last_attempted_at: "Datetime" => "",
        last_status: "WebhookEndpointEventDispatchAttemptStatus!" => "PENDING until delivered (SUCCESS) or given up (FAIL).",
        payload: "Text!" => "The JSON body POSTed: {\"id\", \"model\", \"event\", \"occurred_at\", \"object\", \"changes\"}.",
        sent_at: "Datetime" => "When an attempt succeeded.",
        test: "Boolean!" => "Always false: generateTestWebhook stores nothing.",
        webhook_endpoint_event_id: "Int64Bit!" => "",
        webhook_endpoint_id: "Int64Bit!" => "fathom extension: the endpoint it goes to.",
        attempts: "Int!" => "fathom extension: attempts made so far.",
        next_attempt_at: "Datetime" => "fathom extension: when it is tried next (null once finished).",
    ),
    general_search: &[],
    relations: || {
        vec![
            one("webhook_endpoint_event", &WEBHOOK_ENDPOINT_EVENT, webhook_endpoint_event_dispatch::Relation::WebhookEndpointEvent),
            many("webhook_endpoint_event_dispatch_attempts", &WEBHOOK_ENDPOINT_EVENT_DISPATCH_ATTEMPT, webhook_endpoint_event_dispatch_attempt::Relation::WebhookEndpointEventDispatch),
        ]
    },
    read: WebhooksManage,
    ops: &Ops::<webhook_endpoint_event_dispatch::Entity>::new(),
    extra: crate::graphql::schema::entity_def::no_extra,
    interfaces: &[],
    base: true,
};

pub static WEBHOOK_ENDPOINT_EVENT_DISPATCH_ATTEMPT: EntityDef = EntityDef {
    name: "WebhookEndpointEventDispatchAttempt",
    plural: "webhook_endpoint_event_dispatch_attempts",
    description: "One delivery attempt of a dispatch.",
    fields: fields!(webhook_endpoint_event_dispatch_attempt::Model;
        response: "Text" => "The first 2 KiB of the answer's body, or why there was no answer.",
        response_at: "Datetime" => "When the answer came (null without one).",
        response_code: "Int" => "The HTTP status (null without an answer).",
        status: "WebhookEndpointEventDispatchAttemptStatus!" => "SUCCESS or FAIL.",
        webhook_endpoint_event_dispatch_id: "Int64Bit!" => "",
    ),
    general_search: &[],
    relations: || {
        vec![one(
            "webhook_endpoint_event_dispatch",
            &WEBHOOK_ENDPOINT_EVENT_DISPATCH,
            webhook_endpoint_event_dispatch_attempt::Relation::WebhookEndpointEventDispatch,
        )]
    },
    read: WebhooksManage,
    ops: &Ops::<webhook_endpoint_event_dispatch_attempt::Entity>::new(),
    extra: crate::graphql::schema::entity_def::no_extra,
    interfaces: &[],
    base: true,
};

/// `WebhookEndpoint.signing_secret`: shown once, by `createWebhookEndpoint`.
pub fn endpoint_fields() -> Vec<Field> {
    vec![crate::graphql::execution::resolver::field("signing_secret", TypeRef::named(TypeRef::STRING), |ctx| {
        FieldFuture::new(async move {
            let row = ctx.parent_value.try_downcast_ref::<Row>()?;
            let secret = row
                .downcast::<WithSecret<webhook_endpoint::Model>>()
                .map(|w| w.secret.clone());
            Ok(secret.map(|s| FieldValue::value(Value::String(s))))
        })
    })
    .description(
        "fathom extension: the key of the endpoint's HMAC-SHA256 signatures (X-Fathom-Signature). Returned once, by createWebhookEndpoint; null afterwards.",
    )]
}
