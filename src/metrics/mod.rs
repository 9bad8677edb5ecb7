//! Prometheus metrics: one [`Metrics`] object per server, owned by the application state and handed
//! to the services that count (sessions, accounts, limits, the outbox, the hashing pool, the rate
//! limiter), so each event is counted where it happens, whatever path the request came in on.
//!
//! `prometheus-client` keeps the registry and writes the OpenMetrics text. The request path takes no
//! lock and allocates nothing: event counters are atomics whose handles are created here once, and
//! per-route series are found in an insert-only table and counted with atomics ([`requests`]). Every
//! label value comes from a bounded set (route templates, known methods, status codes, fixed
//! outcomes), so a client cannot grow the series.

mod histogram;
mod requests;

use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use requests::{RequestCounts, RequestDurations, RequestTable};

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The route label of requests that matched no route.
const UNMATCHED: &str = "unmatched";

/// Every `group` label of `imhotep_throttled_total`: the per-client groups of `[throttle]`, then the
/// per-recipient e-mail spacing (`email_recipient`) and the deployment-wide e-mail cap (`email_global`).
pub const THROTTLE_GROUPS: [&str; 7] = [
    "login",
    "refresh",
    "signup",
    "email",
    "confirm",
    "email_recipient",
    "email_global",
];

/// A refresh-token event of `imhotep_tokens_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenEvent {
    /// A session started (login, or a registration answering with tokens).
    Issued,
    Refreshed,
    /// Blacklisted by `jwt/blacklist` or `jwt/logout`.
    Blacklisted,
}

/// An outcome of `imhotep_emails_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailOutcome {
    /// Committed to the outbox.
    Queued,
    /// Handed to the backend.
    Sent,
    /// Given up on (permanently refused, out of attempts, or undeliverable).
    Failed,
}

/// One server's registry and the handles that count into it; clones share them.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    requests: Arc<RequestTable>,
    logins_succeeded: Counter,
    logins_failed: Counter,
    tokens_issued: Counter,
    tokens_refreshed: Counter,
    tokens_blacklisted: Counter,
    refresh_reuse: Counter,
    emails_queued: Counter,
    emails_sent: Counter,
    emails_failed: Counter,
    pool_in_use: Gauge<i64, AtomicI64>,
    pool_idle: Gauge<i64, AtomicI64>,
    hash_waiting: Gauge<i64, AtomicI64>,
    throttled: [Counter; THROTTLE_GROUPS.len()],
    login_backoff: Counter,
    hash_rejected: Counter,
}

/// A one-label series key (`outcome`, `event`, `state`, `group`...).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabel {
    event: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupLabel {
    group: &'static str,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Arc::new(RequestTable::default());
        registry.register(
            "imhotep_http_requests",
            "HTTP requests answered, by route template, method and status",
            RequestCounts(requests.clone()),
        );
        registry.register(
            "imhotep_http_request_duration_seconds",
            "Time to answer HTTP requests, by route template",
            RequestDurations(requests.clone()),
        );
        let logins = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "imhotep_logins",
            "Credential checks of jwt/create (on any of its paths): succeeded or failed",
            logins.clone(),
        );
        let tokens = Family::<EventLabel, Counter>::default();
        registry.register(
            "imhotep_tokens",
            "Refresh tokens issued (a new session), refreshed and blacklisted (blacklist, logout)",
            tokens.clone(),
        );
        let refresh_reuse = Counter::default();
        registry.register(
            "imhotep_refresh_reuse",
            "Rotated refresh tokens presented again outside the reuse rules; each revoked its session",
            refresh_reuse.clone(),
        );
        let emails = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "imhotep_emails",
            "E-mails queued for delivery, sent, and given up on",
            emails.clone(),
        );
        let pool = Family::<StateLabel, Gauge<i64, AtomicI64>>::default();
        registry.register(
            "imhotep_db_pool_connections",
            "Database pool connections in use and idle",
            pool.clone(),
        );
        let hash_queue = Family::<StateLabel, Gauge<i64, AtomicI64>>::default();
        registry.register(
            "imhotep_password_hash_queue",
            "Password hashes waiting for a hashing slot (one slot per core by default)",
            hash_queue.clone(),
        );
        let throttled = Family::<GroupLabel, Counter>::default();
        registry.register(
            "imhotep_throttled",
            "Requests refused by a rate limit, by group",
            throttled.clone(),
        );
        let login_backoff = Counter::default();
        registry.register(
            "imhotep_login_backoff",
            "Login and current_password attempts refused while the account's backoff ran",
            login_backoff.clone(),
        );
        let hash_rejected = Counter::default();
        registry.register(
            "imhotep_password_hash_rejected",
            "Password hashes refused with 503 because the hashing queue was full",
            hash_rejected.clone(),
        );
        let outcome =
            |family: &Family<OutcomeLabel, Counter>, outcome| family.get_or_create(&OutcomeLabel { outcome }).clone();
        let event = |event| tokens.get_or_create(&EventLabel { event }).clone();
        let state = |family: &Family<StateLabel, Gauge<i64, AtomicI64>>, state| {
            family.get_or_create(&StateLabel { state }).clone()
        };
        let inner = Inner {
            logins_succeeded: outcome(&logins, "succeeded"),
            logins_failed: outcome(&logins, "failed"),
            tokens_issued: event("issued"),
            tokens_refreshed: event("refreshed"),
            tokens_blacklisted: event("blacklisted"),
            emails_queued: outcome(&emails, "queued"),
            emails_sent: outcome(&emails, "sent"),
            emails_failed: outcome(&emails, "failed"),
            pool_in_use: state(&pool, "in_use"),
            pool_idle: state(&pool, "idle"),
            hash_waiting: state(&hash_queue, "waiting"),
            throttled: THROTTLE_GROUPS.map(|group| throttled.get_or_create(&GroupLabel { group }).clone()),
            refresh_reuse,
            login_backoff,
            hash_rejected,
            requests,
            registry,
        };
        Metrics { inner: Arc::new(inner) }
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Counts one answered request. `route` is the matched route template (`None`: no route matched);
    /// methods outside the standard set are counted as `OTHER`.
    pub fn record_request(&self, route: Option<&str>, method: &str, status: u16, elapsed: Duration) {
        self.inner
            .requests
            .record(route.unwrap_or(UNMATCHED), method, status, elapsed);
    }

    /// Counts one credential check of a login.
    pub fn login(&self, succeeded: bool) {
        let inner = &self.inner;
        let counter = if succeeded {
            &inner.logins_succeeded
        } else {
            &inner.logins_failed
        };
        counter.inc();
    }

    /// Counts one refresh-token event.
    pub fn token(&self, event: TokenEvent) {
        let inner = &self.inner;
        match event {
            TokenEvent::Issued => inner.tokens_issued.inc(),
            TokenEvent::Refreshed => inner.tokens_refreshed.inc(),
            TokenEvent::Blacklisted => inner.tokens_blacklisted.inc(),
        };
    }

    /// Counts a rotated refresh token presented again outside the reuse rules (its session was revoked).
    pub fn refresh_reuse_detected(&self) {
        self.inner.refresh_reuse.inc();
    }

    /// Counts `messages` e-mails with this outcome.
    pub fn emails(&self, outcome: EmailOutcome, messages: u64) {
        let inner = &self.inner;
        let counter = match outcome {
            EmailOutcome::Queued => &inner.emails_queued,
            EmailOutcome::Sent => &inner.emails_sent,
            EmailOutcome::Failed => &inner.emails_failed,
        };
        counter.inc_by(messages);
    }

    /// Counts one refusal in `group` (one of [`THROTTLE_GROUPS`]; anything else is not counted).
    pub fn throttled(&self, group: &str) {
        if let Some(index) = THROTTLE_GROUPS.iter().position(|known| *known == group) {
            self.inner.throttled[index].inc();
        }
    }

    /// Counts one login or `current_password` attempt refused because the account's backoff was running.
    pub fn login_backoff(&self) {
        self.inner.login_backoff.inc();
    }

    /// Counts one password hash refused at once because too many were already waiting.
    pub fn hash_queue_full(&self) {
        self.inner.hash_rejected.inc();
    }

    /// The whole registry as OpenMetrics text ([`CONTENT_TYPE`]), with the pool's `(in use, idle)`
    /// connections and the number of password hashes waiting for a slot, read now.
    pub fn render(&self, pool: (u32, u32), hash_queue: usize) -> Result<String, std::fmt::Error> {
        let inner = &self.inner;
        inner.pool_in_use.set(i64::from(pool.0));
        inner.pool_idle.set(i64::from(pool.1));
        inner.hash_waiting.set(i64::try_from(hash_queue).unwrap_or(i64::MAX));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &inner.registry)?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests;
