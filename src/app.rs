//! The HTTP surface: `/api/graphql` (POST, and GET for queries), `/graphiql` (the page and its
//! assets: [`crate::graphiql`]), `/healthz`, `/readyz`, `/metrics`; the request limits; and the
//! shared state.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_graphql::dataloader::DataLoader;
use async_graphql::dynamic::Schema;
use async_graphql::parser::types::OperationType;
use async_graphql::Response as GqlResponse;
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
use crate::error::{request_id, AppError, AppResult};
use crate::graphql::guard::Guard;
use crate::graphql::loader::RelLoader;
use crate::service::users;

mod idempotency;

#[derive(Default)]
pub struct Metrics {
    pub requests: AtomicU64,
    pub operations: AtomicU64,
    pub errors: AtomicU64,
    pub unauthenticated: AtomicU64,
    pub relation_batches: Arc<AtomicU64>,
}

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub schema: Schema,
    pub max_batch: usize,
    pub metrics: Arc<Metrics>,
    pub limiter: Arc<crate::rate_limit::RateLimiter>,
    pub guard: Arc<Guard>,
    /// How long one HTTP request may run, its GraphQL work included (CPU-bound or not).
    pub request_timeout: Duration,
}

/// Builds the router over a migrated, seeded database.
pub fn router(db: DatabaseConnection, config: &Config) -> AppResult<Router> {
    let schema = crate::graphql::build_schema(db.clone(), &config.limits)
        .map_err(|e| AppError::internal(format!("schema: {e}")))?;
    let guard = Guard::new(&schema.sdl(), &config.limits)
        .map_err(|e| AppError::internal(format!("schema: {e}")))?;
    let request_timeout = Duration::from_secs(config.limits.request_timeout_secs);
    let state = AppState {
        guard: Arc::new(guard),
        request_timeout,
        db,
        schema,
        max_batch: config.limits.max_batch,
        limiter: Arc::new(crate::rate_limit::RateLimiter::new(
            config.limits.rate_limit_per_minute,
            config.limits.rate_limit_burst,
        )),
        metrics: Arc::new(Metrics::default()),
    };
    let mut router = Router::new()
        .route("/api/graphql", get(graphql_get).post(graphql_post))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(crate::graphiql::routes())
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(config.limits.max_body_bytes))
        // A backstop: the GraphQL work itself is stopped at `request_timeout` (see `execute`).
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout + Duration::from_secs(2),
        ));
    // Outermost: the limits' own plain-text refusals become GraphQL errors with a code.
    router = router.layer(axum::middleware::map_response(coded_refusals));
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
                ])
                .expose_headers([idempotency::REPLAYED_HEADER]),
        );
    }
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
        StatusCode::REQUEST_TIMEOUT => app_error_response(status, timed_out()),
        StatusCode::SERVICE_UNAVAILABLE => response,
        s if s.is_client_error() => error_body(
            status,
            "the request is not a valid GraphQL request",
            "VALIDATION_FAILED",
        ),
        _ => app_error_response(status, AppError::internal(format!("HTTP {status}"))),
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> String {
    let m = &state.metrics;
    format!(
        "# TYPE fathom_http_requests_total counter\nfathom_http_requests_total {}\n\
         # TYPE fathom_graphql_operations_total counter\nfathom_graphql_operations_total {}\n\
         # TYPE fathom_graphql_errors_total counter\nfathom_graphql_errors_total {}\n\
         # TYPE fathom_unauthenticated_total counter\nfathom_unauthenticated_total {}\n\
         # TYPE fathom_relation_batches_total counter\nfathom_relation_batches_total {}\n",
        m.requests.load(Ordering::Relaxed),
        m.operations.load(Ordering::Relaxed),
        m.errors.load(Ordering::Relaxed),
        m.unauthenticated.load(Ordering::Relaxed),
        m.relation_batches.load(Ordering::Relaxed),
    )
}

fn error_body(status: StatusCode, message: &str, code: &str) -> Response {
    let body = serde_json::json!({
        "data": null,
        "errors": [{ "message": message, "extensions": { "code": code } }]
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn app_error_response(status: StatusCode, err: AppError) -> Response {
    let error = err.into_graphql();
    let body = serde_json::json!({
        "data": null,
        "errors": [{ "message": error.message, "extensions": error.extensions }]
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
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
    if let Some(name) = params.operation_name {
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

async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<crate::auth::CurrentUser, Response> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match users::authenticate(&state.db, crate::auth::bearer(header)).await {
        Ok(user) => Ok(user),
        Err(err @ AppError::Unauthenticated(_)) => {
            state
                .metrics
                .unauthenticated
                .fetch_add(1, Ordering::Relaxed);
            Err(app_error_response(StatusCode::UNAUTHORIZED, err))
        }
        Err(err) => Err(app_error_response(StatusCode::SERVICE_UNAVAILABLE, err)),
    }
}

/// Sonar clients sometimes send `variables` as a JSON-encoded string: accept both.
fn normalize_request(mut request: serde_json::Value) -> Result<serde_json::Value, AppError> {
    if let Some(vars) = request.get_mut("variables") {
        if let serde_json::Value::String(text) = vars {
            *vars = if text.trim().is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::from_str(text).map_err(|_| {
                    AppError::validation("variables", "variables is a string that is not JSON")
                })?
            };
        }
        if vars.is_null() {
            *vars = serde_json::json!({});
        }
    }
    Ok(request)
}

fn timed_out() -> AppError {
    AppError::QueryTooComplex(
        "the request did not finish within the time limit and was stopped; mutations in it \
         that had finished are kept (each is all or nothing), the rest wrote nothing; ask for \
         less at a time"
            .into(),
    )
}

/// A request refused before execution: the error has no location and no path.
fn refused(err: AppError) -> GqlResponse {
    let error = err.into_graphql();
    let mut server_error = async_graphql::ServerError::new(error.message, None);
    server_error.extensions = error.extensions;
    GqlResponse::from_errors(vec![server_error])
}

async fn execute(
    state: AppState,
    headers: HeaderMap,
    json: serde_json::Value,
    read_only: bool,
) -> Response {
    let deadline = tokio::time::Instant::now() + state.request_timeout;
    state.metrics.requests.fetch_add(1, Ordering::Relaxed);
    let user = match authenticate(&state, &headers).await {
        Ok(user) => user,
        Err(resp) => return resp,
    };
    let (items, batched) = match json {
        serde_json::Value::Array(items) => (items, true),
        single => (vec![single], false),
    };
    if items.is_empty() || items.len() > state.max_batch {
        return error_body(
            StatusCode::BAD_REQUEST,
            &format!("a batch holds 1 to {} operations", state.max_batch),
            "VALIDATION_FAILED",
        );
    }
    if let Some(response) = rate_refusal(&state, user.token_id, items.len()) {
        return response;
    }
    let mut requests = Vec::with_capacity(items.len());
    for item in items {
        let parsed = normalize_request(item).and_then(|v| {
            serde_json::from_value::<async_graphql::Request>(v).map_err(|_| {
                AppError::validation("query", "a GraphQL request needs a query string")
            })
        });
        match parsed {
            Ok(r) => requests.push(r),
            Err(err) => return app_error_response(StatusCode::BAD_REQUEST, err),
        }
    }
    // Each request is checked (nesting, depth, cost, input values) before async-graphql sees
    // it; its document is parsed here, once.
    let mut prepared = Vec::with_capacity(requests.len());
    let mut extra_writes = 0usize;
    for mut request in requests {
        let checked = state.guard.check(
            &request.query,
            &request.variables,
            request.operation_name.as_deref(),
        );
        prepared.push(match checked {
            Err(err) => Err(err),
            Ok(checked) => {
                let mutation = match checked.operation_type {
                    Some(ty) => ty == OperationType::Mutation,
                    None => has_mutation(&checked.document),
                };
                if read_only && mutation {
                    Err(AppError::validation(
                        "query",
                        "mutations must be sent with POST",
                    ))
                } else {
                    if mutation {
                        // Every mutation field is one operation for the rate limit.
                        extra_writes += checked.measure.root_fields.saturating_sub(1);
                    }
                    request.set_parsed_query(checked.document);
                    Ok(request)
                }
            }
        });
    }
    if extra_writes > 0 {
        if let Some(response) = rate_refusal(&state, user.token_id, extra_writes) {
            return response;
        }
    }
    let mut responses = Vec::with_capacity(prepared.len());
    for request in prepared {
        state.metrics.operations.fetch_add(1, Ordering::Relaxed);
        let request = match request {
            Ok(request) => request,
            Err(err) => {
                responses.push(refused(err));
                continue;
            }
        };
        let loader = DataLoader::with_cache(
            RelLoader {
                db: state.db.clone(),
                batches: state.metrics.relation_batches.clone(),
            },
            tokio::spawn,
            async_graphql::dataloader::HashMapCache::default(),
        )
        // Long enough for a whole page's parents to join one batch (their loads are issued
        // together); short, because each wave of relations waits once.
        .delay(Duration::from_millis(1));
        // Kept to place the `null`s of failed fields once the request has run.
        let (query, operation_name) = (request.query.clone(), request.operation_name.clone());
        let request = request.data(user.clone()).data(loader);
        // On a task of its own: a panic becomes an INTERNAL answer, and at the deadline the
        // work is aborted (at its next await; everything before it is bounded by the guard).
        let schema = state.schema.clone();
        let fixed_now = crate::service::fixed_now();
        let task = tokio::spawn(crate::service::idempotency::carry(async move {
            match fixed_now {
                Some(at) => crate::service::at_instant(at, schema.execute(request)).await,
                None => schema.execute(request).await,
            }
        }));
        let abort = task.abort_handle();
        let mut response = match tokio::time::timeout_at(deadline, task).await {
            Ok(Ok(response)) => response,
            Ok(Err(join)) => refused(AppError::internal(format!("request task failed: {join}"))),
            Err(_) => {
                abort.abort();
                return app_error_response(StatusCode::REQUEST_TIMEOUT, timed_out());
            }
        };
        crate::graphql::propagate::apply(
            &state.guard,
            &query,
            operation_name.as_deref(),
            &mut response,
        );
        ensure_codes(&mut response);
        if !response.errors.is_empty() {
            state.metrics.errors.fetch_add(1, Ordering::Relaxed);
        }
        responses.push(response);
    }
    let body = if batched {
        serde_json::to_string(&responses)
    } else {
        serde_json::to_string(&responses[0])
    };
    match body {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(e) => app_error_response(StatusCode::INTERNAL_SERVER_ERROR, AppError::internal(e)),
    }
}

/// Takes `cost` operations from the token's rate budget; when it has too few, the 429 answer.
fn rate_refusal(state: &AppState, token_id: i64, cost: usize) -> Option<Response> {
    let cost = u32::try_from(cost).unwrap_or(u32::MAX);
    state.limiter.check(token_id, cost).err().map(|wait| {
        let seconds = wait.as_secs() + 1;
        let mut response = app_error_response(
            StatusCode::TOO_MANY_REQUESTS,
            AppError::RateLimited(seconds),
        );
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    })
}

fn has_mutation(doc: &async_graphql::parser::types::ExecutableDocument) -> bool {
    use async_graphql::parser::types::DocumentOperations;
    match &doc.operations {
        DocumentOperations::Single(op) => op.node.ty == OperationType::Mutation,
        DocumentOperations::Multiple(ops) => {
            ops.values().any(|op| op.node.ty == OperationType::Mutation)
        }
    }
}

/// Gives every error an `extensions.code`: parse and validation errors (no path) are
/// `VALIDATION_FAILED` (with `extensions.field` naming the input when a value did not fit
/// its type), or `QUERY_TOO_COMPLEX` for the depth and directive limits; an
/// execution error without a code is `INTERNAL`, its message replaced by a request id.
fn ensure_codes(response: &mut GqlResponse) {
    for err in &mut response.errors {
        let has_code = err
            .extensions
            .as_ref()
            .is_some_and(|e| e.get("code").is_some());
        if has_code {
            continue;
        }
        let mut ext = err.extensions.take().unwrap_or_default();
        if err.path.is_empty() {
            let lower = err.message.to_lowercase();
            let code = if lower.contains("nested too deep")
                || lower.contains("too complex")
                || lower.contains("recursion limit")
                || lower.contains("recursion depth")
                || lower.contains("directives")
            {
                "QUERY_TOO_COMPLEX"
            } else {
                "VALIDATION_FAILED"
            };
            ext.set("code", code);
            // A value that does not fit its input type: name it, and say what was expected.
            if let Some((field, message)) = crate::graphql::coercion::explain(&err.message) {
                ext.set("field", field);
                err.message = message;
            }
        } else {
            let id = request_id();
            tracing::error!(request_id = %id, detail = %err.message, "uncoded resolver error");
            err.message = format!("internal error (request id {id})");
            ext.set("code", "INTERNAL");
            ext.set("request_id", id);
        }
        err.extensions = Some(ext);
    }
}
