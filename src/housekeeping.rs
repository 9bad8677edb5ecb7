//! Token housekeeping run by the server itself: every `housekeeping.flush_interval` it deletes the
//! expired outstanding refresh tokens (and, by cascade, their blacklist rows), as SimpleJWT's
//! `flushexpiredtokens` does from cron. Expired tokens are refused whether or not their rows exist,
//! so a missed or failed run only leaves rows behind for the next one.
//!
//! The same run deletes throttle counters whose window and backoff are over, expired MFA tickets, outbox rows sent more
//! than `outbox.retention` ago and failed ones older than 30 days, so a flood leaves no lasting
//! weight in the database.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use crate::store::Store;

/// How long failed outbox rows are kept (for `imhotep outbox list --status failed` and `retry`).
const FAILED_MAIL_RETENTION: Duration = Duration::from_secs(30 * 86_400);

/// Flushes every `interval` (the first run one interval after start) until `stop` fires or its
/// sender is dropped; sent mail older than `mail_retention` goes too. A run in progress is allowed
/// to finish.
pub async fn flush_periodically(
    store: Store,
    (interval, mail_retention): (Duration, Duration),
    mut stop: watch::Receiver<()>,
) {
    let mut ticks = tokio::time::interval_at(Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = ticks.tick() => flush_once(&store, mail_retention).await,
        }
    }
}

async fn flush_once(store: &Store, mail_retention: Duration) {
    let now = Utc::now();
    match store.flush_expired_tokens(now).await {
        Ok(deleted) => tracing::info!(deleted, "flushed expired outstanding tokens"),
        Err(error) => tracing::warn!(%error, "flushing expired outstanding tokens failed; retrying next interval"),
    }
    match store.purge_throttle_counters(now.timestamp_millis()).await {
        Ok(deleted) => tracing::info!(deleted, "purged expired throttle counters"),
        Err(error) => tracing::warn!(%error, "purging throttle counters failed; retrying next interval"),
    }
    match store.mfa_purge_tickets(now.timestamp_millis()).await {
        Ok(deleted) => tracing::info!(deleted, "purged expired MFA tickets"),
        Err(error) => tracing::warn!(%error, "purging MFA tickets failed; retrying next interval"),
    }
    let before = |age: Duration| {
        chrono::TimeDelta::from_std(age)
            .ok()
            .and_then(|age| now.checked_sub_signed(age))
            .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC)
    };
    let (sent_before, failed_before) = (before(mail_retention), before(FAILED_MAIL_RETENTION));
    match store.purge_outbox(sent_before, failed_before).await {
        Ok(deleted) => tracing::info!(deleted, "purged old outbox rows"),
        Err(error) => tracing::warn!(%error, "purging the outbox failed; retrying next interval"),
    }
}
