//! Token housekeeping run by the server itself: every `housekeeping.flush_interval` it deletes the
//! expired outstanding refresh tokens (and, by cascade, their blacklist rows), as SimpleJWT's
//! `flushexpiredtokens` does from cron. Expired tokens are refused whether or not their rows exist,
//! so a missed or failed run only leaves rows behind for the next one.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use crate::store::Store;

/// Flushes every `interval` (the first run one interval after start) until `stop` fires or its
/// sender is dropped. A flush in progress is allowed to finish.
pub async fn flush_periodically(store: Store, interval: Duration, mut stop: watch::Receiver<()>) {
    let mut ticks = tokio::time::interval_at(Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = ticks.tick() => flush_once(&store).await,
        }
    }
}

async fn flush_once(store: &Store) {
    match store.flush_expired_tokens(Utc::now()).await {
        Ok(deleted) => tracing::info!(deleted, "flushed expired outstanding tokens"),
        Err(error) => tracing::warn!(%error, "flushing expired outstanding tokens failed; retrying next interval"),
    }
}
