//! What every handler can reach, built once at start-up.

use std::sync::Arc;

use crate::auth::{Accounts, Sessions};
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::store::Store;

/// Shared application state (cheap to clone: everything inside is reference-counted or a pool handle).
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub accounts: Accounts,
    pub sessions: Sessions,
    pub store: Store,
    /// Request and authentication counters for `/metrics`.
    pub metrics: Metrics,
}
