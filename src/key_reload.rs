//! Key rotation without a restart: while `keys.dir` is set, the key ring is re-read on SIGHUP and every
//! `keys.reload_interval`. A directory that does not make a valid ring (mid-rotation, a bad file) is
//! logged and the current keys stay in use until the next attempt.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use crate::auth::keys::KeyRing;

/// Reloads until `stop` fires or its sender is dropped. `interval` zero: on SIGHUP only. `hangups` comes
/// from [`listen_for_hangups`], called before the server says it is serving.
pub async fn reload_periodically(
    keys: KeyRing,
    interval: Duration,
    mut hangups: Hangups,
    mut stop: watch::Receiver<()>,
) {
    let period = if interval.is_zero() {
        Duration::from_secs(365 * 86_400)
    } else {
        interval
    };
    let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = ticks.tick() => reload_once(&keys, "interval").await,
            Some(()) = next_hangup(&mut hangups) => reload_once(&keys, "SIGHUP").await,
        }
    }
}

/// SIGHUPs received since [`listen_for_hangups`] (`None`: the signal could not be listened for).
#[cfg(unix)]
pub type Hangups = Option<tokio::signal::unix::Signal>;
/// No SIGHUP off Unix.
#[cfg(not(unix))]
pub type Hangups = ();

/// Starts catching SIGHUP. Until this runs, a SIGHUP ends the process (its default action), so it
/// runs while the server starts, before it logs that it is serving, not in the reload task's first
/// poll.
#[cfg(unix)]
pub fn listen_for_hangups() -> Hangups {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP; keys reload on the interval only");
            None
        }
    }
}

/// No SIGHUP off Unix.
#[cfg(not(unix))]
pub fn listen_for_hangups() -> Hangups {}

#[cfg(unix)]
async fn next_hangup(hangups: &mut Hangups) -> Option<()> {
    match hangups {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn next_hangup(_: &mut Hangups) -> Option<()> {
    std::future::pending().await
}

async fn reload_once(keys: &KeyRing, trigger: &'static str) {
    let ring = keys.clone();
    match tokio::task::spawn_blocking(move || ring.reload()).await {
        Ok(Ok(Some(summary))) => tracing::info!(trigger, keys = %summary, "signing keys reloaded"),
        Ok(Ok(None)) => tracing::debug!(trigger, "signing keys unchanged"),
        Ok(Err(problem)) => {
            tracing::warn!(trigger, %problem, "signing keys not reloaded; the current keys stay in use")
        }
        Err(error) => tracing::error!(%error, "the key reload task failed"),
    }
}
