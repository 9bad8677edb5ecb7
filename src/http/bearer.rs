//! Bearer authentication as SimpleJWT's `JWTAuthentication` does it: an unknown scheme
//! means anonymous; a known scheme with a bad token is a 401, even on routes anyone may call.
//! In browser mode with `cookies.jwt_auth_cookie`, a request without an `Authorization` header is
//! authenticated by the access cookie instead, once it passed the cookie CSRF rule (dj-rest-auth's
//! `JWTCookieAuthentication`).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::error::ApiError;
use super::state::AppState;
use crate::auth::sessions::Authenticated;
use crate::store::models::User;

/// The authenticated caller; anonymous requests are answered 401.
pub struct CurrentUser(pub User);

/// The caller if a token was presented; a presented but bad token is still a 401.
pub struct MaybeUser(pub Option<User>);

/// The authenticated caller with the session of their access token; anonymous requests are answered 401.
pub struct CurrentSession(pub Authenticated);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(MaybeUser(authenticate(parts, state).await?.map(|caller| caller.user)))
    }
}

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        authenticate(parts, state)
            .await?
            .map(CurrentSession)
            .ok_or(ApiError::NotAuthenticated)
    }
}

/// Reads the `Authorization` header, or when there is none the access cookie: `None` when both are
/// absent or the header is of another scheme.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<Authenticated>, ApiError> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return if parts.headers.contains_key(AUTHORIZATION) {
            Err(bad_header())
        } else {
            from_cookie(parts, state).await
        };
    };
    let words: Vec<&[u8]> = value
        .as_bytes()
        .split(|b| b" \t\n\r\x0b\x0c".contains(b))
        .filter(|w| !w.is_empty())
        .collect();
    let Some(scheme) = words.first() else {
        return Ok(None);
    };
    if !state
        .settings
        .simple_jwt
        .auth_header_types
        .iter()
        .any(|t| t.as_bytes() == *scheme)
    {
        return Ok(None);
    }
    let [_, token] = words.as_slice() else {
        return Err(bad_header());
    };
    let token = std::str::from_utf8(token).unwrap_or("\u{fffd}");
    verified(state, token).await.map(Some)
}

/// The access cookie's caller, when browser mode names one and the request carries it.
async fn from_cookie(parts: &Parts, state: &AppState) -> Result<Option<Authenticated>, ApiError> {
    let cookies = &state.settings.cookies;
    let Some(name) = cookies.jwt_auth_cookie.as_deref() else {
        return Ok(None);
    };
    let Some(token) = super::cookies::read(&parts.headers, &super::cookies::prefixed(cookies, name)) else {
        return Ok(None);
    };
    super::csrf::cookie_request(&parts.headers, &parts.uri, &state.settings.cors.allowed_origins)?;
    verified(state, &token).await.map(Some)
}

async fn verified(state: &AppState, token: &str) -> Result<Authenticated, ApiError> {
    let caller = state.sessions.authenticate(token).await?;
    // The request span (see `middleware`) declares the field; the id is not a secret.
    tracing::Span::current().record("user_id", caller.user.id);
    Ok(caller)
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match MaybeUser::from_request_parts(parts, state).await? {
            MaybeUser(Some(user)) => Ok(CurrentUser(user)),
            MaybeUser(None) => Err(ApiError::NotAuthenticated),
        }
    }
}

fn bad_header() -> ApiError {
    ApiError::Unauthorized {
        detail: "Authorization header must contain two space-delimited values",
        code: "bad_authorization_header",
    }
}
