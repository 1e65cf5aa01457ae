//! GraphQL over HTTP (the GraphQL Foundation's specification): media types and status codes of
//! `/api/graphql`.
//!
//! - **Answers.** `Accept` chooses between `application/graphql-response+json` and
//!   `application/json` (the higher quality wins; at equal quality a type named outright beats
//!   one matched by a wildcard, and the GraphQL type wins when both are named). No `Accept`, or
//!   only wildcards, gets `application/json`, as clients written before the specification
//!   expect. An `Accept` that allows neither gets 406.
//! - **Requests.** A POST body must be `application/json` (UTF-8): anything else, or no
//!   `Content-Type` at all, gets 415.
//! - **Status codes under `application/graphql-response+json`.** A request error — the document
//!   does not parse or validate, a variable cannot be coerced, no operation can be chosen, or
//!   the body is not a GraphQL request — is HTTP 400 and its body has no `data` entry; so has
//!   every other refusal (401, 405, 408, 413, 429, …). An executed operation is 200, with `data`,
//!   even when a field failed.
//! - **Under `application/json`** answers stay as they were: request errors are HTTP 200 with
//!   `"data": null`, as clients of the older convention expect; refusals keep their status.
//!
//! The handlers build every answer as `application/json`; they mark on the response, with
//! [`RequestErrors`], which GraphQL answers are request errors, and this layer adapts the answer
//! to the media type the client chose.

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;

use super::{body, error_body};

pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const GRAPHQL_RESPONSE_JSON_UTF8: &str = "application/graphql-response+json; charset=utf-8";
const JSON: &str = "application/json";

/// The media type an answer is sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    /// `application/json`: the older convention.
    Json,
    /// `application/graphql-response+json`: the specification's.
    GraphqlResponseJson,
}

/// Which of the GraphQL answers in a response (one, or each of a batch) are request errors:
/// refused before execution. Set by the handlers, read by [`graphql_over_http`].
#[derive(Debug, Clone, Default)]
pub struct RequestErrors(pub Vec<bool>);

/// The media type `accept` asks for; `None` when it allows neither.
pub fn negotiate(accept: Option<&HeaderValue>) -> Option<ResponseType> {
    let Some(accept) = accept.and_then(|v| v.to_str().ok()) else {
        return Some(ResponseType::Json);
    };
    if accept.trim().is_empty() {
        return Some(ResponseType::Json);
    }
    // Per type: the quality given by the most specific range that matches it, and how
    // specific that range was (0: none, 1: */*, 2: application/*, 3: the type itself).
    let mut json = (0.0f32, 0u8);
    let mut graphql = (0.0f32, 0u8);
    for range in accept.split(',') {
        let mut params = range.split(';');
        let media = params.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut quality = 1.0f32;
        for param in params {
            if let Some((key, value)) = param.split_once('=') {
                if key.trim().eq_ignore_ascii_case("q") {
                    quality = value.trim().parse().unwrap_or(0.0);
                }
            }
        }
        let wildcard = match media.as_str() {
            "*/*" => 1,
            "application/*" => 2,
            _ => 0,
        };
        for (name, slot) in [(JSON, &mut json), (GRAPHQL_RESPONSE_JSON, &mut graphql)] {
            let specificity = if media == name { 3 } else { wildcard };
            if specificity > slot.1 {
                *slot = (quality, specificity);
            }
        }
    }
    let (json_q, _) = json;
    let (graphql_q, graphql_s) = graphql;
    if json_q <= 0.0 && graphql_q <= 0.0 {
        return None;
    }
    let graphql_wins = if graphql_q != json_q {
        graphql_q > json_q
    } else {
        // Equal quality: a type named outright beats a wildcard; both named, the GraphQL type.
        graphql_s == 3
    };
    Some(if graphql_wins {
        ResponseType::GraphqlResponseJson
    } else {
        ResponseType::Json
    })
}

/// Whether `content_type` is `application/json` (in UTF-8, the only charset JSON has).
pub fn is_json_request(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mut parts = value.split(';');
    if !parts.next().unwrap_or("").trim().eq_ignore_ascii_case(JSON) {
        return false;
    }
    parts.all(|param| match param.split_once('=') {
        Some((key, charset)) if key.trim().eq_ignore_ascii_case("charset") => {
            let charset = charset.trim().trim_matches('"');
            charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("utf8")
        }
        _ => true,
    })
}

/// Middleware on `/api/graphql` (other paths pass through untouched).
pub async fn graphql_over_http(request: Request, next: Next) -> Response {
    if request.uri().path() != super::GRAPHQL_PATH {
        return next.run(request).await;
    }
    let Some(chosen) = negotiate(request.headers().get(header::ACCEPT)) else {
        body::discard(request.into_body(), 0).await;
        return error_body(
            StatusCode::NOT_ACCEPTABLE,
            "the Accept header allows neither application/graphql-response+json nor application/json",
            "VALIDATION_FAILED",
        );
    };
    if request.method() == Method::POST
        && !is_json_request(request.headers().get(header::CONTENT_TYPE))
    {
        body::discard(request.into_body(), 0).await;
        let mut response = error_body(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a POST body must be a GraphQL request in JSON, sent with Content-Type: application/json",
            "VALIDATION_FAILED",
        );
        response
            .headers_mut()
            .insert("accept-post", HeaderValue::from_static(JSON));
        return response;
    }
    let response = next.run(request).await;
    match chosen {
        ResponseType::Json => response,
        ResponseType::GraphqlResponseJson => as_graphql_response(response).await,
    }
}

/// Re-labels a JSON answer as `application/graphql-response+json`: request errors become 400,
/// and answers that were not executed lose their `data` entry.
async fn as_graphql_response(response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(JSON.as_bytes()));
    if !is_json {
        return response;
    }
    let flags = response
        .extensions()
        .get::<RequestErrors>()
        .cloned()
        .unwrap_or_default();
    let (mut parts, body) = response.into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(GRAPHQL_RESPONSE_JSON_UTF8),
    );
    let refused = !parts.status.is_success();
    if !refused && !flags.0.contains(&true) {
        return Response::from_parts(parts, body);
    }
    // An error answer: small, and already in memory.
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    match &mut value {
        Value::Array(items) => {
            for (item, request_error) in items.iter_mut().zip(&flags.0) {
                if *request_error {
                    drop_null_data(item);
                }
            }
            if !refused && !items.is_empty() && flags.0.iter().all(|&f| f) {
                parts.status = StatusCode::BAD_REQUEST;
            }
        }
        single => {
            drop_null_data(single);
            if !refused {
                parts.status = StatusCode::BAD_REQUEST;
            }
        }
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(value.to_string()))
}

/// Whether async-graphql refused `response`'s request before executing it: the document did not
/// validate, a variable could not be coerced, no operation could be chosen. Those errors carry
/// no path and no code (every error fathom's resolvers raise has a code), and there is no data.
/// To be asked before the handler gives every error a code.
pub fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| {
            e.path.is_empty()
                && e.extensions
                    .as_ref()
                    .is_none_or(|ext| ext.get("code").is_none())
        })
}

fn drop_null_data(answer: &mut Value) {
    if let Value::Object(map) = answer {
        if map.get("data").is_some_and(Value::is_null) {
            map.remove("data");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ResponseType::*;

    fn chosen(accept: &str) -> Option<ResponseType> {
        negotiate(Some(&HeaderValue::from_str(accept).unwrap()))
    }

    #[test]
    fn no_accept_or_wildcards_answer_application_json() {
        assert_eq!(negotiate(None), Some(Json));
        assert_eq!(chosen(""), Some(Json));
        assert_eq!(chosen("*/*"), Some(Json));
        assert_eq!(chosen("application/*"), Some(Json));
        assert_eq!(chosen("application/json"), Some(Json));
    }

    #[test]
    fn the_graphql_media_type_is_chosen_when_asked_for() {
        assert_eq!(chosen(GRAPHQL_RESPONSE_JSON), Some(GraphqlResponseJson));
        assert_eq!(
            chosen("application/graphql-response+json, application/json;q=0.9"),
            Some(GraphqlResponseJson)
        );
        assert_eq!(
            chosen("application/json, application/graphql-response+json"),
            Some(GraphqlResponseJson)
        );
        assert_eq!(
            chosen("Application/GraphQL-Response+JSON; charset=utf-8"),
            Some(GraphqlResponseJson)
        );
    }

    #[test]
    fn quality_and_specificity_decide() {
        assert_eq!(
            chosen("application/graphql-response+json;q=0.5, application/json"),
            Some(Json)
        );
        assert_eq!(chosen("application/json, */*"), Some(Json));
        assert_eq!(
            chosen("application/graphql-response+json, */*"),
            Some(GraphqlResponseJson)
        );
        assert_eq!(
            chosen("*/*;q=0.1, application/graphql-response+json;q=0.2"),
            Some(GraphqlResponseJson)
        );
        // A type refused outright is not brought back by a wildcard.
        assert_eq!(
            chosen("application/json;q=0, */*"),
            Some(GraphqlResponseJson)
        );
    }

    #[test]
    fn an_accept_allowing_neither_type_is_not_acceptable() {
        assert_eq!(chosen("text/html"), None);
        assert_eq!(chosen("text/*, image/png"), None);
        assert_eq!(chosen("application/json;q=0"), None);
        assert_eq!(chosen("application/xml"), None);
    }

    #[test]
    fn only_json_in_utf8_is_a_graphql_request_body() {
        let ok = |v: &str| is_json_request(Some(&HeaderValue::from_str(v).unwrap()));
        assert!(ok("application/json"));
        assert!(ok("Application/JSON; charset=UTF-8"));
        assert!(ok("application/json;charset=\"utf-8\""));
        assert!(!ok("application/json; charset=latin1"));
        assert!(!ok("text/plain"));
        assert!(!ok("application/graphql"));
        assert!(!ok("application/x-www-form-urlencoded"));
        assert!(!ok("multipart/form-data; boundary=x"));
        assert!(!is_json_request(None));
    }
}
