//! The request context: the request's id, who sent it and what it ran, for the log line and the
//! `X-Request-Id` header of its answer.
//!
//! The id comes from the request's `X-Request-Id` when that is sane (1 to
//! [`MAX_REQUEST_ID_LEN`] visible ASCII characters), so that a proxy's or a client's id ties
//! their logs to fathom's; otherwise fathom makes one. It is also the id an `INTERNAL` error
//! carries ([`crate::graphql::execution::errors::request_id`]). Handlers fill in the token and the operation names as
//! they learn them; [`middleware`] writes one line per request when the answer leaves, at
//! `info` on the target `fathom::access`.

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The longest request id taken from a request.
pub const MAX_REQUEST_ID_LEN: usize = 128;

tokio::task_local! {
    static CURRENT: Arc<RequestContext>;
}

pub struct RequestContext {
    pub id: String,
    /// The personal access token's id once authenticated; 0 before.
    token_id: AtomicI64,
    operation: Mutex<Option<String>>,
}

impl RequestContext {
    pub fn new(id: String) -> Self {
        RequestContext {
            id,
            token_id: AtomicI64::new(0),
            operation: Mutex::new(None),
        }
    }

    pub fn token_id(&self) -> Option<i64> {
        Some(self.token_id.load(Ordering::Relaxed)).filter(|&id| id != 0)
    }

    pub fn operation(&self) -> Option<String> {
        self.operation
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The context of the request being served on this task, if any.
pub fn current() -> Option<Arc<RequestContext>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// The id of the request being served on this task, if any.
pub fn current_id() -> Option<String> {
    CURRENT.try_with(|c| c.id.clone()).ok()
}

/// Records the token the request was authenticated with.
pub fn set_token(token_id: i64) {
    let _ = CURRENT.try_with(|c| c.token_id.store(token_id, Ordering::Relaxed));
}

/// Records the name(s) of the operation(s) the request runs (already made safe to log).
pub fn set_operation(name: String) {
    let _ =
        CURRENT.try_with(|c| *c.operation.lock().unwrap_or_else(|e| e.into_inner()) = Some(name));
}

/// Runs `f` within `context` (work spawned for a request keeps its id).
pub async fn scope<F: Future>(context: Option<Arc<RequestContext>>, f: F) -> F::Output {
    match context {
        Some(context) => CURRENT.scope(context, f).await,
        None => f.await,
    }
}

/// The request's own id when it is sane: 1 to [`MAX_REQUEST_ID_LEN`] visible ASCII characters.
pub fn sane_id(value: Option<&HeaderValue>) -> Option<String> {
    let bytes = value?.as_bytes();
    let sane = !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes.iter().all(|b| (0x21..=0x7e).contains(b));
    // Visible ASCII is UTF-8.
    sane.then(|| String::from_utf8_lossy(bytes).into_owned())
}

/// A fresh id: 16 random hexadecimal digits.
pub fn fresh_id() -> String {
    use rand::Rng;
    let n: u64 = rand::rng().random();
    format!("{n:016x}")
}

/// Middleware (outermost): gives the request its context, answers with `X-Request-Id`, and
/// logs the request when its answer leaves.
pub async fn middleware(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = sane_id(request.headers().get(&REQUEST_ID)).unwrap_or_else(fresh_id);
    let context = Arc::new(RequestContext::new(id));
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = CURRENT.scope(context.clone(), next.run(request)).await;
    if let Ok(value) = HeaderValue::from_str(&context.id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let operation = context.operation();
    tracing::info!(
        target: "fathom::access",
        request_id = %context.id,
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        token_id = context.token_id(),
        operation = operation.as_deref(),
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &[u8]) -> Option<String> {
        sane_id(Some(&HeaderValue::from_bytes(text).unwrap()))
    }

    #[test]
    fn a_visible_ascii_id_of_up_to_128_characters_is_kept() {
        assert_eq!(id(b"abc-123_XYZ:/=").as_deref(), Some("abc-123_XYZ:/="));
        assert!(id(&[b'a'; 128]).is_some());
    }

    #[test]
    fn an_empty_long_spaced_or_non_ascii_id_is_replaced() {
        assert!(id(b"").is_none());
        assert!(id(&[b'a'; 129]).is_none());
        assert!(id(b"two words").is_none());
        assert!(id(b"tab\there").is_none());
        assert!(id("caf\u{e9}".as_bytes()).is_none());
    }

    #[test]
    fn fresh_ids_are_sixteen_hex_digits_and_differ() {
        let (a, b) = (fresh_id(), fresh_id());
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
