//! E-mail counters. They are process-wide (the mail code has no handle on a registry), which in
//! production is the same as per server: one process serves one application.

use std::sync::atomic::{AtomicU64, Ordering};

static QUEUED: AtomicU64 = AtomicU64::new(0);
static SENT: AtomicU64 = AtomicU64::new(0);
static FAILED: AtomicU64 = AtomicU64::new(0);

/// Counts one e-mail accepted for delivery (queued in memory or in the outbox).
pub fn email_queued() {
    QUEUED.fetch_add(1, Ordering::Relaxed);
}

/// Counts one e-mail handed to the backend successfully.
pub fn email_sent() {
    SENT.fetch_add(1, Ordering::Relaxed);
}

/// Counts one failed delivery attempt.
pub fn email_failed() {
    FAILED.fetch_add(1, Ordering::Relaxed);
}

/// `(outcome label, count)` for each counter, for the exposition.
pub(super) fn snapshot() -> [(&'static str, u64); 3] {
    [
        ("queued", QUEUED.load(Ordering::Relaxed)),
        ("sent", SENT.load(Ordering::Relaxed)),
        ("failed", FAILED.load(Ordering::Relaxed)),
    ]
}
