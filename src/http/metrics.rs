//! `GET /metrics` (Prometheus' text format); every request is counted for it by the outermost
//! middleware (`middleware::Edge`).
//!
//! The endpoint is served on the main port only with a token or `metrics.public` (see
//! `MetricsSettings`), otherwise on `metrics.bind` alone, and asks for
//! `Authorization: Bearer <metrics.bearer_token>` when a token is configured.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::state::AppState;
use crate::auth::Accounts;
use crate::config::Secret;
use crate::metrics::{self, Metrics};
use crate::store::Store;

/// What the endpoint reads: the registry, the pool it reports on and the token it asks for.
#[derive(Clone)]
struct Scrape {
    metrics: Metrics,
    store: Store,
    accounts: Arc<Accounts>,
    token: Option<Secret>,
}

/// The `/metrics` route alone, with its own state, ready to merge into any router.
pub fn metrics_router<S: Clone + Send + Sync + 'static>(state: &AppState) -> Router<S> {
    let scrape = Scrape {
        metrics: state.metrics.clone(),
        store: state.store.clone(),
        accounts: state.accounts.clone(),
        token: state.settings.metrics.required_token().cloned(),
    };
    Router::new().route("/metrics", get(scrape_metrics)).with_state(scrape)
}

async fn scrape_metrics(State(scrape): State<Scrape>, headers: HeaderMap) -> Response {
    if let Some(token) = &scrape.token
        && !presents(&headers, token)
    {
        let mut response = ApiError::NotAuthenticated.into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"metrics\""),
        );
        return response;
    }
    match scrape
        .metrics
        .render(scrape.store.pool_stats(), scrape.accounts.hash_queue_depth())
    {
        Ok(body) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], body).into_response(),
        Err(error) => ApiError::Internal(anyhow::Error::new(error).context("encoding the metrics")).into_response(),
    }
}

/// Whether the one `Authorization` header is `Bearer <token>`. The comparison is of SHA-256 digests,
/// so its timing says nothing about how much of the token was right.
fn presents(headers: &HeaderMap, token: &Secret) -> bool {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    let Some((scheme, presented)) = value.to_str().ok().and_then(|v| v.split_once(' ')) else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer")
        && Sha256::digest(presented.trim().as_bytes()) == Sha256::digest(token.expose().as_bytes())
}
