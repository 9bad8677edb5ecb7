//! The HTTP surface: routes, extractors, response shapes and the middleware stack.
//! Handlers call the domain (`crate::auth`); they never run SQL.

mod account;
mod bearer;
mod body;
mod cors;
pub mod error;
mod fields;
mod health;
mod jwt;
mod methods;
mod metrics;
mod middleware;
pub mod state;
mod users;

use axum::Router;
use axum::routing::{MethodRouter, get, post};

pub use metrics::metrics_router;
pub use state::AppState;

/// Every route of the API, each answering with and without its trailing slash.
pub fn router(state: AppState) -> Router {
    let routes = [
        (
            "/api/auth/users/",
            post(users::register).fallback(methods::users_fallback),
        ),
        (
            "/api/auth/users/me/",
            get(users::me)
                .put(users::update_me)
                .patch(users::update_me)
                .delete(users::delete_me)
                .fallback(methods::users_fallback),
        ),
        (
            "/api/auth/users/resend_activation/",
            post(account::resend_activation).fallback(methods::users_fallback),
        ),
        (
            "/api/auth/users/set_password/",
            post(account::set_password).fallback(methods::users_fallback),
        ),
        (
            "/api/auth/users/reset_password/",
            post(account::reset_password).fallback(methods::users_fallback),
        ),
        (
            "/api/auth/users/reset_password_confirm/",
            post(account::reset_password_confirm).fallback(methods::users_fallback),
        ),
        (
            "/api/auth/users/set_email/",
            post(account::set_email).fallback(methods::users_fallback),
        ),
        (
            "/api/auth/users/reset_email/",
            post(account::reset_email).fallback(methods::users_fallback),
        ),
        (
            "/api/auth/users/reset_email_confirm/",
            post(account::reset_email_confirm).fallback(methods::users_fallback),
        ),
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
    let metrics = &state.settings.metrics;
    if metrics.enabled && metrics.bind.is_none() {
        router = router.merge(metrics_router(&state));
    }
    let router = router.fallback(health::not_found);
    middleware::apply(router, state.clone()).with_state(state)
}

fn with_and_without_slash(router: Router<AppState>, path: &str, methods: MethodRouter<AppState>) -> Router<AppState> {
    router
        .route(path, methods.clone())
        .route(path.trim_end_matches('/'), methods)
}
