//! The HTTP surface: `/api/graphql` (POST, and GET for queries), the operator's console at `/`
//! and `/graphiql` (the pages and their assets: [`crate::pages`]), `/healthz`, `/readyz`, `/metrics`; the request limits; and the
//! shared state. The layers around the routes (request ids and the access log, media types,
//! request bodies) are in [`crate::http`].

use std::sync::Arc;
use std::time::Duration;

use async_graphql::dynamic::Schema;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sea_orm::DatabaseConnection;
use serde::Deserialize;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::graphql::execution::guard::Guard;
use crate::http::{context, error_body, error_response};
use crate::metrics::Metrics;

mod authenticate;
mod execute;
mod idempotency;

use authenticate::authenticate;

use execute::{execute, timed_out};

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub schema: Schema,
    /// The schema that only validates, for queries answered by the compiled read path.
    pub validator: Schema,
    /// Whether queries may be answered by the compiled read path (`FATHOM_COMPILED_READS`).
    pub compiled_reads: bool,
    pub max_batch: usize,
    pub metrics: Arc<Metrics>,
    pub limiter: Arc<crate::rate_limit::RateLimiter>,
    pub guard: Arc<Guard>,
    /// Recent authentications, for compiled reads ([`crate::auth::TokenCache`]).
    pub tokens: Arc<crate::auth::TokenCache>,
    /// Plans the compiled read path has answered with, by query, variables and permissions.
    pub plans: Arc<crate::graphql::execution::compiled::cache::PlanCache>,
    /// How long one HTTP request may run, its GraphQL work included (CPU-bound or not).
    pub request_timeout: Duration,
    /// The read replica, if any (`FATHOM_READ_REPLICA_URL`).
    pub replica: Option<Arc<crate::replica::Replica>>,
    /// On SQLite, connections that run compiled reads on the request's thread
    /// ([`crate::db::inline`]).
    pub inline: Option<Arc<crate::db::inline::InlineReads>>,
}

/// Builds the router over a migrated, seeded database, with metrics of its own.
pub fn router(db: DatabaseConnection, config: &Config) -> AppResult<Router> {
    router_with_metrics(db, config, Arc::new(Metrics::new()))
}

/// Like [`router`], recording into `metrics` (which the worker shares, in `serve`).
pub fn router_with_metrics(
    db: DatabaseConnection,
    config: &Config,
    metrics: Arc<Metrics>,
) -> AppResult<Router> {
    let replica = match config.read_replica_url.as_deref().filter(|u| !u.is_empty()) {
        Some(url) => Some(Arc::new(
            crate::replica::Replica::checked_every(
                url,
                Duration::from_secs(config.max_replica_lag),
                Duration::from_secs(config.replica_check_secs.max(1)),
            )
            .map_err(|e| AppError::validation("read_replica_url", e.to_string()))?,
        )),
        None => None,
    };
    let schema = crate::graphql::schema::build_schema_with_replica(
        db.clone(),
        &config.limits,
        replica.clone(),
    )
    .map_err(|e| AppError::internal(format!("schema: {e}")))?;
    let limiter = Arc::new(crate::rate_limit::RateLimiter::for_database(
        config.limits.rate_limit_per_minute,
        config.limits.rate_limit_burst,
        &db,
    ));
    let validator = crate::graphql::schema::build_validator(db.clone(), &config.limits)
        .map_err(|e| AppError::internal(format!("schema: {e}")))?;
    let guard = Guard::new(&schema.sdl(), &config.limits)
        .map_err(|e| AppError::internal(format!("schema: {e}")))?;
    let request_timeout = Duration::from_secs(config.limits.request_timeout_secs);
    let state = AppState {
        guard: Arc::new(guard),
        tokens: Arc::new(crate::auth::TokenCache::default()),
        plans: Arc::default(),
        request_timeout,
        inline: crate::db::inline::InlineReads::of(&db).map(Arc::new),
        db,
        schema,
        validator,
        compiled_reads: config.compiled_reads,
        max_batch: config.limits.max_batch,
        limiter,
        replica,
        metrics,
    };
    let mut router = Router::new()
        .route(
            crate::http::GRAPHQL_PATH,
            get(graphql_get).post(graphql_post),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .merge(crate::pages::routes())
        .with_state(state)
        // A backstop: `http::body::limit` (next) has already read the body within the limit.
        .layer(RequestBodyLimitLayer::new(config.limits.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            config.limits.max_body_bytes,
            crate::http::body::limit,
        ))
        // A backstop: the GraphQL work itself is stopped at `request_timeout` (see `execute`).
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout + Duration::from_secs(2),
        ));
    // The limits' own plain-text refusals become GraphQL errors with a code...
    router = router.layer(axum::middleware::map_response(coded_refusals));
    // ...which, like every answer of /api/graphql, take the media type the client asked for.
    router = router.layer(axum::middleware::from_fn(
        crate::http::media::graphql_over_http,
    ));
    let origins = config.cors_origin_list();
    if !origins.is_empty() {
        let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    idempotency::KEY_HEADER,
                    context::REQUEST_ID,
                ])
                .expose_headers([idempotency::REPLAYED_HEADER, context::REQUEST_ID]),
        );
    }
    // Outermost: every answer, CORS preflights and refusals included, has an X-Request-Id.
    router = router.layer(axum::middleware::from_fn(context::middleware));
    Ok(router)
}

/// Rewrites the plain-text refusals of the HTTP layers (body limit 413, timeout 408, a bad
/// query string 400, …) into GraphQL error bodies with `extensions.code`.
async fn coded_refusals(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json
        || !(status.is_client_error() || status.is_server_error())
        || status == StatusCode::NOT_FOUND
    {
        return response;
    }
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => error_body(
            status,
            "the request body is larger than the limit",
            "QUERY_TOO_COMPLEX",
        ),
        StatusCode::REQUEST_TIMEOUT => error_response(status, timed_out()),
        StatusCode::SERVICE_UNAVAILABLE => response,
        s if s.is_client_error() => error_body(
            status,
            "the request is not a valid GraphQL request",
            "VALIDATION_FAILED",
        ),
        _ => error_response(status, AppError::internal(format!("HTTP {status}"))),
    }
}

/// Ready when the database answers (within two seconds). With a read replica the answer names its state too
/// (`ready; replica ok`, `lagging` or `down`): a replica that is down does not make the server
/// unready, since its reads fall back to the primary.
async fn readyz(State(state): State<AppState>) -> Response {
    // A replica that does not answer within a second is down (and does not make the server
    // unready).
    let replica = match &state.replica {
        Some(replica) => {
            let health = tokio::time::timeout(Duration::from_secs(1), replica.check())
                .await
                .unwrap_or(crate::replica::Health::Down);
            format!("; replica {}", health.as_str())
        }
        None => String::new(),
    };
    // A load balancer's health check gives up after a few seconds: answer within two.
    let ping = tokio::time::timeout(Duration::from_secs(2), state.db.ping()).await;
    match ping.unwrap_or_else(|_| Err(sea_orm::DbErr::Custom("no answer within 2 s".into()))) {
        Ok(()) => (StatusCode::OK, format!("ready{replica}")).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("database unreachable{replica}"),
            )
                .into_response()
        }
    }
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        {
            let mut text = state.metrics.render(&state.db).await;
            if let Some(replica) = &state.replica {
                text.push_str(&replica.metrics());
            }
            text
        },
    )
        .into_response()
}

#[derive(Deserialize)]
struct GetParams {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
}

async fn graphql_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<GetParams>,
) -> Response {
    let mut request = serde_json::json!({ "query": params.query.unwrap_or_default() });
    // GraphQL over HTTP: an empty optional parameter is the same as none.
    if let Some(name) = params.operation_name.filter(|name| !name.is_empty()) {
        request["operationName"] = serde_json::Value::String(name);
    }
    if let Some(vars) = params.variables {
        request["variables"] = serde_json::Value::String(vars);
    }
    execute(state, headers, request, true).await
}

async fn graphql_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if headers.contains_key(idempotency::KEY_HEADER) {
        return idempotency::keyed_post(state, headers, body).await;
    }
    post_once(state, headers, body).await
}

async fn post_once(state: AppState, headers: HeaderMap, body: Bytes) -> Response {
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(json) => execute(state, headers, json, false).await,
        Err(_) => {
            // Authentication still comes first: an anonymous caller learns nothing more.
            if let Err(resp) = authenticate(&state, &headers).await {
                return resp;
            }
            error_body(
                StatusCode::BAD_REQUEST,
                "the request body is not valid JSON",
                "VALIDATION_FAILED",
            )
        }
    }
}
