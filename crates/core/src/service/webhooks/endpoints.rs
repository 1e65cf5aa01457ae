//! Webhook endpoints and their subscriptions (DESIGN §5, Sonar's `WebhookEndpoint` family):
//! creating, changing and deleting them, each change bumping the settings generation so that
//! every server sees the new subscriptions. What a change enqueues is
//! [`crate::service::base::outbox`]'s; delivery is [`crate::service::webhooks::delivery`]'s.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};

use crate::entity::webhook_endpoint_event_dispatch as dispatch;
use crate::entity::{webhook_endpoint, webhook_endpoint_event};
use crate::error::{AppError, AppResult};
pub use crate::service::base::outbox::{check_pair, MODEL_EVENTS};
use crate::service::base::store::Stamped;
use crate::service::base::{
    audit,
    clock::now,
    settings,
    store::{begin_write, find, save},
    values::{required_text, Id},
};

crate::input! {
    /// Input of `createWebhookEndpoint`.
    pub struct CreateEndpoint as "CreateWebhookEndpointMutationInput" {
        name: String => "String!";
        endpoint: String => "HttpsUrl!", "Where dispatches are POSTed: https:// only (http:// when FATHOM_WEBHOOK_ALLOW_HTTP is true); its addresses must be public unless FATHOM_WEBHOOK_ALLOW_PRIVATE is true.";
        enabled: bool => "Boolean!";
        model_events: Option<Vec<ModelEvent>> => "[WebhookEndpointModelEventInput]", "The pairs to subscribe to; a pair webhook_model_events does not list is VALIDATION_FAILED.";
    }
}

crate::input! {
    /// Input of `updateWebhookEndpoint`.
    #[derive(Default)]
    pub struct UpdateEndpoint as "UpdateWebhookEndpointMutationInput" {
        name: Option<String> => "String";
        endpoint: Option<String> => "HttpsUrl";
        enabled: Option<bool> => "Boolean", "false holds the endpoint's dispatches (in order) until it is enabled again.";
        model_events: Option<Vec<ModelEvent>> => "[WebhookEndpointModelEventInput]", "When given, the endpoint's whole list of subscriptions: pairs left out are unsubscribed.";
    }
}

crate::input! {
    /// One `{model, event}` pair of an input.
    pub struct ModelEvent as "WebhookEndpointModelEventInput" {
        model: String => "String!", "One of the models webhook_model_events lists.";
        event: String => "WebhookEndpointModelEvent!", "One of that model's events in webhook_model_events.";
    }
}

crate::input! {
    /// Input of `createWebhookEndpointEvent`.
    pub struct CreateEndpointEvent as "CreateWebhookEndpointEventMutationInput" {
        webhook_endpoint_id: Id => "Int64Bit!";
        model: String => "String!";
        event: String => "WebhookEndpointModelEvent!";
    }
}

/// Where webhooks may be sent (`FATHOM_WEBHOOK_ALLOW_HTTP`, `FATHOM_WEBHOOK_ALLOW_PRIVATE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// `http://` endpoints allowed (else `https://` only).
    pub allow_http: bool,
    /// Loopback, private, link-local and metadata addresses allowed.
    pub allow_private: bool,
}

/// The endpoint URL as stored: absolute, `https://` (or `http://` when the policy allows it),
/// with a host and no credentials. Whether its host is a public address is checked at each
/// delivery, when the name is resolved.
pub fn endpoint_url(policy: Policy, given: &str) -> AppResult<String> {
    let invalid = |why: &str| AppError::validation("endpoint", why.to_owned());
    let url = reqwest::Url::parse(given.trim()).map_err(|_| {
        invalid("the endpoint must be an absolute URL, such as https://example.com/hooks")
    })?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        "http" => return Err(invalid(
            "the endpoint must use https:// (http:// only when FATHOM_WEBHOOK_ALLOW_HTTP is true)",
        )),
        _ => return Err(invalid("the endpoint must be an https:// URL")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("the endpoint must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "the endpoint must not carry a user name or password",
        ));
    }
    if url.as_str().len() > 2048 {
        return Err(invalid("the endpoint must be at most 2,048 characters"));
    }
    Ok(url.to_string())
}

/// A new signing secret: 32 random bytes, hex.
fn new_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex(&bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The pairs of an input, checked, in order, without repeats.
fn pairs(given: &[ModelEvent]) -> AppResult<Vec<(&'static str, &'static str)>> {
    let mut out = Vec::new();
    for pair in given {
        let checked = check_pair(pair.model.trim(), pair.event.trim())?;
        if !out.contains(&checked) {
            out.push(checked);
        }
    }
    Ok(out)
}

async fn add_subscription<C: ConnectionTrait>(
    db: &C,
    by: i64,
    endpoint_id: i64,
    (model, event): (&str, &str),
) -> AppResult<webhook_endpoint_event::Model> {
    let at = now();
    let model = webhook_endpoint_event::ActiveModel {
        webhook_endpoint_id: Set(endpoint_id),
        model: Set(model.to_owned()),
        event: Set(event.to_owned()),
        deleted_at: Set(None),
        ..Default::default()
    }
    .stamped(at)
    .insert(db)
    .await?;
    audit::created(db, model.id, by, &model).await?;
    Ok(model)
}

async fn remove_subscription<C: ConnectionTrait>(
    db: &C,
    by: i64,
    event: webhook_endpoint_event::Model,
) -> AppResult<()> {
    let am = webhook_endpoint_event::ActiveModel {
        deleted_at: Set(Some(now())),
        updated_at: Set(now()),
        ..Default::default()
    };
    save::<webhook_endpoint_event::Entity, _, _>(db, event.id, event.version, am).await?;
    audit::deleted(db, event.id, by, &event).await
}

async fn live_subscriptions<C: ConnectionTrait>(
    db: &C,
    endpoint_id: i64,
) -> AppResult<Vec<webhook_endpoint_event::Model>> {
    Ok(webhook_endpoint_event::Entity::find()
        .filter(webhook_endpoint_event::Column::WebhookEndpointId.eq(endpoint_id))
        .filter(webhook_endpoint_event::Column::DeletedAt.is_null())
        .order_by_asc(webhook_endpoint_event::Column::Id)
        .all(db)
        .await?)
}

/// An endpoint that exists and is not deleted.
pub async fn live_endpoint<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> AppResult<webhook_endpoint::Model> {
    let endpoint = find::<webhook_endpoint::Entity, _>(db, id).await?;
    if endpoint.deleted_at.is_some() {
        return Err(AppError::not_found("WebhookEndpoint", id));
    }
    Ok(endpoint)
}

/// `createWebhookEndpoint`: the endpoint, its subscriptions and their audit rows, in one
/// transaction. The answer carries the signing secret, which no later read shows.
pub async fn create_endpoint(
    db: &DatabaseConnection,
    policy: Policy,
    by: i64,
    input: CreateEndpoint,
) -> AppResult<webhook_endpoint::Model> {
    let name = required_text("name", &input.name)?;
    let endpoint = endpoint_url(policy, &input.endpoint)?;
    let pairs = pairs(input.model_events.as_deref().unwrap_or_default())?;
    let txn = begin_write(db).await?;
    let at = now();
    let model = webhook_endpoint::ActiveModel {
        name: Set(name),
        endpoint: Set(endpoint),
        enabled: Set(input.enabled),
        signing_secret: Set(new_secret()),
        deleted_at: Set(None),
        ..Default::default()
    }
    .stamped(at)
    .insert(&txn)
    .await?;
    audit::created(&txn, model.id, by, &model).await?;
    for pair in pairs {
        add_subscription(&txn, by, model.id, pair).await?;
    }
    settings::bump(&txn).await?;
    txn.commit().await?;
    Ok(model)
}

/// `updateWebhookEndpoint`. `model_events`, when given, becomes the endpoint's whole list of
/// subscriptions (pairs left out are unsubscribed; an empty list unsubscribes all).
pub async fn update_endpoint(
    db: &DatabaseConnection,
    policy: Policy,
    by: i64,
    id: i64,
    input: UpdateEndpoint,
) -> AppResult<webhook_endpoint::Model> {
    let name = input
        .name
        .as_deref()
        .map(|n| required_text("name", n))
        .transpose()?;
    let endpoint = input
        .endpoint
        .as_deref()
        .map(|e| endpoint_url(policy, e))
        .transpose()?;
    let wanted = input.model_events.as_deref().map(pairs).transpose()?;
    let txn = begin_write(db).await?;
    let old = live_endpoint(&txn, id).await?;
    let mut am = webhook_endpoint::ActiveModel {
        updated_at: Set(now()),
        ..Default::default()
    };
    if let Some(name) = name {
        am.name = Set(name);
    }
    if let Some(endpoint) = endpoint {
        am.endpoint = Set(endpoint);
    }
    if let Some(enabled) = input.enabled {
        am.enabled = Set(enabled);
    }
    let new = save::<webhook_endpoint::Entity, _, _>(&txn, id, old.version, am).await?;
    audit::updated(&txn, id, by, &old, &new, "webhook endpoint updated").await?;
    if let Some(wanted) = wanted {
        let current = live_subscriptions(&txn, id).await?;
        for event in current.iter() {
            if !wanted.contains(&(event.model.as_str(), event.event.as_str())) {
                remove_subscription(&txn, by, event.clone()).await?;
            }
        }
        for pair in wanted {
            if !current
                .iter()
                .any(|e| e.model == pair.0 && e.event == pair.1)
            {
                add_subscription(&txn, by, id, pair).await?;
            }
        }
    }
    settings::bump(&txn).await?;
    txn.commit().await?;
    Ok(new)
}

/// `deleteWebhookEndpoint`: the endpoint and its subscriptions are marked deleted (their
/// dispatches and attempts stay readable); its pending dispatches are not delivered.
pub async fn delete_endpoint(db: &DatabaseConnection, by: i64, id: i64) -> AppResult<()> {
    let txn = begin_write(db).await?;
    let old = live_endpoint(&txn, id).await?;
    for event in live_subscriptions(&txn, id).await? {
        remove_subscription(&txn, by, event).await?;
    }
    let am = webhook_endpoint::ActiveModel {
        deleted_at: Set(Some(now())),
        updated_at: Set(now()),
        ..Default::default()
    };
    save::<webhook_endpoint::Entity, _, _>(&txn, id, old.version, am).await?;
    audit::deleted(&txn, id, by, &old).await?;
    abandon_pending(&txn, id).await?;
    settings::bump(&txn).await?;
    txn.commit().await?;
    Ok(())
}

/// `createWebhookEndpointEvent`: subscribes an endpoint to one more pair (`CONFLICT` when it
/// already is).
pub async fn create_event(
    db: &DatabaseConnection,
    by: i64,
    input: CreateEndpointEvent,
) -> AppResult<webhook_endpoint_event::Model> {
    let pair = check_pair(input.model.trim(), input.event.trim())?;
    let txn = begin_write(db).await?;
    let endpoint = live_endpoint(&txn, input.webhook_endpoint_id.0).await?;
    if live_subscriptions(&txn, endpoint.id)
        .await?
        .iter()
        .any(|e| e.model == pair.0 && e.event == pair.1)
    {
        return Err(AppError::Conflict(format!(
            "webhook endpoint {} already subscribes to {} {}",
            endpoint.id, pair.0, pair.1
        )));
    }
    let model = add_subscription(&txn, by, endpoint.id, pair).await?;
    settings::bump(&txn).await?;
    txn.commit().await?;
    Ok(model)
}

/// `deleteWebhookEndpointEvent`: unsubscribes (the row is marked deleted; its dispatches stay).
pub async fn delete_event(db: &DatabaseConnection, by: i64, id: i64) -> AppResult<()> {
    let txn = begin_write(db).await?;
    let event = find::<webhook_endpoint_event::Entity, _>(&txn, id).await?;
    if event.deleted_at.is_some() {
        return Err(AppError::not_found("WebhookEndpointEvent", id));
    }
    remove_subscription(&txn, by, event).await?;
    settings::bump(&txn).await?;
    txn.commit().await?;
    Ok(())
}

/// Gives up the pending dispatches of endpoint `endpoint_id` (deleted): `FAIL`, never sent.
pub async fn abandon_pending<C: ConnectionTrait>(db: &C, endpoint_id: i64) -> AppResult<()> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    use sea_orm::{ColumnTrait, QueryFilter};
    dispatch::Entity::update_many()
        .col_expr(dispatch::Column::LastStatus, Expr::value("FAIL"))
        .col_expr(
            dispatch::Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(dispatch::Column::UpdatedAt, Expr::value(now()))
        .col_expr(
            dispatch::Column::Version,
            Expr::col(dispatch::Column::Version).add(1),
        )
        .filter(dispatch::Column::WebhookEndpointId.eq(endpoint_id))
        .filter(dispatch::Column::LastStatus.eq("PENDING"))
        .exec(db)
        .await?;
    Ok(())
}
