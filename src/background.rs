//! What the server runs beside its HTTP listener until shutdown: the token housekeeping task, the key
//! reload task when `keys.dir` is set and, unless the main port serves them, the separate listener
//! serving only `/metrics` on `metrics.bind`.

use std::time::Duration;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::keys::KeyRing;
use crate::http::connections::{self, ConnectionLimits};
use crate::http::{self, AppState};
use crate::store::Store;
use crate::{housekeeping, key_reload};

/// The side tasks, prepared (the metrics port bound) but not started.
pub struct Background {
    store: Store,
    /// How often housekeeping runs; `None` when `housekeeping.enabled` is off.
    flush_interval: Option<Duration>,
    mail_retention: Duration,
    metrics: Option<(TcpListener, Router)>,
    limits: ConnectionLimits,
    /// The ring to reload, how often, and the SIGHUPs that reload it, when it has a directory.
    keys: Option<(KeyRing, Duration, key_reload::Hangups)>,
}

impl Background {
    /// Binds `metrics.bind` when the metrics are served there (see `MetricsSettings`), so that a
    /// port already taken fails start-up rather than the first scrape.
    pub async fn prepare(state: &AppState) -> anyhow::Result<Background> {
        let metrics = match state.settings.metrics.separate_bind() {
            Some(address) => {
                let listener = TcpListener::bind(address).await.with_context(|| {
                    format!(
                        "binding metrics.bind {address} (set IMHOTEP_METRICS__BIND to another address, or empty to \
                             serve no separate metrics port)"
                    )
                })?;
                Some((listener, http::metrics_router(state)))
            }
            None => None,
        };
        Ok(Background {
            store: state.store.clone(),
            flush_interval: state
                .settings
                .housekeeping
                .enabled
                .then_some(state.settings.housekeeping.flush_interval),
            mail_retention: state.settings.outbox.retention,
            metrics,
            limits: crate::app::connection_limits(&state.settings),
            keys: state.keys.reloadable().then(|| {
                let hangups = key_reload::listen_for_hangups();
                (state.keys.clone(), state.settings.keys.reload_interval, hangups)
            }),
        })
    }

    /// Starts the tasks. Each ends once `stop` fires or its sender is dropped; await the handles
    /// before closing the store.
    pub fn spawn(self, stop: watch::Receiver<()>) -> Vec<JoinHandle<()>> {
        let mut tasks = Vec::new();
        if let Some(interval) = self.flush_interval {
            tasks.push(tokio::spawn(housekeeping::flush_periodically(
                self.store,
                (interval, self.mail_retention),
                stop.clone(),
            )));
        }
        if let Some((keys, interval, hangups)) = self.keys {
            tasks.push(tokio::spawn(key_reload::reload_periodically(
                keys,
                interval,
                hangups,
                stop.clone(),
            )));
        }
        if let Some((listener, router)) = self.metrics {
            if let Ok(address) = listener.local_addr() {
                tracing::info!(%address, "metrics are served on a separate address");
            }
            let mut stop = stop;
            let limits = self.limits;
            tasks.push(tokio::spawn(connections::serve(listener, router, limits, async move {
                let _ = stop.changed().await;
            })));
        }
        tasks
    }
}
