//! Request bodies: read whole, up to the limit, before a handler sees them.
//!
//! A client that sends a body without `Expect: 100-continue` (Python's urllib, most HTTP
//! libraries) writes all of it before it reads anything. Answering 413 and closing while it is
//! still writing makes the kernel reset the connection, and the client gets a broken pipe
//! instead of the answer. So an oversized body is read to its end and thrown away — at most
//! [`DRAIN_LIMIT`] bytes in all, for at most [`DRAIN_TIME`] — and only then answered. A client
//! that does send `Expect: 100-continue` is answered at once: it never sends the body.
//! A body declared larger than [`DRAIN_LIMIT`] is not worth reading: it is answered at once too.

use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::error_body;

/// The most an oversized request may send in all before fathom stops reading and answers.
pub const DRAIN_LIMIT: u64 = 16 * 1024 * 1024;
/// How long fathom reads an oversized request's body before it answers anyway.
pub const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Middleware: reads the body (at most `max` bytes) and hands it on whole; 413 past `max`.
pub async fn limit(State(max): State<usize>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    if body.size_hint().exact() == Some(0) {
        return next.run(Request::from_parts(parts, body)).await;
    }
    if let Some(declared) = content_length(&parts.headers) {
        if declared > max as u64 {
            if !expects_continue(&parts.headers) && declared <= DRAIN_LIMIT {
                discard(body, 0).await;
            }
            return too_large();
        }
    }
    match read_up_to(body, max).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(Unread::TooLarge { rest, read }) => {
            discard(rest, read).await;
            too_large()
        }
        // The client went away or broke the framing: nobody reads this answer.
        // (A bare status: the router's outer layer gives it a coded body.)
        Err(Unread::Failed) => StatusCode::BAD_REQUEST.into_response(),
    }
}

/// Reads and drops what remains of a body a request will not use, within the bounds above.
/// `already` is what was read of it before.
pub async fn discard(body: Body, already: u64) {
    let mut stream = body.into_data_stream();
    let mut seen = already;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(chunk)) = stream.next().await {
            seen += chunk.len() as u64;
            if seen > DRAIN_LIMIT {
                break;
            }
        }
    })
    .await;
}

enum Unread {
    TooLarge { rest: Body, read: u64 },
    Failed,
}

async fn read_up_to(body: Body, max: usize) -> Result<Bytes, Unread> {
    let mut stream = body.into_data_stream();
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| Unread::Failed)?;
        total += chunk.len();
        if total > max {
            return Err(Unread::TooLarge {
                rest: Body::from_stream(stream),
                read: total as u64,
            });
        }
        chunks.push(chunk);
    }
    // Most bodies arrive in one chunk: kept as it is, without a copy.
    Ok(match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.swap_remove(0),
        _ => Bytes::from(chunks.concat()),
    })
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

fn too_large() -> Response {
    error_body(
        StatusCode::PAYLOAD_TOO_LARGE,
        "the request body is larger than the limit",
        "QUERY_TOO_COMPLEX",
    )
}
