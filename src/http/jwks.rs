//! `GET /.well-known/jwks.json`: the public keys of the key ring as a JWK Set (RFC 7517), for services
//! that verify access tokens offline. HMAC keys never appear; the body is built from the current ring
//! on each request, so a reload shows at once, and caches may keep it for ten minutes.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::state::AppState;

/// How long clients and proxies may cache the key set: the wait between adding a key as `verify` and
/// signing with it must be longer.
pub const CACHE_CONTROL: &str = "public, max-age=600";

/// `GET /.well-known/jwks.json`
pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, CACHE_CONTROL)],
        Json(state.keys.current().jwks()),
    )
}
