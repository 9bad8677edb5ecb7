//! What browser mode does around each endpoint, as a layer on its handlers (which stay as they
//! are): logins set the cookies, refresh and logout read the refresh cookie when the body has no
//! token, and the endpoints that end a session or an account clear them.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::BrowserMode;
use crate::http::body;
use crate::http::csrf;
use crate::http::error::ApiError;
use crate::http::state::AppState;

/// What an endpoint does with the cookies.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    /// Answers a new pair (`jwt/create`, registration with auto-login): set both cookies.
    Login,
    /// `jwt/refresh`: reads the refresh cookie, sets the new access (and rotated refresh) token.
    Refresh,
    /// `jwt/logout`, `jwt/blacklist`: read the refresh cookie and clear both, whatever the answer.
    Revoke,
    /// Password change or reset, account deletion: clear both cookies once it succeeded.
    ClearOnSuccess(Method),
}

impl Role {
    fn of(endpoint: &str) -> Option<Role> {
        Some(match endpoint {
            // `jwt/create/mfa/` answers the pair once the second factor is given, and a staff
            // enrolment's confirm when it was made with a login ticket.
            "jwt_create" | "jwt_create_mfa" | "mfa_totp_confirm" => Role::Login,
            // `users/` serves both; only its POST (registration) can log in.
            "users_create" | "users_list" => Role::Login,
            "jwt_refresh" => Role::Refresh,
            "jwt_logout" | "jwt_blacklist" => Role::Revoke,
            "users_set_password" | "users_reset_password_confirm" => Role::ClearOnSuccess(Method::POST),
            "users_me" => Role::ClearOnSuccess(Method::DELETE),
            _ => return None,
        })
    }
}

#[derive(Clone)]
struct Guard {
    mode: Arc<BrowserMode>,
    role: Role,
    allowed_origins: Arc<[String]>,
}

/// Wraps an endpoint's handlers in its browser-mode behaviour (untouched when browser mode is off or
/// the endpoint has nothing to do with tokens).
pub fn wrap(
    mode: Option<&Arc<BrowserMode>>,
    allowed_origins: &[String],
    endpoint: &str,
    methods: MethodRouter<AppState>,
) -> MethodRouter<AppState> {
    match (mode, Role::of(endpoint)) {
        (Some(mode), Some(role)) => methods.layer(from_fn_with_state(
            Guard {
                mode: mode.clone(),
                role,
                allowed_origins: allowed_origins.into(),
            },
            around,
        )),
        _ => methods,
    }
}

async fn around(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let mode = &guard.mode;
    match &guard.role {
        Role::ClearOnSuccess(method) => {
            let applies = request.method() == method;
            let mut response = next.run(request).await;
            if applies && response.status().is_success() {
                mode.clear(response.headers_mut());
            }
            response
        }
        _ if request.method() != Method::POST => next.run(request).await,
        Role::Login => {
            let response = next.run(request).await;
            with_tokens(mode, response).await
        }
        Role::Refresh => match with_refresh_cookie(&guard, request).await {
            Ok(request) => with_tokens(mode, next.run(request).await).await,
            Err(refusal) => refusal.into_response(),
        },
        Role::Revoke => match with_refresh_cookie(&guard, request).await {
            Ok(request) => {
                let mut response = next.run(request).await;
                mode.clear(response.headers_mut());
                response
            }
            Err(refusal) => refusal.into_response(),
        },
    }
}

/// The request with the refresh cookie's token as the body's `refresh` when the body has none
/// (absent, `null` or `""`, as dj-rest-auth's `CookieTokenRefreshSerializer`), once the request
/// passed the cookie CSRF rule. A body that does not parse goes on unchanged to be refused as usual.
async fn with_refresh_cookie(guard: &Guard, request: Request) -> Result<Request, ApiError> {
    let Some(token) = guard.mode.refresh_from(request.headers()) else {
        return Ok(request);
    };
    let (mut parts, content) = request.into_parts();
    let bytes = axum::body::to_bytes(content, guard.mode.body_limit)
        .await
        .map_err(|_| ApiError::detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large."))?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    let Ok(mut fields) = body::parse(content_type.as_deref(), &bytes) else {
        return Ok(Request::from_parts(parts, Body::from(bytes)));
    };
    let has_token = match fields.get("refresh") {
        None | Some(Value::Null) => false,
        Some(Value::String(text)) => !text.is_empty(),
        Some(_) => true,
    };
    if has_token {
        return Ok(Request::from_parts(parts, Body::from(bytes)));
    }
    csrf::cookie_request(&parts.headers, &parts.uri, &guard.allowed_origins)?;
    fields.insert("refresh".into(), Value::String(token));
    let json = serde_json::to_vec(&fields).map_err(|error| ApiError::Internal(error.into()))?;
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Ok(Request::from_parts(parts, Body::from(json)))
}

/// A successful JSON answer carrying tokens: the cookies set, `refresh` blanked when the cookie is
/// HttpOnly, and the expiration fields added when asked for.
async fn with_tokens(mode: &BrowserMode, response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if !response.status().is_success() || !is_json {
        return response;
    }
    let (mut parts, content) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(content, usize::MAX).await else {
        return ApiError::Internal(anyhow::anyhow!("a token answer could not be read")).into_response();
    };
    let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if !move_tokens(mode, &mut fields, &mut parts.headers) {
        return Response::from_parts(parts, Body::from(bytes));
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    match serde_json::to_vec(&fields) {
        Ok(json) => Response::from_parts(parts, Body::from(Bytes::from(json))),
        Err(error) => ApiError::Internal(error.into()).into_response(),
    }
}

/// Sets the cookies for the tokens in `fields`; `false` when there is none.
fn move_tokens(mode: &BrowserMode, fields: &mut Map<String, Value>, headers: &mut axum::http::HeaderMap) -> bool {
    let access = fields.get("access").and_then(Value::as_str).map(str::to_owned);
    let refresh = fields.get("refresh").and_then(Value::as_str).map(str::to_owned);
    if access.is_none() && refresh.is_none() {
        return false;
    }
    let now = Utc::now();
    let iso = |lifetime: std::time::Duration| {
        let expires = chrono::Duration::from_std(lifetime)
            .ok()
            .and_then(|lifetime| now.checked_add_signed(lifetime))
            .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC);
        Value::String(expires.to_rfc3339_opts(SecondsFormat::Micros, true))
    };
    if let Some(access) = access {
        mode.set_access(headers, &access);
        if mode.return_expiration {
            fields.insert("access_expiration".into(), iso(mode.access_lifetime));
        }
    }
    if let Some(refresh) = refresh {
        mode.set_refresh(headers, &refresh);
        if mode.http_only {
            fields.insert("refresh".into(), Value::String(String::new()));
        }
        if mode.return_expiration {
            fields.insert("refresh_expiration".into(), iso(mode.refresh_lifetime));
        }
    }
    true
}
