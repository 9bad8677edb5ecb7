//! The middleware stack: request id and request metrics, tracing span, CORS, panic catcher,
//! `WWW-Authenticate` on every 401, security headers, timeout, body limit.
//!
//! The stack wraps the router once, outside routing, rather than each route: one copy of it serves
//! every route, and a connection costs only its buffers. Routing then names the route template, which
//! [`RouteName`] (inside the router) writes into the request span and the response, and the CSRF
//! origin check (`super::csrf`) refuses what it must, inside the route so its refusal is counted there.
//! imhotep's own middlewares are [`Around`]s, which cost no allocation per request; only browser mode's
//! (`super::cookies`), which reads and rewrites bodies, is an `async` `from_fn`, and only in that mode.
//!
//! The request span carries the request id, route template, method and (once the bearer extractor has
//! authenticated) `user_id`; its closing event adds status and latency. Never the path, query, headers
//! or body: they can hold tokens and e-mailed links.

mod around;
mod deadline;
mod edge;
mod policy;

use std::any::Any;
use std::ops::ControlFlow;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use around::{Around, AroundLayer};
use deadline::DeadlineLayer;
use edge::{Edge, REQUEST_ID};
use policy::Policy;

use super::error::ApiError;
use super::state::AppState;

/// Wraps the routed `router` in the stack, outermost first.
pub fn apply(router: Router, state: &AppState) -> Router {
    let settings = &state.settings;
    let stack = ServiceBuilder::new()
        .layer(AroundLayer(Edge {
            metrics: state.metrics.clone(),
        }))
        .map_response(IntoResponse::into_response)
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
        .option_layer(super::cors::layer(&settings.cors, settings.cookies.enabled()))
        .layer(CatchPanicLayer::custom(|payload: Box<dyn Any + Send>| {
            ApiError::Internal(anyhow::anyhow!(
                "a handler panicked: {}",
                crate::panics::message(&*payload)
            ))
            .into_response()
        }))
        .layer(AroundLayer(Policy::new(&settings.simple_jwt.auth_header_types)))
        .layer(DeadlineLayer(settings.server.request_timeout))
        .layer(DefaultBodyLimit::max(settings.server.body_limit));
    Router::new().fallback_service(stack.service(router))
}

/// Inside the router: names the matched route template (`unmatched` when none) in the request span
/// and on the response, where the request metrics read it.
#[derive(Clone)]
pub struct RouteName;

impl Around for RouteName {
    type Carry = Option<MatchedPath>;

    fn before(&self, request: &mut Request) -> ControlFlow<Response, Option<MatchedPath>> {
        let route = request.extensions().get::<MatchedPath>().cloned();
        tracing::Span::current().record("route", route.as_ref().map_or("unmatched", MatchedPath::as_str));
        ControlFlow::Continue(route)
    }

    fn after(&self, route: Option<MatchedPath>, response: &mut Response) {
        if let Some(route) = route {
            response.extensions_mut().insert(route);
        }
    }
}
