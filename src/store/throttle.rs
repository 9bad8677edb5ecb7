//! What abuse protection keeps in the database: counters (`throttle_counters`), link e-mail requests
//! (`mail_requests`) resolved by the outbox worker, the outbox purge, and the id a hidden duplicate
//! registration answers with.
//!
//! The counting statements are written once, here, with `$n` placeholders: they are plain integer
//! arithmetic on Unix milliseconds, which PostgreSQL and SQLite read alike. Each
//! is one `INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING`: the row is changed only when
//! the hit is allowed, atomically, so concurrent requests on any number of instances count exactly.

use std::sync::LazyLock;

use super::models::User;
use super::{Store, StoreError};
use crate::mail::EmailKind;

/// What one counted hit came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    /// Counted; `hits` is the count in the window including this one.
    Allowed { hits: i64 },
    /// Not counted: the limit is reached, or a backoff is running, until `until_ms`.
    Refused { until_ms: i64 },
}

/// A counter as `imhotep throttle list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CounterRow {
    pub key: String,
    pub hits: i64,
    pub window_ends_ms: i64,
    pub blocked_until_ms: i64,
}

/// A fixed window of `$3` ms allowing `$4` hits: `$1` key, `$2` now.
pub(super) const WINDOW_HIT: &str = "\
INSERT INTO throttle_counters (key, hits, window_ends_ms, blocked_until_ms) VALUES ($1, 1, $2 + $3, 0) \
ON CONFLICT (key) DO UPDATE SET \
    hits = CASE WHEN throttle_counters.window_ends_ms <= $2 THEN 1 ELSE throttle_counters.hits + 1 END, \
    window_ends_ms = CASE WHEN throttle_counters.window_ends_ms <= $2 THEN $2 + $3 \
                          ELSE throttle_counters.window_ends_ms END \
WHERE throttle_counters.window_ends_ms <= $2 OR throttle_counters.hits < $4 \
RETURNING hits";

/// The new count of a login key: the window restarts when the last attempt is older than it.
const NEXT_HITS: &str = "(CASE WHEN throttle_counters.window_ends_ms <= $2 THEN 1 ELSE throttle_counters.hits + 1 END)";

/// A login attempt: `$1` key, `$2` now, `$3` failure window, `$4` attempts before the backoff,
/// `$5` longest wait (all ms). Refused while a backoff runs; from the `$4`-th attempt on, each one
/// starts a wait of 1 s, 2 s, 4 s, ... (at most `$5`) that the next attempt must respect.
pub(super) static BACKOFF_ATTEMPT: LazyLock<String> = LazyLock::new(|| {
    let wait = |hits: &str| {
        format!(
            "(CASE WHEN {hits} < $4 THEN 0 \
                   WHEN {hits} - $4 >= 30 THEN $2 + $5 \
                   WHEN (CAST(1000 AS BIGINT) << CAST({hits} - $4 AS INTEGER)) > $5 THEN $2 + $5 \
                   ELSE $2 + (CAST(1000 AS BIGINT) << CAST({hits} - $4 AS INTEGER)) END)"
        )
    };
    format!(
        "INSERT INTO throttle_counters (key, hits, window_ends_ms, blocked_until_ms) \
         VALUES ($1, 1, $2 + $3, {first}) \
         ON CONFLICT (key) DO UPDATE SET \
             hits = {NEXT_HITS}, window_ends_ms = $2 + $3, blocked_until_ms = {next} \
         WHERE throttle_counters.blocked_until_ms <= $2 \
         RETURNING hits",
        first = wait("CAST(1 AS BIGINT)"),
        next = wait(NEXT_HITS),
    )
});

/// When a refused key frees up: `$1` key. A login key is refused only during its backoff; a window
/// key (whose backoff is always 0) until its window ends.
pub(super) const REFUSED_UNTIL: &str = "\
SELECT CASE WHEN blocked_until_ms > 0 THEN blocked_until_ms ELSE window_ends_ms END \
FROM throttle_counters WHERE key = $1";

/// Forgets the counters `$1` and `$2` (a successful login).
pub(super) const CLEAR_TWO: &str = "DELETE FROM throttle_counters WHERE key IN ($1, $2)";

/// Deletes `$1` exactly and every key starting with `$2` (operator commands; a NULL `$2` matches none).
pub(super) const CLEAR_MATCHING: &str =
    "DELETE FROM throttle_counters WHERE key = $1 OR substr(key, 1, length($2)) = $2";

/// Counters still in force at `$1`, for `imhotep throttle list`.
pub(super) const ACTIVE: &str = "\
SELECT key, hits, window_ends_ms, blocked_until_ms FROM throttle_counters \
WHERE window_ends_ms > $1 OR blocked_until_ms > $1 ORDER BY key";

/// Rows whose window and backoff are both over at `$1`.
pub(super) const PURGE: &str = "DELETE FROM throttle_counters WHERE window_ends_ms <= $1 AND blocked_until_ms <= $1";

impl Store {
    /// Counts a hit on `key` in a fixed window of `period_ms` allowing `limit` hits.
    pub async fn throttle_hit(&self, key: &str, limit: i64, period_ms: i64, now_ms: i64) -> Result<Hit, StoreError> {
        delegate!(self, throttle_hit(key, limit, period_ms, now_ms))
    }

    /// Counts a login attempt on `key` unless its backoff is running (see [`BACKOFF_ATTEMPT`]):
    /// `(window_ms, threshold, max_wait_ms)`.
    pub async fn throttle_attempt(
        &self,
        key: &str,
        now_ms: i64,
        (window_ms, threshold, max_wait_ms): (i64, i64, i64),
    ) -> Result<Hit, StoreError> {
        delegate!(self, throttle_attempt(key, now_ms, window_ms, threshold, max_wait_ms))
    }

    /// [`Store::throttle_attempt`] on `key` and [`Store::user_by_email`] of `email_key` (none for
    /// `None`): on PostgreSQL in one statement, on SQLite one after the other. The user is read
    /// whether or not the attempt is refused.
    pub async fn throttle_attempt_reading_user(
        &self,
        key: &str,
        now_ms: i64,
        (window_ms, threshold, max_wait_ms): (i64, i64, i64),
        email_key: Option<&str>,
    ) -> Result<(Hit, Option<User>), StoreError> {
        delegate!(
            self,
            throttle_attempt_reading_user(key, now_ms, window_ms, threshold, max_wait_ms, email_key)
        )
    }

    /// Forgets two counters (a login succeeded: its account and account + client keys).
    pub async fn throttle_clear(&self, first: &str, second: &str) -> Result<(), StoreError> {
        delegate!(self, throttle_clear(first, second))
    }

    /// Deletes the counter `exact` and every counter whose key starts with `prefix`; how many.
    pub async fn throttle_clear_matching(&self, exact: &str, prefix: Option<&str>) -> Result<u64, StoreError> {
        delegate!(self, throttle_clear_matching(exact, prefix))
    }

    /// Every counter whose window or backoff is still running at `now_ms`.
    pub async fn throttle_active(&self, now_ms: i64) -> Result<Vec<CounterRow>, StoreError> {
        delegate!(self, throttle_active(now_ms))
    }

    /// Deletes the counters that are over at `now_ms` (housekeeping); how many.
    pub async fn purge_throttle_counters(&self, now_ms: i64) -> Result<u64, StoreError> {
        delegate!(self, purge_throttle_counters(now_ms))
    }

    /// Records a link e-mail request for whatever account has `email_key` (active or not as asked).
    pub async fn request_mail(&self, kind: EmailKind, email_key: &str, want_active: bool) -> Result<(), StoreError> {
        delegate!(self, request_mail(kind, email_key, want_active))
    }

    /// Turns up to `limit` requests into outbox rows for the accounts that qualify (active or inactive as
    /// asked, not suspended, with a usable password: Djoser's rule plus suspension), deleting the
    /// requests, in one transaction; returns `(requests handled, e-mails queued)`. Each request is
    /// handled by one caller, across processes.
    pub async fn resolve_mail_requests(&self, limit: i64) -> Result<(u64, u64), StoreError> {
        delegate!(self, resolve_mail_requests(limit))
    }

    /// Takes the next user id without creating a user, so that a registration answered without an account
    /// (`djoser.registration_hides_existing`) shows an id no later account will get, as a real one would.
    pub async fn reserve_user_id(&self) -> Result<i64, StoreError> {
        delegate!(self, reserve_user_id())
    }

    /// Deletes sent outbox rows sent before `sent_before` and failed rows created before
    /// `failed_before` (housekeeping); how many.
    pub async fn purge_outbox(
        &self,
        sent_before: chrono::DateTime<chrono::Utc>,
        failed_before: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        delegate!(self, purge_outbox(sent_before, failed_before))
    }
}
