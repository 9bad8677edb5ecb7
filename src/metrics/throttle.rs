//! Abuse-protection counters, process-wide like the e-mail ones (the limiter middleware and the domain
//! count without a handle on a registry): refusals by group, login backoffs, e-mails the global cap
//! kept from the queue, and password hashes refused because the hashing queue was full.

use std::sync::atomic::{AtomicU64, Ordering};

/// Every `group` label of `imhotep_throttled_total`: the per-client groups of `[throttle]`, then the
/// per-recipient e-mail spacing (`email_recipient`) and the deployment-wide e-mail cap (`email_global`).
pub const GROUPS: [&str; 7] = [
    "login",
    "refresh",
    "signup",
    "email",
    "confirm",
    "email_recipient",
    "email_global",
];

static THROTTLED: [AtomicU64; GROUPS.len()] = [const { AtomicU64::new(0) }; GROUPS.len()];
static LOGIN_BACKOFF: AtomicU64 = AtomicU64::new(0);
static HASH_QUEUE_FULL: AtomicU64 = AtomicU64::new(0);

/// Counts one refusal in `group` (one of [`GROUPS`]; anything else is not counted).
pub fn throttled(group: &str) {
    if let Some(index) = GROUPS.iter().position(|known| *known == group) {
        THROTTLED[index].fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts one login or `current_password` attempt refused because the account's backoff was running.
pub fn login_backoff() {
    LOGIN_BACKOFF.fetch_add(1, Ordering::Relaxed);
}

/// Counts one password hash refused at once because too many were already waiting.
pub fn hash_queue_full() {
    HASH_QUEUE_FULL.fetch_add(1, Ordering::Relaxed);
}

/// `(group, refusals)` for each group.
pub(super) fn throttled_snapshot() -> Vec<(&'static str, u64)> {
    GROUPS
        .iter()
        .zip(&THROTTLED)
        .map(|(group, count)| (*group, count.load(Ordering::Relaxed)))
        .collect()
}

pub(super) fn login_backoffs() -> u64 {
    LOGIN_BACKOFF.load(Ordering::Relaxed)
}

pub(super) fn hash_queue_refusals() -> u64 {
    HASH_QUEUE_FULL.load(Ordering::Relaxed)
}
