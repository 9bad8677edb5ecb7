//! Answers for a method a route does not have, as DRF gives them: on Djoser's
//! routes authentication runs first (anonymous → 401), elsewhere a plain 405.

use axum::http::{Method, StatusCode};

use super::bearer::MaybeUser;
use super::error::ApiError;

/// `users/...` routes and logout: 401 for anonymous callers, else 405.
pub async fn users_fallback(method: Method, caller: MaybeUser) -> ApiError {
    match caller {
        MaybeUser(None) => ApiError::NotAuthenticated,
        MaybeUser(Some(_)) => not_allowed(&method),
    }
}

/// SimpleJWT's views have no authentication: always 405.
pub async fn jwt_fallback(method: Method) -> ApiError {
    not_allowed(&method)
}

fn not_allowed(method: &Method) -> ApiError {
    ApiError::detail(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("Method \"{method}\" not allowed."),
    )
}
