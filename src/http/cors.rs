//! CORS from `[cors]`: exact origins only, the methods and headers Djoser's API uses, never a mirror
//! of whatever `Origin` a request carries. `cors.allowed_origins` was checked at start-up
//! ([`crate::config::CorsSettings::check`]).

use axum::http::{HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::CorsSettings;

/// The layer, or `None` when no origin is allowed: then responses carry no CORS header at all and
/// an `OPTIONS` request is handled by the route like any other method.
pub fn layer(settings: &CorsSettings) -> Option<CorsLayer> {
    if settings.allowed_origins.is_empty() {
        return None;
    }
    let origins = if settings.allowed_origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            settings
                .allowed_origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
            .allow_credentials(settings.allow_credentials)
            .max_age(settings.max_age),
    )
}
