//! The one API error type. Its bodies are DRF's and SimpleJWT's shapes (`{"field": ["message"]}`,
//! `{"non_field_errors": [...]}`, `{"detail": "...", "code": "..."}`); internal
//! causes go to the log, never to the client.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::auth::AuthError;
use crate::auth::jwt::TokenError;
use crate::store::StoreError;

/// Field errors in serializer order: `{"email": ["..."], "password": ["..."]}`.
pub type FieldErrors = Vec<(String, Vec<String>)>;

/// Everything a handler can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `{"field": ["message", ...], ...}` (`non_field_errors` is just another key).
    #[error("validation failed")]
    Fields(FieldErrors),
    /// 400 `["message"]`: Djoser errors raised outside `validate()`.
    #[error("validation failed")]
    BareList(Vec<String>),
    /// `{"detail": "..."}` with any status.
    #[error("{1}")]
    Detail(StatusCode, String),
    /// 401 `{"detail": "...", "code": "..."}` (SimpleJWT authentication failures).
    #[error("{detail}")]
    Unauthorized { detail: &'static str, code: &'static str },
    /// 401 from a JWT view: `{"detail": "<reason>", "code": "token_not_valid"}`.
    #[error("token rejected: {0}")]
    Token(TokenError),
    /// 401 from bearer authentication: the token failed every token class.
    #[error("bearer token rejected: {0}")]
    BearerToken(TokenError),
    /// 401 `{"detail": "Authentication credentials were not provided."}`.
    #[error("not authenticated")]
    NotAuthenticated,
    /// 429, DRF's throttle answer: `{"detail": "Request was throttled. Expected available in N seconds."}`
    /// with `Retry-After: N` (the wait rounded up, at least 1).
    #[error("throttled")]
    Throttled(Duration),
    /// 503 `{"detail": "Server busy, try again later."}` with `Retry-After: 1`: the password-hashing
    /// queue is full. Answered at once, so a flood never makes anyone wait.
    #[error("password hashing is saturated")]
    Busy,
    /// 503: the database (or another dependency) is unreachable; the client may retry.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// 500 with a generic body; the cause is logged.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// The result type of every handler.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn field(name: &str, message: impl Into<String>) -> Self {
        ApiError::Fields(vec![(name.to_owned(), vec![message.into()])])
    }

    pub fn non_field(message: impl Into<String>) -> Self {
        Self::field("non_field_errors", message)
    }

    pub fn detail(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiError::Detail(status, detail.into())
    }

    fn status_and_body(&self) -> (StatusCode, Option<Value>) {
        match self {
            ApiError::Fields(fields) => {
                let map: Map<String, Value> = fields.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
                (StatusCode::BAD_REQUEST, Some(Value::Object(map)))
            }
            ApiError::BareList(messages) => (StatusCode::BAD_REQUEST, Some(json!(messages))),
            ApiError::Detail(status, detail) => (*status, Some(json!({ "detail": detail }))),
            ApiError::Unauthorized { detail, code } => (
                StatusCode::UNAUTHORIZED,
                Some(json!({ "detail": detail, "code": code })),
            ),
            ApiError::Token(reason) => (
                StatusCode::UNAUTHORIZED,
                Some(json!({ "detail": reason.to_string(), "code": "token_not_valid" })),
            ),
            ApiError::BearerToken(reason) => (
                StatusCode::UNAUTHORIZED,
                Some(json!({
                    "detail": "Given token not valid for any token type",
                    "code": "token_not_valid",
                    "messages": [{ "token_class": "AccessToken", "token_type": "access", "message": reason.to_string() }],
                })),
            ),
            ApiError::NotAuthenticated => (
                StatusCode::UNAUTHORIZED,
                Some(json!({ "detail": "Authentication credentials were not provided." })),
            ),
            ApiError::Throttled(wait) => {
                let seconds = retry_after_seconds(*wait);
                // DRF's Throttled: ngettext("... {wait} second.", "... {wait} seconds.", wait).
                let unit = if seconds == 1 { "second" } else { "seconds" };
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    Some(
                        json!({ "detail": format!("Request was throttled. Expected available in {seconds} {unit}.") }),
                    ),
                )
            }
            ApiError::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                Some(json!({ "detail": "Server busy, try again later." })),
            ),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Some(json!({ "detail": "Service temporarily unavailable, try again later." })),
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(json!({ "detail": "A server error occurred." })),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(cause) => tracing::error!(error = ?cause, "request failed"),
            ApiError::Unavailable(cause) => tracing::warn!(error = %cause, "dependency unavailable"),
            _ => {}
        }
        let (status, body) = self.status_and_body();
        let mut response = match body {
            Some(body) => (status, axum::Json(body)).into_response(),
            None => status.into_response(),
        };
        let retry_after = match &self {
            ApiError::Throttled(wait) => Some(HeaderValue::from(retry_after_seconds(*wait))),
            ApiError::Busy => Some(HeaderValue::from_static("1")),
            _ if status == StatusCode::SERVICE_UNAVAILABLE => Some(HeaderValue::from_static("5")),
            _ => None,
        };
        if let Some(value) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => ApiError::Unavailable(error.into()),
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<AuthError> for ApiError {
    /// Djoser's and SimpleJWT's answer to each domain failure (their message constants).
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::EmailTaken => ApiError::field("email", "user with this email address already exists."),
            AuthError::InvalidCredentials => ApiError::detail(
                StatusCode::UNAUTHORIZED,
                "No active account found with the given credentials",
            ),
            AuthError::InvalidUid => ApiError::field("uid", "Invalid user id or user doesn't exist."),
            AuthError::InvalidToken => ApiError::field("token", "Invalid token for given user."),
            AuthError::StaleToken => ApiError::detail(StatusCode::FORBIDDEN, "Stale token for given user."),
            AuthError::Token(reason) => ApiError::Token(reason),
            AuthError::BearerToken(reason) => ApiError::BearerToken(reason),
            AuthError::BlacklistedOnVerify => ApiError::non_field("Token is blacklisted"),
            AuthError::NoActiveAccount => {
                ApiError::detail(StatusCode::UNAUTHORIZED, "No active account found for the given token.")
            }
            AuthError::Bearer { detail, code } => ApiError::Unauthorized { detail, code },
            AuthError::RefreshConflict => ApiError::detail(
                StatusCode::CONFLICT,
                "Concurrent refreshes of this token did not settle; try again.",
            ),
            AuthError::InvalidCode(field) => ApiError::field(field, "Invalid or expired code."),
            AuthError::CodeRequired => ApiError::field("code", "This field is required."),
            AuthError::InvalidTicket => ApiError::field("ticket", "Invalid or expired ticket."),
            AuthError::FactorNotFound => ApiError::detail(StatusCode::NOT_FOUND, "Not found."),
            AuthError::Crypto(_) => ApiError::Internal(error.into()),
            AuthError::Store(store) => store.into(),
            AuthError::Busy => ApiError::Busy,
            AuthError::Throttled(wait) => ApiError::Throttled(wait),
            AuthError::Hash(_) => ApiError::Internal(error.into()),
        }
    }
}

/// A wait in whole seconds, rounded up, at least 1 (DRF's `math.ceil(wait)`; 0 would invite a retry storm).
fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs().saturating_add(u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_answers_are_drfs() {
        for (wait, detail, header) in [
            (
                Duration::from_millis(1),
                "Request was throttled. Expected available in 1 second.",
                "1",
            ),
            (
                Duration::from_millis(1500),
                "Request was throttled. Expected available in 2 seconds.",
                "2",
            ),
            (
                Duration::from_secs(60),
                "Request was throttled. Expected available in 60 seconds.",
                "60",
            ),
        ] {
            let response = ApiError::Throttled(wait).into_response();
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(response.headers()[header::RETRY_AFTER], header);
            let (_, body) = ApiError::Throttled(wait).status_and_body();
            assert_eq!(body, Some(json!({ "detail": detail })));
        }
    }

    #[test]
    fn a_full_hash_queue_answers_busy_with_a_one_second_retry() {
        let response = ApiError::Busy.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }
}
