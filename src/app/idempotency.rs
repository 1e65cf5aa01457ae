//! `Idempotency-Key` on `POST /api/graphql` (DESIGN §5), the HTTP side: the header, the
//! body's fingerprint, the answers that do not run the request (a replay, 422, 409), and
//! what is kept of the answer of one that ran. How keys are kept, and why a crash leaves
//! nothing half-recorded, is in [`crate::service::base::idempotency`].
//!
//! - The key is 1 to 255 visible ASCII characters, sent once; otherwise HTTP 400,
//!   `VALIDATION_FAILED` with `extensions.field` `Idempotency-Key`. It belongs to the token:
//!   another token's same key is another key. `GET` requests (queries only) ignore it.
//! - The body's fingerprint is the SHA-256 of its JSON with object keys sorted and no
//!   whitespace, so a client that re-serializes the same request is not refused; a body that
//!   is not JSON is fingerprinted as it is.
//! - A 2xx answer is stored (GraphQL errors of a mutation included: Stripe replays errors
//!   too), with every personal access token in it replaced by `null` (only token hashes are
//!   kept, and a token is shown once). Any other answer (a bad body, the rate limit, a server
//!   error) frees the key when nothing committed; when something did, or the request reached
//!   its time limit (408), the key is released for the next attempt, which answers what was
//!   committed and carries out the rest.
//! - A replay answers the stored status, content type and body, with
//!   `Idempotency-Replayed: true`, and writes nothing.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body, Bytes};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::authenticate::authenticate;
use super::{post_once, AppState};
use crate::auth::CheckedToken;
use crate::error::AppError;
use crate::http::error_response;
use crate::service::base::idempotency::{self, Claim, Stored, MAX_KEY_CHARS};

pub const KEY_HEADER: HeaderName = HeaderName::from_static("idempotency-key");
pub const REPLAYED_HEADER: HeaderName = HeaderName::from_static("idempotency-replayed");

/// How long, past the request time limit, a key stays locked to its request: the HTTP layer
/// stops a request 2 s after its limit at the latest, so its holder is gone by then.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// `fathom_` + 32 characters + a 6-character checksum.
const TOKEN_CHARS: usize = 45;

pub(super) async fn keyed_post(state: AppState, headers: HeaderMap, body: Bytes) -> Response {
    // Keys are per token, and an anonymous caller learns nothing about them.
    let user = match authenticate(&state, &headers).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let key = match key_of(&headers) {
        Ok(key) => key,
        Err(err) => return error_response(StatusCode::BAD_REQUEST, err),
    };
    let lease = state.request_timeout + LEASE_MARGIN;
    let claim =
        idempotency::claim(&state.db, user.token_id, &key, &fingerprint(&body), lease).await;
    let scope = match claim {
        Ok(Claim::Run(scope)) => scope,
        Ok(Claim::Replay(stored)) => return replayed(stored),
        Ok(Claim::Reused) => {
            return error_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                AppError::IdempotencyKeyReused(
                    "this Idempotency-Key was used with another request body in the last 24 \
                     hours; send a new key with a new request"
                        .into(),
                ),
            )
        }
        Ok(Claim::InFlight) => {
            return error_response(
                StatusCode::CONFLICT,
                AppError::Conflict(
                    "a request with this Idempotency-Key is still running; retry once it has \
                     answered"
                        .into(),
                ),
            )
        }
        Err(err) => return error_response(StatusCode::SERVICE_UNAVAILABLE, err),
    };
    let key_id = scope.key_id();
    let resumed = scope.resumed();
    let response = idempotency::within(
        Some(Arc::new(scope)),
        post_once(state.clone(), headers, body),
    )
    .await;
    settle(&state, key_id, resumed, response).await
}

/// Keeps what should be kept of the answer of the key's request, and returns the answer.
async fn settle(state: &AppState, key_id: i64, resumed: bool, response: Response) -> Response {
    let status = response.status();
    if !status.is_success() {
        // A request stopped at its time limit, or one the database failed under
        // (`UNAVAILABLE`: the connection may have been lost while a commit landed), may have a
        // commit still landing: keep the key (released, for the next attempt to take over).
        // Any other refusal has finished: its key is freed unless something committed.
        let settled = if matches!(
            status,
            StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE
        ) {
            idempotency::release(&state.db, key_id).await
        } else {
            idempotency::forget(&state.db, key_id).await
        };
        if let Err(err) = settled {
            tracing::warn!(error = ?err, key_id, "idempotency key not settled; its lease frees it");
        }
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(err) => {
            let _ = idempotency::release(&state.db, key_id).await;
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                AppError::internal(format!("response body: {err}")),
            );
        }
    };
    let stored = Stored {
        status: status.as_u16(),
        content_type: parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_owned(),
        body: without_tokens(&String::from_utf8_lossy(&bytes)),
    };
    if let Err(err) = idempotency::complete(&state.db, key_id, &stored).await {
        // The answer still goes out; the key stays running until its lease ends, and the next
        // attempt then answers from what was committed.
        tracing::warn!(error = ?err, key_id, "idempotency key response not stored");
    }
    if resumed {
        parts
            .headers
            .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn replayed(stored: Stored) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let content_type = HeaderValue::from_str(&stored.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/json"));
    let mut response =
        (status, [(header::CONTENT_TYPE, content_type)], stored.body).into_response();
    response
        .headers_mut()
        .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

fn key_of(headers: &HeaderMap) -> Result<String, AppError> {
    let refused = || {
        AppError::validation(
            "Idempotency-Key",
            format!(
                "the Idempotency-Key header must be sent once, with 1 to {MAX_KEY_CHARS} visible \
                 ASCII characters"
            ),
        )
    };
    let mut values = headers.get_all(KEY_HEADER).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(refused());
    };
    let key = value.to_str().map_err(|_| refused())?;
    if key.is_empty() || key.len() > MAX_KEY_CHARS || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(refused());
    }
    Ok(key.to_owned())
}

/// SHA-256 (hex) of the body as canonical JSON (object keys sorted, no whitespace), or of its
/// bytes when it is not JSON.
fn fingerprint(body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(json) => {
            let mut canonical = String::with_capacity(body.len());
            write_canonical(&json, &mut canonical);
            hasher.update(canonical.as_bytes());
        }
        Err(_) => hasher.update(body),
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The body with every JSON string that is a well-formed personal access token replaced by
/// `null`, everything else (the order of fields included) as it was.
fn without_tokens(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.find("\"fathom_") {
        out.push_str(&rest[..at]);
        let inside = &rest[at + 1..];
        let token = inside
            .get(..TOKEN_CHARS)
            .filter(|t| CheckedToken::parse(t).is_some())
            .filter(|_| {
                inside
                    .get(TOKEN_CHARS..)
                    .is_some_and(|r| r.starts_with('"'))
            });
        if token.is_some() {
            out.push_str("null");
            rest = &inside[TOKEN_CHARS + 1..];
        } else {
            out.push('"');
            rest = inside;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_has_the_length_the_scrubber_looks_for() {
        assert_eq!(CheckedToken::generate().as_str().len(), TOKEN_CHARS);
    }

    #[test]
    fn tokens_in_a_stored_answer_become_null_and_nothing_else_changes() {
        let token = CheckedToken::generate();
        let body = format!(
            r#"{{"data":{{"b":{{"token":"{}","name":"fathom_ci"}},"a":1}}}}"#,
            token.as_str()
        );
        assert_eq!(
            without_tokens(&body),
            r#"{"data":{"b":{"token":null,"name":"fathom_ci"},"a":1}}"#
        );
    }

    #[test]
    fn the_fingerprint_ignores_key_order_and_whitespace_but_not_values() {
        let a = fingerprint(br#"{"query":"mutation { x }","variables":{"id":1,"b":2}}"#);
        let b = fingerprint(
            b"{ \"variables\": {\"b\": 2, \"id\": 1},\n \"query\": \"mutation { x }\" }",
        );
        let c = fingerprint(br#"{"query":"mutation { x }","variables":{"id":2,"b":2}}"#);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn a_key_is_one_to_255_visible_ascii_characters_sent_once() {
        let with = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for v in values {
                headers.append(KEY_HEADER, HeaderValue::from_str(v).unwrap());
            }
            key_of(&headers)
        };
        assert_eq!(with(&["k-1"]).unwrap(), "k-1");
        assert!(with(&["x".repeat(255).as_str()]).is_ok());
        assert!(with(&["x".repeat(256).as_str()]).is_err());
        assert!(with(&[""]).is_err());
        assert!(with(&["a b"]).is_err());
        assert!(with(&["a", "b"]).is_err());
    }
}
