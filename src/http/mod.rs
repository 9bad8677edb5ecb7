//! The HTTP surface: routes, extractors, response shapes and the middleware stack.
//! Handlers call the domain (`crate::auth`); they never run SQL.

mod account;
mod bearer;
mod body;
mod client;
pub mod client_ip;
pub mod connections;
mod cookies;
mod cors;
mod csrf;
mod demo;
pub mod error;
mod fields;
mod health;
mod jwks;
mod jwt;
mod methods;
mod metrics;
mod mfa;
mod middleware;
mod openapi;
mod profile;
pub mod routes;
mod sessions;
pub mod state;
mod throttle;
mod user_detail;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::routing::{MethodRouter, get};

pub use cookies::{prefixed as prefixed_cookie_name, refresh_cookie_path};
pub use metrics::metrics_router;
pub use state::AppState;

/// Every route of the API, each answering with and without its trailing slash, plus the aliases
/// from `[routes]` (checked by [`routes::aliases`] at start-up).
pub fn router(state: AppState) -> Result<Router, String> {
    let aliases = routes::aliases(&state.settings.routes)?;
    let mut router = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    let limits = Arc::new(throttle::Throttle::new(&state.settings.throttle, state.metrics.clone()));
    let browser = cookies::BrowserMode::new(&state.settings, &aliases).map(Arc::new);
    let origins = &state.settings.cors.allowed_origins;
    for (path, methods) in routes::builtin() {
        let methods = throttle::limit_builtin(&limits, path, methods);
        let methods = match routes::endpoint_at(path) {
            Some(name) => cookies::wrap(browser.as_ref(), origins, name, methods),
            None => methods,
        };
        router = with_and_without_slash(router, path, methods);
    }
    for (path, name) in &aliases {
        if let Some(methods) = routes::endpoint(name) {
            let methods = throttle::limit_endpoint(&limits, name, methods);
            let methods = cookies::wrap(browser.as_ref(), origins, name, methods);
            router = with_and_without_slash(router, &routes::mounted(path, name), methods);
        }
    }
    router = router.merge(openapi::router(&state.settings, &aliases));
    if state.settings.cookies.demo_page {
        router = router.merge(demo::router());
    }
    if state.settings.metrics.on_main_port() {
        router = router.merge(metrics_router(&state));
    }
    let router = router
        .fallback(health::not_found)
        .layer(middleware::AroundLayer(csrf::SimpleRequests {
            allowed_origins: origins.as_slice().into(),
        }))
        .layer(middleware::AroundLayer(middleware::RouteName))
        .with_state(state.clone());
    Ok(middleware::apply(router, &state))
}

/// A path ending in `/` is also served without it; one ending in a file name (`jwks.json`) only as is.
fn with_and_without_slash(router: Router<AppState>, path: &str, methods: MethodRouter<AppState>) -> Router<AppState> {
    match path.strip_suffix('/') {
        Some(bare) => router.route(path, methods.clone()).route(bare, methods),
        None => router.route(path, methods),
    }
}
