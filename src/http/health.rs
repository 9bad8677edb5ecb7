//! Liveness and readiness probes for Fly.io and load balancers.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::state::AppState;

/// `GET /healthz`: the process is up.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// How long after the hashing queue last turned a request away `/readyz` still says `degraded`.
const DEGRADED_FOR: Duration = Duration::from_secs(10);

/// `GET /readyz`: the database answers; 503 otherwise. While password hashing is saturated (the
/// queue full, or a request turned away in the last 10 s) it says `"status": "degraded"` with the
/// queue depth, still 200: the instance serves everything else, and a restart would not help.
pub async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    state
        .store
        .ping()
        .await
        .map_err(|error| ApiError::Unavailable(error.into()))?;
    let database = state.store.backend_name();
    if state.accounts.hashing_saturated(DEGRADED_FOR) {
        let depth = state.accounts.hash_queue_depth();
        return Ok(Json(
            json!({ "status": "degraded", "database": database, "hash_queue": depth }),
        ));
    }
    Ok(Json(json!({ "status": "ready", "database": database })))
}

/// Unknown paths: a JSON 404 rather than Django's HTML page.
pub async fn not_found() -> ApiError {
    ApiError::detail(StatusCode::NOT_FOUND, "Not found.")
}
