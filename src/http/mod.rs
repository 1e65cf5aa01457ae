//! HTTP plumbing around the GraphQL endpoint, as layers the router wraps around its routes:
//!
//! - [`context`]: every request gets an id (`X-Request-Id`, taken from the request when it is
//!   sane), carried to the log line written when the answer leaves;
//! - [`media`]: GraphQL over HTTP — which media type answers (`Accept`), which request bodies are
//!   understood (`Content-Type`), and the status codes of `application/graphql-response+json`;
//! - [`body`]: request bodies read whole up to the size limit; an oversized one is read to its
//!   end and discarded before the 413, so that every client gets to read it.
//!
//! Nothing here knows the schema: the GraphQL handlers in [`crate::app`] mark what this layer
//! needs to know (which answers are request errors) on the response.

pub mod body;
pub mod context;
pub mod media;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::graphql::execution::errors::IntoGraphql;

/// Where GraphQL is served (Sonar's path).
pub const GRAPHQL_PATH: &str = "/api/graphql";

/// A GraphQL error body with `extensions.code`, as `application/json` (`"data": null`; the
/// [`media`] layer drops `data` for clients that asked for `application/graphql-response+json`).
pub fn error_body(status: StatusCode, message: &str, code: &str) -> Response {
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

/// An [`AppError`] as a GraphQL error body (`"data": null`, the error with its
/// `extensions.code`), as `application/json`. `UNAVAILABLE` is always 503 with `Retry-After`.
pub fn error_response(status: StatusCode, err: AppError) -> Response {
    let unavailable = matches!(err, AppError::Unavailable(_));
    let error = err.into_graphql();
    let body = serde_json::json!({
        "data": null,
        "errors": [{ "message": error.message, "extensions": error.extensions }]
    });
    let status = match unavailable {
        true => StatusCode::SERVICE_UNAVAILABLE,
        false => status,
    };
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if unavailable {
        retry_after(&mut response, crate::error::UNAVAILABLE_RETRY_AFTER_SECS);
    }
    response
}

/// Sets `Retry-After` to `seconds`.
pub fn retry_after(response: &mut Response, seconds: u64) {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, axum::http::HeaderValue::from(seconds));
}
