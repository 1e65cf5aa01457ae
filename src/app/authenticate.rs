//! Who a request acts as: its bearer token authenticated in full (one statement), the answer
//! remembered for compiled reads ([`crate::auth::TokenCache`]).

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;

use super::AppState;
use crate::error::AppError;
use crate::http::{context, error_response};
use crate::service::access::tokens;

/// Authenticates the request in full (one statement), and remembers the answer for compiled
/// reads ([`crate::auth::TokenCache`]).
pub(super) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<crate::auth::CurrentUser, Response> {
    authenticate_stamped(state, headers)
        .await
        .map(|(user, _)| user)
}

pub(super) fn bearer_of(headers: &HeaderMap) -> Option<&str> {
    crate::auth::bearer(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )
}

/// [`authenticate`], with the token's hash and stamp.
pub(super) async fn authenticate_stamped(
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
            Err(error_response(StatusCode::UNAUTHORIZED, err))
        }
        Err(err) => Err(error_response(StatusCode::SERVICE_UNAVAILABLE, err)),
    }
}
