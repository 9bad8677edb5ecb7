//! CORS from `[cors]`: exact origins only, the methods and headers Djoser's API uses, never a mirror
//! of whatever `Origin` a request carries. `cors.allowed_origins` was checked at start-up
//! ([`crate::config::CorsSettings::check`]).

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowCredentials, AllowOrigin, CorsLayer};

use crate::config::CorsSettings;

/// The layer, or `None` when no origin is allowed: then responses carry no CORS header at all and
/// an `OPTIONS` request is handled by the route like any other method. In browser mode
/// (`browser_mode`) `X-Requested-With` is allowed too: the cookie CSRF rule accepts it.
pub fn layer(settings: &CorsSettings, browser_mode: bool) -> Option<CorsLayer> {
    if settings.allowed_origins.is_empty() {
        return None;
    }
    let layer = if settings.allowed_origins.iter().any(|origin| origin == "*") {
        // Never with credentials: the configuration check refuses that combination.
        CorsLayer::new().allow_origin(AllowOrigin::any())
    } else {
        let origins: Vec<HeaderValue> = settings
            .allowed_origins
            .iter()
            .filter_map(|origin| HeaderValue::from_str(origin).ok())
            .collect();
        let layer = CorsLayer::new().allow_origin(AllowOrigin::list(origins.clone()));
        if settings.allow_credentials {
            // Only to the listed origins: other origins get no CORS header at all.
            layer.allow_credentials(AllowCredentials::predicate(move |origin, _| origins.contains(origin)))
        } else {
            layer
        }
    };
    let mut headers = vec![header::CONTENT_TYPE, header::AUTHORIZATION];
    if browser_mode {
        headers.push(HeaderName::from_static("x-requested-with"));
    }
    Some(
        layer
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers(headers)
            .max_age(settings.max_age),
    )
}
