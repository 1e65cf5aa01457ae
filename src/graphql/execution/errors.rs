//! [`AppError`]s as the GraphQL errors clients see: the message, `extensions.code`, and
//! `extensions.field`, `request_id` or `retry_after` where they apply. An `INTERNAL` error's
//! detail is logged under the request's id, and only that id is returned; so is an
//! `UNAVAILABLE` one's (with a message that says to retry).

use async_graphql::ErrorExtensions;

use crate::error::AppError;

/// Turning an error into a GraphQL error (a trait, since both types come from other crates).
pub trait IntoGraphql {
    fn into_graphql(self) -> async_graphql::Error;
}

impl IntoGraphql for AppError {
    fn into_graphql(self) -> async_graphql::Error {
        let code = self.code();
        let (message, field, request_id) = match &self {
            AppError::Internal(detail) => {
                let id = request_id();
                tracing::error!(request_id = %id, detail = %detail, "internal error");
                (format!("internal error (request id {id})"), None, Some(id))
            }
            AppError::Unavailable(detail) => {
                let id = request_id();
                tracing::warn!(request_id = %id, detail = %detail, "database unavailable");
                (self.to_string(), None, Some(id))
            }
            AppError::Validation { field, message } | AppError::Taken { field, message } => {
                (message.clone(), Some(field.clone()), None)
            }
            other => (other.to_string(), None, None),
        };
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", code);
            if let Some(field) = &field {
                ext.set("field", field.as_str());
            }
            if let Some(id) = &request_id {
                ext.set("request_id", id.as_str());
            }
            match &self {
                AppError::RateLimited(seconds) => ext.set("retry_after", *seconds),
                AppError::Unavailable(_) => {
                    ext.set("retry_after", crate::error::UNAVAILABLE_RETRY_AFTER_SECS)
                }
                _ => {}
            }
        })
    }
}

/// The id that ties a client-visible `INTERNAL` error to the server log: the id of the HTTP
/// request being served (its `X-Request-Id`), or a fresh random one outside a request.
pub fn request_id() -> String {
    crate::http::context::current_id().unwrap_or_else(crate::http::context::fresh_id)
}
