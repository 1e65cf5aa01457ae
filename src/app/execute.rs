//! Carrying out a GraphQL request: authenticated, parsed as a batch, each operation checked and
//! prepared, run (by the compiled read path or async-graphql's executor) and encoded, each
//! phase a method of [`Run`] that hands the next what it needs or ends the request with an
//! [`Exit`].

use std::time::{Duration, Instant};

use async_graphql::dataloader::DataLoader;
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::Response as GqlResponse;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::authenticate::{authenticate, authenticate_stamped, bearer_of};
use super::AppState;
use crate::error::AppError;
use crate::graphql::execution::{
    compiled::{
        cache::{Key, Known},
        Outcome, Plan,
    },
    errors::{request_id, IntoGraphql},
    loader::RelLoader,
};
use crate::http::media::RequestErrors;
use crate::http::{context, error_body, error_response};
use crate::service::{access::tokens, base::clock};

pub(super) fn timed_out() -> AppError {
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

pub(super) async fn execute(
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
                Err(Stale) => error_response(
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
///
/// The request goes through named phases, each of which either hands the next what it needs
/// or ends the request with an [`Exit`]: [`Run::authenticate`], [`Run::parse_batch`],
/// [`Run::prepare`], [`Run::run_all`], then [`encode`].
async fn execute_as(
    state: AppState,
    headers: HeaderMap,
    json: serde_json::Value,
    read_only: bool,
    cached: bool,
) -> Result<Response, Stale> {
    state.metrics.request();
    let started = Instant::now();
    let outcome = async {
        let mut run = Run::authenticate(&state, &headers, started, cached).await?;
        let (requests, batched) = run.parse_batch(json).await?;
        let (prepared, any_mutation) = run.prepare(requests, read_only).await?;
        let (answers, request_errors) = run.run_all(prepared, any_mutation).await?;
        Ok(encode(&answers, batched, request_errors))
    }
    .await;
    match outcome {
        Ok(response) | Err(Exit::Answer(response)) => Ok(response),
        Err(Exit::Stale) => Err(Stale),
    }
}

/// How a request ends before its last phase.
enum Exit {
    /// With this answer (a refusal, a timeout).
    Answer(Response),
    /// The cached authentication turned out stale: start again, authenticating in full.
    Stale,
}

/// One request on its way through the phases.
struct Run<'s> {
    state: &'s AppState,
    headers: &'s HeaderMap,
    started: Instant,
    deadline: tokio::time::Instant,
    user: crate::auth::CurrentUser,
    /// The cached authentication not yet confirmed (its token hash and stamp).
    check: Option<(String, String)>,
}

/// One operation of a batch, checked: the request ready to run (or why it is refused), its
/// metrics label, and its compiled plan when the compiled read path may answer it.
struct Prepared {
    request: Result<async_graphql::Request, AppError>,
    label: String,
    compiled: Option<Compiled>,
}

/// A plan made for this request, with the document it was made from and the key it is to be
/// kept under.
struct Fresh {
    plan: Plan,
    document: ExecutableDocument,
    key: Option<Key>,
}

/// How the compiled read path may answer an operation.
enum Compiled {
    /// With a plan made for this request: the document is validated first, and the plan
    /// kept under `key` once it has answered.
    Fresh(Box<Fresh>),
    /// With a plan that answered the same request before
    /// ([`crate::graphql::execution::compiled::cache`]).
    Known(std::sync::Arc<Known>),
}

impl<'s> Run<'s> {
    /// Phase 1: who is asking. A cached authentication is taken as it is (to be confirmed
    /// later); otherwise the token is authenticated in full.
    async fn authenticate(
        state: &'s AppState,
        headers: &'s HeaderMap,
        started: Instant,
        cached: bool,
    ) -> Result<Run<'s>, Exit> {
        let deadline = tokio::time::Instant::now() + state.request_timeout;
        let from_cache = cached
            .then(|| tokens::parse_bearer(bearer_of(headers)).ok())
            .flatten()
            .and_then(|token| {
                let hash = token.hash();
                state.tokens.get(&hash).map(|c| (c, hash))
            });
        let (user, check) = match from_cache {
            Some((cached, hash)) => {
                context::set_token(cached.user.token_id);
                (cached.user, Some((hash, cached.stamp)))
            }
            None => match authenticate(state, headers).await {
                Ok(user) => (user, None),
                Err(response) => {
                    return Err(Exit::Answer(unauthenticated(state, started, response)))
                }
            },
        };
        Ok(Run {
            state,
            headers,
            started,
            deadline,
            user,
            check,
        })
    }

    /// Confirms a cached authentication before anything but a compiled read answers.
    async fn confirm(&mut self) -> Result<(), Exit> {
        if let Some((_, stamp)) = self.check.take() {
            match authenticate_stamped(self.state, self.headers).await {
                Ok((_, (_, current))) if current == stamp => {}
                Ok(_) => return Err(Exit::Stale),
                Err(response) => {
                    return Err(Exit::Answer(unauthenticated(
                        self.state,
                        self.started,
                        response,
                    )))
                }
            }
        }
        Ok(())
    }

    /// Ends the request with a refusal, counted under `label` (the authentication confirmed
    /// first: a stale one answers nothing).
    async fn refuse(&mut self, label: &str, code: &str, response: Response) -> Exit {
        if let Err(exit) = self.confirm().await {
            return exit;
        }
        self.state
            .metrics
            .refused(label, code, self.started.elapsed());
        Exit::Answer(response)
    }

    /// Phase 2: the body as a batch of GraphQL requests, within the batch limit and the
    /// caller's rate budget.
    async fn parse_batch(
        &mut self,
        json: serde_json::Value,
    ) -> Result<(Vec<async_graphql::Request>, bool), Exit> {
        let (items, batched) = match json {
            serde_json::Value::Array(items) => (items, true),
            single => (vec![single], false),
        };
        if items.is_empty() || items.len() > self.state.max_batch {
            let response = error_body(
                StatusCode::BAD_REQUEST,
                &format!("a batch holds 1 to {} operations", self.state.max_batch),
                "VALIDATION_FAILED",
            );
            return Err(self.refuse("unknown", "VALIDATION_FAILED", response).await);
        }
        if let Some(response) = rate_refusal(self.state, self.user.token_id, items.len()).await {
            return Err(self.refuse("unknown", "RATE_LIMITED", response).await);
        }
        let mut requests = Vec::with_capacity(items.len());
        for item in items {
            let parsed = normalize_request(item).and_then(|v| {
                serde_json::from_value::<async_graphql::Request>(v).map_err(|_| {
                    AppError::validation("query", "a GraphQL request needs a query string")
                })
            });
            match parsed {
                Ok(request) => requests.push(request),
                Err(err) => {
                    let code = err.code();
                    let response = error_response(StatusCode::BAD_REQUEST, err);
                    return Err(self.refuse("unknown", code, response).await);
                }
            }
        }
        Ok((requests, batched))
    }

    /// Phase 3: each request checked (nesting, depth, cost, input values) before
    /// async-graphql sees it, its document parsed here once, its variables' defaults filled
    /// in, and its compiled plan made when it is a query the compiled path may answer. A
    /// mutation sent with GET ends the request; every mutation field past the first takes one
    /// more from the rate budget. Also says whether any request carries a mutation (the whole
    /// request then reads the primary: a replica could answer a read after the mutation
    /// without it).
    async fn prepare(
        &mut self,
        requests: Vec<async_graphql::Request>,
        read_only: bool,
    ) -> Result<(Vec<Prepared>, bool), Exit> {
        let state = self.state;
        let mut prepared = Vec::with_capacity(requests.len());
        let mut extra_writes = 0usize;
        let mut any_mutation = false;
        for mut request in requests {
            let key = state
                .compiled_reads
                .then(|| Key::of(&request, &self.user))
                .flatten();
            if let Some(known) = key.as_ref().and_then(|key| state.plans.get(key)) {
                prepared.push(Prepared {
                    request: Ok(request),
                    label: known.label.clone(),
                    compiled: Some(Compiled::Known(known)),
                });
                continue;
            }
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
                    prepared.push(Prepared {
                        request: Err(err),
                        label,
                        compiled: None,
                    });
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
                // GraphQL over HTTP: a mutation sent with GET is 405, and names the method to
                // use.
                context::set_operation(label.clone());
                let mut response = error_response(
                    StatusCode::METHOD_NOT_ALLOWED,
                    AppError::validation("query", "mutations must be sent with POST"),
                );
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST"));
                return Err(self.refuse(&label, "VALIDATION_FAILED", response).await);
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
                crate::graphql::execution::compiled::plan(
                    &checked.document,
                    request.operation_name.as_deref(),
                    &request.variables,
                    &self.user,
                )
                .map(|plan| {
                    Compiled::Fresh(Box::new(Fresh {
                        plan,
                        document: checked.document.clone(),
                        key,
                    }))
                })
            };
            request.set_parsed_query(checked.document);
            prepared.push(Prepared {
                request: Ok(request),
                label,
                compiled,
            });
        }
        context::set_operation(
            prepared
                .iter()
                .map(|p| p.label.as_str())
                .collect::<Vec<_>>()
                .join(","),
        );
        if extra_writes > 0 {
            if let Some(response) = rate_refusal(state, self.user.token_id, extra_writes).await {
                let label = prepared
                    .first()
                    .map_or("unknown".to_owned(), |p| p.label.clone());
                return Err(self.refuse(&label, "RATE_LIMITED", response).await);
            }
        }
        Ok((prepared, any_mutation))
    }

    /// Phase 4: each operation answered in turn, by the compiled read path when it can, by
    /// async-graphql's executor otherwise; with whether each answer is a request error.
    async fn run_all(
        &mut self,
        prepared: Vec<Prepared>,
        any_mutation: bool,
    ) -> Result<(Vec<Answer>, Vec<bool>), Exit> {
        let mut answers = Vec::with_capacity(prepared.len());
        let mut request_errors = Vec::with_capacity(prepared.len());
        let mut operation_started = self.started;
        for Prepared {
            request,
            label,
            compiled,
        } in prepared
        {
            let (answer, request_error) = match request {
                Err(err) => {
                    self.confirm().await?;
                    let response = refused(err);
                    self.state.metrics.operation(
                        &label,
                        crate::metrics::outcome(&response),
                        operation_started.elapsed(),
                    );
                    (Answer::Response(response), true)
                }
                Ok(mut request) => {
                    let compiled = match compiled {
                        Some(compiled) => {
                            self.run_compiled(&mut request, compiled, &label, operation_started)
                                .await?
                        }
                        None => None,
                    };
                    match compiled {
                        Some(answer) => (answer, false),
                        None => {
                            self.run_general(request, &label, operation_started, any_mutation)
                                .await?
                        }
                    }
                }
            };
            operation_started = Instant::now();
            answers.push(answer);
            request_errors.push(request_error);
        }
        Ok((answers, request_errors))
    }

    /// A query through the compiled read path: its answer, or `None` when the general path
    /// must answer it instead.
    async fn run_compiled(
        &mut self,
        request: &mut async_graphql::Request,
        compiled: Compiled,
        label: &str,
        operation_started: Instant,
    ) -> Result<Option<Answer>, Exit> {
        let state = self.state;
        let confirm = self.check.as_ref();
        let answer = match compiled {
            Compiled::Fresh(fresh) => {
                let Fresh {
                    plan,
                    document,
                    key,
                } = *fresh;
                let plan = std::sync::Arc::new(plan);
                let known = key.map(|key| (key, document.clone()));
                let answer = answer_compiled(
                    state,
                    request,
                    plan.clone(),
                    document,
                    self.deadline,
                    confirm,
                )
                .await;
                if let (Ok(Outcome::Answer(_)), Some((key, document))) = (&answer, known) {
                    state.plans.insert(
                        key,
                        Known {
                            plan,
                            label: label.to_owned(),
                            document,
                        },
                    );
                }
                answer
            }
            Compiled::Known(known) => {
                use futures_util::FutureExt as _;
                let confirm = confirm.map(|(h, s)| (h.as_str(), s.as_str()));
                // As on a task of its own (the fresh path's): a panic falls back.
                let inline = state.inline.as_deref();
                let run = std::panic::AssertUnwindSafe(known.plan.run(&state.db, inline, confirm))
                    .catch_unwind()
                    .map(|ran| ran.unwrap_or(Outcome::Fallback));
                let answer = tokio::time::timeout_at(self.deadline, run)
                    .await
                    .map_err(|_| ());
                if matches!(answer, Ok(Outcome::Fallback)) {
                    // The general path answers from the document as the first request had
                    // it: parsed, its variables' defaults filled in.
                    fill_variable_defaults(
                        &known.document,
                        request.operation_name.as_deref(),
                        &mut request.variables,
                    );
                    request.set_parsed_query(known.document.clone());
                }
                answer
            }
        };
        state
            .metrics
            .compiled_read(matches!(answer, Ok(Outcome::Answer(_))));
        match answer {
            Ok(Outcome::Stale) => {
                if let Some((hash, _)) = &self.check {
                    state.tokens.forget(hash);
                }
                Err(Exit::Stale)
            }
            Ok(Outcome::Answer(body)) => {
                // The statement confirmed the cached authentication.
                self.check = None;
                state
                    .metrics
                    .operation(label, "ok", operation_started.elapsed());
                Ok(Some(Answer::Compiled(body)))
            }
            Ok(Outcome::Fallback) => Ok(None),
            // Nothing is told but to retry: no need to confirm the cached token first (which
            // would wait for the database a second time).
            Ok(Outcome::Unavailable(err)) => {
                state
                    .metrics
                    .operation(label, err.code(), operation_started.elapsed());
                Ok(Some(Answer::Response(refused(err))))
            }
            Err(()) => Err(self.timed_out(label, operation_started).await),
        }
    }

    /// An operation through async-graphql's executor, on a task of its own: a panic becomes
    /// an `INTERNAL` answer, and at the deadline the work is aborted (at its next await;
    /// everything before it is bounded by the guard). The task keeps the request's context
    /// (its id for `INTERNAL` errors).
    async fn run_general(
        &mut self,
        request: async_graphql::Request,
        label: &str,
        operation_started: Instant,
        any_mutation: bool,
    ) -> Result<(Answer, bool), Exit> {
        self.confirm().await?;
        let state = self.state;
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
        let mut request = request.data(self.user.clone()).data(loader);
        if any_mutation {
            request = request.data(crate::graphql::execution::resolver::PrimaryOnly);
        }
        let schema = state.schema.clone();
        let fixed_now = clock::fixed_now();
        let task = tokio::spawn(context::scope(
            context::current(),
            crate::service::base::idempotency::carry(async move {
                match fixed_now {
                    Some(at) => clock::at_instant(at, schema.execute(request)).await,
                    None => schema.execute(request).await,
                }
            }),
        ));
        let abort = task.abort_handle();
        let mut response = match tokio::time::timeout_at(self.deadline, task).await {
            Ok(Ok(response)) => response,
            Ok(Err(join)) => refused(AppError::internal(format!("request task failed: {join}"))),
            Err(_) => {
                abort.abort();
                return Err(self.timed_out(label, operation_started).await);
            }
        };
        crate::graphql::execution::propagate::apply(
            &state.guard,
            &query,
            operation_name.as_deref(),
            &mut response,
        );
        let request_error = crate::http::media::is_request_error(&response);
        ensure_codes(&mut response);
        state.metrics.operation(
            label,
            crate::metrics::outcome(&response),
            operation_started.elapsed(),
        );
        Ok((Answer::Response(response), request_error))
    }

    /// Ends the request at its deadline: 408, counted under `label`.
    ///
    /// A request that reached its limit because the database stopped answering is not a
    /// query that asked too much: when the database does not answer a ping within
    /// [`PING_AT_TIMEOUT`], the answer is `UNAVAILABLE` (503, `Retry-After`) instead. A pool
    /// with every connection busy is a server under load, not a database away: then the ping
    /// is not waited for, and the answer stays 408.
    async fn timed_out(&self, label: &str, operation_started: Instant) -> Exit {
        let reachable = match crate::db::pool_saturated(&self.state.db) {
            true => Ok(Ok(())),
            false => tokio::time::timeout(PING_AT_TIMEOUT, self.state.db.ping()).await,
        };
        let err = match reachable {
            Ok(Ok(())) => timed_out(),
            _ => AppError::Unavailable("the database did not answer before the time limit".into()),
        };
        self.state
            .metrics
            .operation(label, err.code(), operation_started.elapsed());
        Exit::Answer(error_response(StatusCode::REQUEST_TIMEOUT, err))
    }
}

/// How long a request that reached its time limit waits for the database to answer a ping.
const PING_AT_TIMEOUT: Duration = Duration::from_secs(1);

/// A failed authentication's answer, counted as a refusal (`UNAUTHENTICATED`, `UNAVAILABLE`
/// when the database could not be reached to say, or `INTERNAL`).
fn unauthenticated(state: &AppState, started: Instant, response: Response) -> Response {
    let code = match response.status() {
        StatusCode::UNAUTHORIZED => "UNAUTHENTICATED",
        StatusCode::SERVICE_UNAVAILABLE => "UNAVAILABLE",
        _ => "INTERNAL",
    };
    state.metrics.refused("unknown", code, started.elapsed());
    response
}

/// Phase 5: the answers as the response body, a JSON array for a batch; with which of them
/// are request errors, for the media-type layer ([`RequestErrors`]). When the database could
/// not serve an operation (`UNAVAILABLE`), the status is 503 with `Retry-After`, the body
/// still carrying every operation's answer.
fn encode(answers: &[Answer], batched: bool, request_errors: Vec<bool>) -> Response {
    let unavailable = answers.iter().any(Answer::unavailable);
    let body = if batched {
        let mut body = String::from("[");
        let mut failed = None;
        for (i, answer) in answers.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            match answer.to_json() {
                Ok(json) => body.push_str(&json),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        body.push(']');
        match failed {
            // A batch that cannot be written is an error without the request-error marks.
            Some(e) => {
                return error_response(StatusCode::INTERNAL_SERVER_ERROR, AppError::internal(e))
            }
            None => Ok(body),
        }
    } else {
        answers[0].to_json()
    };
    let mut response = match body {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, AppError::internal(e)),
    };
    if unavailable && response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        crate::http::retry_after(&mut response, crate::error::UNAVAILABLE_RETRY_AFTER_SECS);
    }
    response
        .extensions_mut()
        .insert(RequestErrors(request_errors));
    response
}

/// The answer to one operation of a request.
enum Answer {
    /// From async-graphql's executor.
    Response(GqlResponse),
    /// From the compiled read path: the response's JSON, written already.
    Compiled(String),
}

impl Answer {
    /// Whether the database could not serve this operation (an error coded `UNAVAILABLE`).
    fn unavailable(&self) -> bool {
        let Answer::Response(response) = self else {
            return false;
        };
        response.errors.iter().any(|e| {
            e.extensions.as_ref().and_then(|x| x.get("code"))
                == Some(&async_graphql::Value::from("UNAVAILABLE"))
        })
    }

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
    plan: std::sync::Arc<Plan>,
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
    let inline = state.inline.clone();
    let confirm = check.cloned();
    let task = tokio::spawn(context::scope(context::current(), async move {
        if !validator.execute(validation).await.errors.is_empty() {
            return Outcome::Fallback;
        }
        let confirm = confirm.as_ref().map(|(h, s)| (h.as_str(), s.as_str()));
        plan.run(&db, inline.as_deref(), confirm).await
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
        let mut response = error_response(
            StatusCode::TOO_MANY_REQUESTS,
            AppError::RateLimited(seconds),
        );
        crate::http::retry_after(&mut response, seconds);
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
            // sees the document (`graphql::execution::guard`), so what it refuses here is invalid.
            ext.set("code", "VALIDATION_FAILED");
            // A value that does not fit its input type: name it, and say what was expected.
            if let Some((field, message)) =
                crate::graphql::execution::coercion::explain(&err.message)
            {
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
