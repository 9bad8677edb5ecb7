//! What every handler can reach, built once at start-up.

use std::sync::Arc;

use super::client_ip::ClientIpSource;
use crate::auth::keys::KeyRing;
use crate::auth::{Accounts, Mfa, Sessions};
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::store::Store;

/// Shared application state. Axum clones it for every extractor and middleware of every request, so
/// it is one reference-counted pointer: a clone is one atomic increment, whatever [`Shared`] holds.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What every handler reaches through [`AppState`] (`state.settings`, `state.sessions`, ...).
pub struct Shared {
    pub settings: Arc<Settings>,
    pub accounts: Arc<Accounts>,
    pub sessions: Arc<Sessions>,
    /// Two-factor login.
    pub mfa: Arc<Mfa>,
    pub store: Store,
    /// Request and authentication counters for `/metrics`.
    pub metrics: Metrics,
    /// Where the client's address comes from (`throttle.client_ip_header`), for the `ClientIp` extractor.
    pub client_ip: Arc<ClientIpSource>,
    /// The JWT keys (shared with the token service), for the JWKS.
    pub keys: KeyRing,
}
