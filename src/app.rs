//! The HTTP surface: `/api/graphql` (POST, and GET for queries), `/graphiql` (the page and its
//! assets: [`crate::graphiql`]), `/healthz`, `/readyz`, `/metrics`; the request limits; and the
//! shared state. The layers around the routes (request ids and the access log, media types,
//! request bodies) are in [`crate::http`].

use std::sync::Arc;
use std::time::{Duration, Instant};

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
use crate::error::{AppError, AppResult};
use crate::graphql::compiled::Outcome;
use crate::graphql::errors::{request_id, IntoGraphql};
use crate::graphql::guard::Guard;
use crate::graphql::loader::RelLoader;
use crate::http::media::RequestErrors;
use crate::http::{context, error_body};
use crate::metrics::Metrics;
use crate::service::{access::tokens, base::clock};

mod idempotency;

/// Where GraphQL is served (Sonar's path).
pub const GRAPHQL_PATH: &str = "/api/graphql";

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
    /// How long one HTTP request may run, its GraphQL work included (CPU-bound or not).
    pub request_timeout: Duration,
    /// The read replica, if any (`FATHOM_READ_REPLICA_URL`).
    pub replica: Option<Arc<crate::replica::Replica>>,
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
            crate::replica::Replica::new(url, Duration::from_secs(config.max_replica_lag))
                .map_err(|e| AppError::validation("read_replica_url", e.to_string()))?,
        )),
        None => None,
    };
    let schema =
        crate::graphql::build_schema_with_replica(db.clone(), &config.limits, replica.clone())
            .map_err(|e| AppError::internal(format!("schema: {e}")))?;
    let limiter = Arc::new(crate::rate_limit::RateLimiter::for_database(
        config.limits.rate_limit_per_minute,
        config.limits.rate_limit_burst,
        &db,
    ));
    let validator = crate::graphql::build_validator(db.clone(), &config.limits)
        .map_err(|e| AppError::internal(format!("schema: {e}")))?;
    let guard = Guard::new(&schema.sdl(), &config.limits)
        .map_err(|e| AppError::internal(format!("schema: {e}")))?;
    let request_timeout = Duration::from_secs(config.limits.request_timeout_secs);
    let state = AppState {
        guard: Arc::new(guard),
        tokens: Arc::new(crate::auth::TokenCache::default()),
        request_timeout,
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
        .route(GRAPHQL_PATH, get(graphql_get).post(graphql_post))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .merge(crate::graphiql::routes())
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

/// Ready when the database answers. With a read replica the answer names its state too
/// (`ready; replica ok`, `lagging` or `down`): a replica that is down does not make the server
/// unready, since its reads fall back to the primary.
async fn readyz(State(state): State<AppState>) -> Response {
    let replica = match &state.replica {
        Some(replica) => format!("; replica {}", replica.check().await.as_str()),
        None => String::new(),
    };
    match state.db.ping().await {
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

/// Authenticates the request in full (one statement), and remembers the answer for compiled
/// reads ([`crate::auth::TokenCache`]).
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<crate::auth::CurrentUser, Response> {
    authenticate_stamped(state, headers)
        .await
        .map(|(user, _)| user)
}

fn bearer_of(headers: &HeaderMap) -> Option<&str> {
    crate::auth::bearer(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )
}

/// [`authenticate`], with the token's hash and stamp.
async fn authenticate_stamped(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(crate::auth::CurrentUser, (String, String)), Response> {
    let answer = match tokens::parse_bearer(bearer_of(headers)) {
        Ok(token) => tokens::authenticate_stamped(&state.db, &token)
            .await
            .map(|(user, stamp)| (user, (token.hash(), stamp))),
        Err(err) => Err(err),
    };
    match answer {
        Ok((user, (hash, stamp))) => {
            context::set_token(user.token_id);
            state.tokens.put(hash.clone(), user.clone(), stamp.clone());
            Ok((user, (hash, stamp)))
        }
        Err(err @ AppError::Unauthenticated(_)) => {
            state.metrics.unauthenticated();
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
    // A request answered with a cached authentication that turns out stale is answered
    // again, authenticated in full.
    let again = (state.clone(), headers.clone(), json.clone(), read_only);
    match execute_as(state, headers, json, read_only, true).await {
        Ok(response) => response,
        Err(Stale) => {
            let (state, headers, json, read_only) = again;
            match execute_as(state, headers, json, read_only, false).await {
                Ok(response) => response,
                Err(Stale) => app_error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    AppError::internal("authentication kept changing during the request"),
                ),
            }
        }
    }
}

/// A cached authentication was found stale: the request must start again.
struct Stale;

/// Answers one request. With `cached`, a token authenticated in the last minute is taken from
/// [`crate::auth::TokenCache`] unverified: a compiled read confirms it in its own statement,
/// and before anything else answers the token is authenticated in full; either finding it
/// changed gives `Err(Stale)`.
async fn execute_as(
    state: AppState,
    headers: HeaderMap,
    json: serde_json::Value,
    read_only: bool,
    cached: bool,
) -> Result<Response, Stale> {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + state.request_timeout;
    state.metrics.request();
    // A refusal before any operation ran is timed under the operation label known by then.
    let refuse = |label: &str, code: &str, response: Response| {
        state.metrics.refused(label, code, started.elapsed());
        response
    };
    let unauthenticated = |resp: Response| {
        let code = if resp.status() == StatusCode::UNAUTHORIZED {
            "UNAUTHENTICATED"
        } else {
            "INTERNAL"
        };
        state.metrics.refused("unknown", code, started.elapsed());
        resp
    };
    let from_cache = cached
        .then(|| tokens::parse_bearer(bearer_of(&headers)).ok())
        .flatten()
        .and_then(|token| {
            let hash = token.hash();
            state.tokens.get(&hash).map(|c| (c, hash))
        });
    // `check`: the cached authentication not yet confirmed (its token hash and stamp).
    let (user, mut check) = match from_cache {
        Some((cached, hash)) => {
            context::set_token(cached.user.token_id);
            (cached.user, Some((hash, cached.stamp)))
        }
        None => match authenticate(&state, &headers).await {
            Ok(user) => (user, None),
            Err(resp) => return Ok(unauthenticated(resp)),
        },
    };
    // Before anything but a compiled read answers: the cached authentication confirmed.
    macro_rules! confirm {
        () => {
            if let Some((_, stamp)) = check.take() {
                match authenticate_stamped(&state, &headers).await {
                    Ok((_, (_, current))) if current == stamp => {}
                    Ok(_) => return Err(Stale),
                    Err(resp) => return Ok(unauthenticated(resp)),
                }
            }
        };
    }
    let (items, batched) = match json {
        serde_json::Value::Array(items) => (items, true),
        single => (vec![single], false),
    };
    if items.is_empty() || items.len() > state.max_batch {
        confirm!();
        return Ok(refuse(
            "unknown",
            "VALIDATION_FAILED",
            error_body(
                StatusCode::BAD_REQUEST,
                &format!("a batch holds 1 to {} operations", state.max_batch),
                "VALIDATION_FAILED",
            ),
        ));
    }
    if let Some(response) = rate_refusal(&state, user.token_id, items.len()).await {
        confirm!();
        return Ok(refuse("unknown", "RATE_LIMITED", response));
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
            Err(err) => {
                confirm!();
                return Ok(refuse(
                    "unknown",
                    err.code(),
                    app_error_response(StatusCode::BAD_REQUEST, err),
                ));
            }
        }
    }
    // Each request is checked (nesting, depth, cost, input values) before async-graphql sees
    // it; its document is parsed here, once.
    let mut prepared = Vec::with_capacity(requests.len());
    let mut extra_writes = 0usize;
    // A request that carries a mutation reads the primary throughout (a replica could answer
    // a read after the mutation without it).
    let mut any_mutation = false;
    for mut request in requests {
        let checked = state.guard.check(
            &request.query,
            &request.variables,
            request.operation_name.as_deref(),
        );
        let checked = match checked {
            Ok(checked) => checked,
            Err(err) => {
                let label = state
                    .metrics
                    .operation_label(request.operation_name.as_deref());
                prepared.push((Err(err), label, None));
                continue;
            }
        };
        let name = request
            .operation_name
            .clone()
            .or_else(|| only_operation_name(&checked.document));
        let label = state.metrics.operation_label(name.as_deref());
        let mutation = match checked.operation_type {
            Some(ty) => ty == OperationType::Mutation,
            None => has_mutation(&checked.document),
        };
        if read_only && mutation {
            // GraphQL over HTTP: a mutation sent with GET is 405, and names the method to use.
            context::set_operation(label.clone());
            let mut response = app_error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                AppError::validation("query", "mutations must be sent with POST"),
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            confirm!();
            return Ok(refuse(&label, "VALIDATION_FAILED", response));
        }
        any_mutation |= mutation;
        if mutation {
            // Every mutation field is one operation for the rate limit.
            extra_writes += checked.measure.root_fields.saturating_sub(1);
        }
        fill_variable_defaults(
            &checked.document,
            request.operation_name.as_deref(),
            &mut request.variables,
        );
        let compiled = if mutation || !state.compiled_reads {
            None
        } else {
            crate::graphql::compiled::plan(
                &checked.document,
                request.operation_name.as_deref(),
                &request.variables,
                &user,
            )
            .map(|plan| (plan, checked.document.clone()))
        };
        request.set_parsed_query(checked.document);
        prepared.push((Ok(request), label, compiled));
    }
    context::set_operation(
        prepared
            .iter()
            .map(|(_, label, _)| label.as_str())
            .collect::<Vec<_>>()
            .join(","),
    );
    if extra_writes > 0 {
        if let Some(response) = rate_refusal(&state, user.token_id, extra_writes).await {
            let label = prepared
                .first()
                .map_or("unknown", |(_, label, _)| label.as_str());
            confirm!();
            return Ok(refuse(label, "RATE_LIMITED", response));
        }
    }
    let request_context = context::current();
    let mut responses = Vec::with_capacity(prepared.len());
    let mut request_errors = Vec::with_capacity(prepared.len());
    let mut operation_started = started;
    for (request, label, compiled) in prepared {
        let request = match request {
            Ok(request) => request,
            Err(err) => {
                confirm!();
                let response = refused(err);
                state.metrics.operation(
                    &label,
                    crate::metrics::outcome(&response),
                    operation_started.elapsed(),
                );
                operation_started = Instant::now();
                request_errors.push(true);
                responses.push(Answer::Response(response));
                continue;
            }
        };
        if let Some((plan, document)) = compiled {
            let answer =
                answer_compiled(&state, &request, plan, document, deadline, check.as_ref()).await;
            state
                .metrics
                .compiled_read(matches!(answer, Ok(Outcome::Answer(_))));
            match answer {
                Ok(Outcome::Stale) => {
                    if let Some((hash, _)) = &check {
                        state.tokens.forget(hash);
                    }
                    return Err(Stale);
                }
                Ok(Outcome::Answer(body)) => {
                    // The statement confirmed the cached authentication.
                    check = None;
                    state
                        .metrics
                        .operation(&label, "ok", operation_started.elapsed());
                    operation_started = Instant::now();
                    request_errors.push(false);
                    responses.push(Answer::Compiled(body));
                    continue;
                }
                Ok(Outcome::Fallback) => {}
                Err(()) => {
                    let err = timed_out();
                    state
                        .metrics
                        .operation(&label, err.code(), operation_started.elapsed());
                    return Ok(app_error_response(StatusCode::REQUEST_TIMEOUT, err));
                }
            }
        }
        confirm!();
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
        let mut request = request.data(user.clone()).data(loader);
        if any_mutation {
            request = request.data(crate::graphql::PrimaryOnly);
        }
        // On a task of its own: a panic becomes an INTERNAL answer, and at the deadline the
        // work is aborted (at its next await; everything before it is bounded by the guard).
        // The task keeps the request's context (its id for INTERNAL errors).
        let schema = state.schema.clone();
        let fixed_now = clock::fixed_now();
        let task = tokio::spawn(context::scope(
            request_context.clone(),
            crate::service::base::idempotency::carry(async move {
                match fixed_now {
                    Some(at) => clock::at_instant(at, schema.execute(request)).await,
                    None => schema.execute(request).await,
                }
            }),
        ));
        let abort = task.abort_handle();
        let mut response = match tokio::time::timeout_at(deadline, task).await {
            Ok(Ok(response)) => response,
            Ok(Err(join)) => refused(AppError::internal(format!("request task failed: {join}"))),
            Err(_) => {
                abort.abort();
                let err = timed_out();
                state
                    .metrics
                    .operation(&label, err.code(), operation_started.elapsed());
                return Ok(app_error_response(StatusCode::REQUEST_TIMEOUT, err));
            }
        };
        crate::graphql::propagate::apply(
            &state.guard,
            &query,
            operation_name.as_deref(),
            &mut response,
        );
        request_errors.push(crate::http::media::is_request_error(&response));
        ensure_codes(&mut response);
        state.metrics.operation(
            &label,
            crate::metrics::outcome(&response),
            operation_started.elapsed(),
        );
        operation_started = Instant::now();
        responses.push(Answer::Response(response));
    }
    let body = if batched {
        let mut body = String::from("[");
        for (i, answer) in responses.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            match answer.to_json() {
                Ok(json) => body.push_str(&json),
                Err(e) => {
                    return Ok(app_error_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        AppError::internal(e),
                    ))
                }
            }
        }
        body.push(']');
        Ok(body)
    } else {
        responses[0].to_json()
    };
    let mut response = match body {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(e) => app_error_response(StatusCode::INTERNAL_SERVER_ERROR, AppError::internal(e)),
    };
    response
        .extensions_mut()
        .insert(RequestErrors(request_errors));
    Ok(response)
}

/// The answer to one operation of a request.
enum Answer {
    /// From async-graphql's executor.
    Response(GqlResponse),
    /// From the compiled read path: the response's JSON, written already.
    Compiled(String),
}

impl Answer {
    fn to_json(&self) -> serde_json::Result<String> {
        match self {
            Answer::Response(response) => serde_json::to_string(response),
            Answer::Compiled(body) => Ok(body.clone()),
        }
    }
}

/// Answers a query through the compiled read path once the validating schema has accepted
/// it: `Fallback` when the general path must answer instead (the document is invalid — the
/// general path reports why — or the plan fell back), `Err` at the deadline. `check`: a
/// cached authentication (token hash, stamp) for the statement to confirm.
async fn answer_compiled(
    state: &AppState,
    request: &async_graphql::Request,
    plan: crate::graphql::compiled::Plan,
    document: async_graphql::parser::types::ExecutableDocument,
    deadline: tokio::time::Instant,
    check: Option<&(String, String)>,
) -> Result<Outcome, ()> {
    let mut validation =
        async_graphql::Request::new(request.query.clone()).variables(request.variables.clone());
    validation.operation_name = request.operation_name.clone();
    validation.set_parsed_query(document);
    let validator = state.validator.clone();
    let db = state.db.clone();
    let confirm = check.cloned();
    let task = tokio::spawn(context::scope(context::current(), async move {
        if !validator.execute(validation).await.errors.is_empty() {
            return Outcome::Fallback;
        }
        let confirm = confirm.as_ref().map(|(h, s)| (h.as_str(), s.as_str()));
        plan.run(&db, confirm).await
    }));
    let abort = task.abort_handle();
    match tokio::time::timeout_at(deadline, task).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(_)) => Ok(Outcome::Fallback),
        Err(_) => {
            abort.abort();
            Err(())
        }
    }
}

/// Gives every variable the operation declares with a default, and the request leaves out,
/// its default (GraphQL's CoerceVariableValues). async-graphql applies defaults where a
/// variable is an argument but not in `@skip`/`@include`, which it evaluates on the
/// variables as sent: without this, `@include(if: $x)` with `$x: Boolean = true` left out
/// would drop the field.
fn fill_variable_defaults(
    document: &async_graphql::parser::types::ExecutableDocument,
    operation_name: Option<&str>,
    variables: &mut async_graphql::Variables,
) {
    use async_graphql::parser::types::DocumentOperations;
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), _) => &op.node,
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
            Some(op) => &op.node,
            None => return,
        },
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => match ops.values().next() {
            Some(op) => &op.node,
            None => return,
        },
        _ => return,
    };
    for definition in &operation.variable_definitions {
        let definition = &definition.node;
        if let Some(default) = &definition.default_value {
            if !variables.contains_key(&definition.name.node) {
                variables.insert(definition.name.node.clone(), default.node.clone());
            }
        }
    }
}

/// The name of the document's operation when it holds exactly one, named.
fn only_operation_name(
    document: &async_graphql::parser::types::ExecutableDocument,
) -> Option<String> {
    use async_graphql::parser::types::DocumentOperations;
    match &document.operations {
        DocumentOperations::Multiple(ops) if ops.len() == 1 => {
            ops.keys().next().map(|name| name.to_string())
        }
        _ => None,
    }
}

/// Takes `cost` operations from the token's rate budget; when it has too few, the 429 answer.
async fn rate_refusal(state: &AppState, token_id: i64, cost: usize) -> Option<Response> {
    let cost = u32::try_from(cost).unwrap_or(u32::MAX);
    state.limiter.check(token_id, cost).await.err().map(|wait| {
        state.metrics.rate_limited();
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
/// its type); an
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
            // The limits (depth, cost, nesting, directives) are checked before async-graphql
            // sees the document (`graphql::guard`), so what it refuses here is invalid.
            ext.set("code", "VALIDATION_FAILED");
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
