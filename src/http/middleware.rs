//! The middleware stack: request id, tracing span, request metrics, CORS, panic catcher, timeout, body
//! limit, security headers, the CSRF origin check, and `WWW-Authenticate` on every 401.
//!
//! The stack wraps the router once, outside routing, rather than each route: one copy of it serves
//! every route, and a connection costs only its buffers. Routing then names the route template, which
//! [`record_route`] (the one layer inside the router) writes into the request span and the response.
//!
//! The request span carries the request id, route template, method and (once the bearer extractor has
//! authenticated) `user_id`; its closing event adds status and latency. Never the path, query, headers
//! or body: they can hold tokens and e-mailed links.

use std::any::Any;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use super::error::ApiError;
use super::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps the routed `router` in the stack, outermost first.
pub fn apply(router: Router, state: &AppState) -> Router {
    let settings = &state.settings.server;
    let security_headers = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::VARY,
            HeaderValue::from_static("Accept"),
        ));
    let stack = ServiceBuilder::new()
        .layer(axum::middleware::from_fn(drop_unsafe_request_id))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<Body>| {
                    let id = request
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        request_id = %id,
                        method = %request.method(),
                        route = tracing::field::Empty,
                        user_id = tracing::field::Empty,
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(from_fn_with_state(state.clone(), super::metrics::track))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .option_layer(super::cors::layer(
            &state.settings.cors,
            state.settings.cookies.enabled(),
        ))
        .layer(CatchPanicLayer::custom(|payload: Box<dyn Any + Send>| {
            ApiError::Internal(anyhow::anyhow!(
                "a handler panicked: {}",
                crate::panics::message(&*payload)
            ))
            .into_response()
        }))
        .layer(security_headers)
        .layer(from_fn_with_state(
            state.clone(),
            super::csrf::reject_untrusted_simple_requests,
        ))
        .layer(from_fn_with_state(state.clone(), www_authenticate))
        .layer(from_fn_with_state(settings.request_timeout, deadline))
        .layer(DefaultBodyLimit::max(settings.body_limit));
    Router::new().fallback_service(stack.service(router))
}

/// Inside the router: names the matched route template (`unmatched` when none) in the request span
/// and on the response, where the request metrics read it.
pub async fn record_route(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    tracing::Span::current().record("route", route.as_ref().map_or("unmatched", MatchedPath::as_str));
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

/// `server.request_timeout`: a request not answered in time is dropped (its handler with it) and
/// answered 503 with a JSON body and `Retry-After`.
async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::TimedOut(limit).into_response(),
    }
}

/// Keeps a client's `X-Request-Id` only when it is 1–64 characters of `[A-Za-z0-9._-]`; otherwise
/// it is removed and a fresh id generated, so that no client can forge log fields or lines with it.
async fn drop_unsafe_request_id(mut request: Request, next: Next) -> Response {
    let headers = request.headers_mut();
    let mut values = headers.get_all(REQUEST_ID).iter();
    let safe = match (values.next(), values.next()) {
        (None, _) => true,
        (Some(value), None) => is_safe_request_id(value.as_bytes()),
        (Some(_), Some(_)) => false,
    };
    if !safe {
        headers.remove(REQUEST_ID);
    }
    next.run(request).await
}

fn is_safe_request_id(id: &[u8]) -> bool {
    (1..=64).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// SimpleJWT's challenge on every 401: `<first auth header type> realm="api"`.
async fn www_authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if response.status() == StatusCode::UNAUTHORIZED && !response.headers().contains_key(header::WWW_AUTHENTICATE) {
        let scheme = state
            .settings
            .simple_jwt
            .auth_header_types
            .first()
            .map_or("Bearer", String::as_str);
        if let Ok(value) = HeaderValue::from_str(&format!("{scheme} realm=\"api\"")) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::is_safe_request_id;

    #[test]
    fn only_short_plain_request_ids_are_kept() {
        for id in [
            "a",
            "req-1.2_3",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            &"x".repeat(64),
        ] {
            assert!(is_safe_request_id(id.as_bytes()), "{id}");
        }
        for id in ["", "a b", "x\" user_id=1", "a\nb", "é", &"x".repeat(65)] {
            assert!(!is_safe_request_id(id.as_bytes()), "{id:?}");
        }
    }
}
