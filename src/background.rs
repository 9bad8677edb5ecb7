//! What the server runs beside its HTTP listener until shutdown: the token housekeeping task, the key
//! reload task when `keys.dir` is set and, when `metrics.bind` is set, the separate listener serving
//! only `/metrics`.

use std::time::Duration;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::keys::KeyRing;
use crate::http::{self, AppState};
use crate::store::Store;
use crate::{housekeeping, key_reload};

/// The side tasks, prepared (the metrics port bound) but not started.
pub struct Background {
    store: Store,
    flush_interval: Duration,
    mail_retention: Duration,
    metrics: Option<(TcpListener, Router)>,
    /// The ring to reload and how often, when it has a directory.
    keys: Option<(KeyRing, Duration)>,
}

impl Background {
    /// Binds `metrics.bind` when metrics are enabled and a separate address is set, so that a port
    /// already taken fails start-up rather than the first scrape.
    pub async fn prepare(state: &AppState) -> anyhow::Result<Background> {
        let settings = &state.settings.metrics;
        let metrics = match settings.bind.as_deref() {
            Some(address) if settings.enabled => {
                let listener = TcpListener::bind(address)
                    .await
                    .with_context(|| format!("binding metrics.bind {address}"))?;
                Some((listener, http::metrics_router(state)))
            }
            _ => None,
        };
        Ok(Background {
            store: state.store.clone(),
            flush_interval: state.settings.housekeeping.flush_interval,
            mail_retention: state.settings.outbox.retention,
            metrics,
            keys: state
                .keys
                .reloadable()
                .then(|| (state.keys.clone(), state.settings.keys.reload_interval)),
        })
    }

    /// Starts the tasks. Each ends once `stop` fires or its sender is dropped; await the handles
    /// before closing the store.
    pub fn spawn(self, stop: watch::Receiver<()>) -> Vec<JoinHandle<()>> {
        let mut tasks = Vec::new();
        if !self.flush_interval.is_zero() {
            tasks.push(tokio::spawn(housekeeping::flush_periodically(
                self.store,
                (self.flush_interval, self.mail_retention),
                stop.clone(),
            )));
        }
        if let Some((keys, interval)) = self.keys {
            tasks.push(tokio::spawn(key_reload::reload_periodically(
                keys,
                interval,
                stop.clone(),
            )));
        }
        if let Some((listener, router)) = self.metrics {
            if let Ok(address) = listener.local_addr() {
                tracing::info!(%address, "metrics are served on a separate address");
            }
            let mut stop = stop;
            tasks.push(tokio::spawn(async move {
                let served = axum::serve(listener, router).with_graceful_shutdown(async move {
                    let _ = stop.changed().await;
                });
                if let Err(error) = served.await {
                    tracing::error!(%error, "the metrics listener failed");
                }
            }));
        }
        tasks
    }
}
