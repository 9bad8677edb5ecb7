//! The HTTP surface: routes, extractors, response shapes and the middleware stack.
//! Handlers call the domain (`crate::auth`); they never run SQL.

mod bearer;
mod body;
pub mod error;
mod fields;
mod health;
mod jwt;
mod methods;
mod middleware;
pub mod state;
mod users;

use axum::Router;
use axum::routing::{MethodRouter, get, post};

pub use state::AppState;

/// Every route of the API, each answering with and without its trailing slash.
pub fn router(state: AppState) -> Router {
    let routes = [
        (
            "/api/auth/users/",
            post(users::register).fallback(methods::users_fallback),
        ),
        ("/api/auth/users/me/", get(users::me).fallback(methods::users_fallback)),
        (
            "/api/auth/users/activation/",
            post(users::activation).fallback(methods::users_fallback),
        ),
        (
            "/api/auth/jwt/create/",
            post(jwt::create).fallback(methods::jwt_fallback),
        ),
        (
            "/api/auth/jwt/refresh/",
            post(jwt::refresh).fallback(methods::jwt_fallback),
        ),
        (
            "/api/auth/jwt/verify/",
            post(jwt::verify).fallback(methods::jwt_fallback),
        ),
        (
            "/api/auth/jwt/blacklist/",
            post(jwt::blacklist).fallback(methods::jwt_fallback),
        ),
        (
            "/api/auth/jwt/logout/",
            post(jwt::logout).fallback(methods::users_fallback),
        ),
    ];
    let mut router = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    for (path, methods) in routes {
        router = with_and_without_slash(router, path, methods);
    }
    let router = router.fallback(health::not_found);
    middleware::apply(router, state.clone()).with_state(state)
}

fn with_and_without_slash(router: Router<AppState>, path: &str, methods: MethodRouter<AppState>) -> Router<AppState> {
    router
        .route(path, methods.clone())
        .route(path.trim_end_matches('/'), methods)
}
