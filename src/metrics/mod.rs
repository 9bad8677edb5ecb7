//! Prometheus metrics, counted in-process and rendered by hand in the text exposition format.
//!
//! [`Metrics`] is one server's registry: requests and their latencies by route template, and the
//! authentication events derived from the JWT routes' statuses (logins, tokens issued, refreshed,
//! blacklisted). E-mail outcomes are process-wide counters bumped by the mail code through
//! [`email_queued`], [`email_sent`] and [`email_failed`]. Every label value comes from a bounded set
//! (route templates, known methods, status codes), so a client cannot grow the series without limit.

mod emails;
mod render;
mod throttle;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

pub use emails::{email_failed, email_queued, email_sent};
pub use throttle::{hash_queue_full, login_backoff, throttled};

/// Upper bounds of the latency histogram's buckets, in seconds (Prometheus' defaults: a login's
/// password hash lands around 0.05–0.25).
const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The route label of requests that matched no route.
const UNMATCHED: &str = "unmatched";

/// One server's registry; clones share it.
#[derive(Clone, Default)]
pub struct Metrics {
    registry: Arc<Registry>,
}

#[derive(Default)]
struct Registry {
    routes: Mutex<BTreeMap<String, RouteStats>>,
    logins_succeeded: AtomicU64,
    logins_failed: AtomicU64,
    tokens_issued: AtomicU64,
    tokens_refreshed: AtomicU64,
    tokens_blacklisted: AtomicU64,
    refresh_reuse: AtomicU64,
}

/// Everything counted for one route template.
#[derive(Default)]
struct RouteStats {
    /// Requests by `(method, status)`.
    answered: BTreeMap<(&'static str, u16), u64>,
    /// Requests per bucket (not cumulative; the exposition sums them).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

impl Metrics {
    /// Counts one answered request. `route` is the matched route template (`None`: no route matched);
    /// methods outside the standard set are counted as `OTHER`.
    pub fn record_request(&self, route: Option<&str>, method: &str, status: u16, elapsed: Duration) {
        let route = route.unwrap_or(UNMATCHED);
        let seconds = elapsed.as_secs_f64();
        {
            let mut routes = self.registry.routes.lock().unwrap_or_else(PoisonError::into_inner);
            if !routes.contains_key(route) {
                routes.insert(route.to_owned(), RouteStats::default());
            }
            let Some(stats) = routes.get_mut(route) else { return };
            *stats.answered.entry((known_method(method), status)).or_default() += 1;
            if let Some(bucket) = BUCKETS.iter().position(|bound| seconds <= *bound) {
                stats.buckets[bucket] += 1;
            }
            stats.count += 1;
            stats.sum_seconds += seconds;
        }
        self.record_auth_event(route, status);
    }

    /// Counts a rotated refresh token presented again outside the reuse rules (its session was revoked).
    pub fn refresh_reuse_detected(&self) {
        self.registry.refresh_reuse.fetch_add(1, Ordering::Relaxed);
    }

    /// Logins and token events, read from the JWT routes (with or without the trailing slash).
    fn record_auth_event(&self, route: &str, status: u16) {
        let registry = &self.registry;
        let success = (200..300).contains(&status);
        let counter = match route.trim_end_matches('/') {
            "/api/auth/jwt/create" if status == 200 => {
                registry.tokens_issued.fetch_add(1, Ordering::Relaxed);
                &registry.logins_succeeded
            }
            "/api/auth/jwt/create" if status == 401 => &registry.logins_failed,
            "/api/auth/jwt/refresh" if success => &registry.tokens_refreshed,
            "/api/auth/jwt/blacklist" | "/api/auth/jwt/logout" if success => &registry.tokens_blacklisted,
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The whole registry in Prometheus' text format, with the pool's `(in use, idle)` connections
    /// and the number of password hashes waiting for a slot.
    pub fn render(&self, pool: (u32, u32), hash_queue: usize) -> String {
        let registry = &self.registry;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut out = render::Exposition::default();
        {
            let routes = registry.routes.lock().unwrap_or_else(PoisonError::into_inner);
            out.requests(&routes);
            out.durations(&routes);
        }
        out.labelled(
            "imhotep_logins_total",
            "counter",
            "Logins at jwt/create: succeeded (200) or failed (401).",
            "outcome",
            &[
                ("succeeded", load(&registry.logins_succeeded)),
                ("failed", load(&registry.logins_failed)),
            ],
        );
        out.labelled(
            "imhotep_tokens_total",
            "counter",
            "Refresh tokens issued (login), refreshed and blacklisted (blacklist, logout).",
            "event",
            &[
                ("issued", load(&registry.tokens_issued)),
                ("refreshed", load(&registry.tokens_refreshed)),
                ("blacklisted", load(&registry.tokens_blacklisted)),
            ],
        );
        out.counter(
            "imhotep_refresh_reuse_total",
            "Rotated refresh tokens presented again outside the reuse rules; each revoked its session.",
            load(&registry.refresh_reuse),
        );
        out.labelled(
            "imhotep_emails_total",
            "counter",
            "E-mails queued for delivery, sent, and failed delivery attempts (whole process).",
            "outcome",
            &emails::snapshot(),
        );
        out.labelled(
            "imhotep_db_pool_connections",
            "gauge",
            "Database pool connections in use and idle.",
            "state",
            &[("in_use", u64::from(pool.0)), ("idle", u64::from(pool.1))],
        );
        out.labelled(
            "imhotep_password_hash_queue",
            "gauge",
            "Password hashes waiting for a hashing slot (one slot per core by default).",
            "state",
            &[("waiting", hash_queue as u64)],
        );
        out.labelled(
            "imhotep_throttled_total",
            "counter",
            "Requests refused by a rate limit, by group (whole process).",
            "group",
            &throttle::throttled_snapshot(),
        );
        out.counter(
            "imhotep_login_backoff_total",
            "Login and current_password attempts refused while the account's backoff ran (whole process).",
            throttle::login_backoffs(),
        );
        out.counter(
            "imhotep_password_hash_rejected_total",
            "Password hashes refused with 503 because the hashing queue was full (whole process).",
            throttle::hash_queue_refusals(),
        );
        out.finish()
    }
}

/// The method's label; anything non-standard is `OTHER`, so invented methods add no series.
fn known_method(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN.into_iter().find(|known| *known == method).unwrap_or("OTHER")
}
