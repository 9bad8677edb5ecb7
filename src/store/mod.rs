//! Persistence: the only place in the crate that speaks SQL.
//!
//! [`Store`] is one interface over two databases, picked by `DATABASE_URL`: SQLite (the default,
//! nothing to install) and PostgreSQL (production, several instances). Both pass the same
//! contract tests. Uniqueness and once-only transitions are enforced by the database (unique
//! constraints, conditional updates), never by a check-then-write in Rust.

mod error;
pub mod models;
pub mod postgres;
pub mod sql;
pub mod sqlite;
mod stats;
#[cfg(test)]
mod tests;

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};

pub use error::StoreError;
use models::{
    AccessCheck, ClaimedMail, EmailChange, ImportBatch, ImportCounts, NewSession, NewUser, OutboxEntry, OutboxStatus,
    PasswordChange, PasswordLogin, ProfileChange, QueuedMail, RefreshOutcome, RefreshRotation, Revocation,
    RotationState, SessionRow, TokenRecord, TokenStatus, User,
};

/// The `users` columns of [`User`], in its field order, for every query that reads a user (a
/// macro so that `concat!` builds each query as one static string).
macro_rules! user_columns {
    () => {
        "id, email, username, first_name, last_name, password, is_active, is_staff, is_superuser, \
         last_login, date_joined, suspended_at, pending_email"
    };
}
use user_columns;

/// Pool settings, shared by both backends.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    /// How long a query waits for a free connection before failing with `Unavailable`.
    pub acquire_timeout: Duration,
}

/// A connection pool to one of the supported databases.
#[derive(Debug, Clone)]
pub enum Store {
    Postgres(postgres::PgStore),
    Sqlite(sqlite::SqliteStore),
}

/// Calls the same method on whichever backend `$store` holds, inside a debug-level `store` span named
/// for the method (no arguments recorded: they include addresses and hashes), so a slow request's
/// trace shows its time in the database.
macro_rules! delegate {
    ($store:expr, $method:ident($($arg:expr),*)) => {{
        use tracing::Instrument as _;
        let span = tracing::debug_span!("store", call = stringify!($method));
        match $store {
            Store::Postgres(store) => store.$method($($arg),*).instrument(span).await,
            Store::Sqlite(store) => store.$method($($arg),*).instrument(span).await,
        }
    }};
}

pub mod mfa;
mod mfa_sql;
pub mod throttle;

/// Whether `url` names a PostgreSQL database (`postgres:` or `postgresql:`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres:") || url.starts_with("postgresql:")
}

impl Store {
    /// Opens a pool for `url` by its scheme: `sqlite:`, `postgres:` or `postgresql:`. Fails with
    /// `Unavailable` when the database cannot be reached.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Store::Sqlite(sqlite::SqliteStore::connect(url, options).await?))
        } else if is_postgres_url(url) {
            Ok(Store::Postgres(postgres::PgStore::connect(url, options).await?))
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    /// `"sqlite"` or `"postgres"`, for logs and metrics.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Store::Postgres(_) => "postgres",
            Store::Sqlite(_) => "sqlite",
        }
    }

    /// Applies the embedded migrations not yet applied (`migrations/<backend>/`).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        delegate!(self, migrate())
    }

    /// A `SELECT 1` round trip, for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        delegate!(self, ping())
    }

    /// Waits for checked-out connections to come back, then closes them all.
    pub async fn close(&self) {
        delegate!(self, close())
    }

    /// Inserts a user with `date_joined = now`. `email_key` is the lower-cased e-mail; a duplicate
    /// gives `EmailTaken`, detected from the unique constraint, so concurrent registrations of
    /// one address cannot both succeed.
    /// Queues `mails` (about the new user) in the same transaction.
    pub async fn create_user(&self, user: &NewUser, email_key: &str, mails: &[QueuedMail]) -> Result<User, StoreError> {
        delegate!(self, create_user(user, email_key, mails))
    }

    pub async fn email_exists(&self, email_key: &str) -> Result<bool, StoreError> {
        delegate!(self, email_exists(email_key))
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        delegate!(self, user_by_id(id))
    }

    pub async fn user_by_email(&self, email_key: &str) -> Result<Option<User>, StoreError> {
        delegate!(self, user_by_email(email_key))
    }

    /// Deletes a user (Djoser's `DELETE users/me/`) and their queued e-mail. With `delete_tokens`
    /// their sessions and their outstanding and blacklisted token rows go too, in the same transaction; without it
    /// they stay with a NULL `user_id`, as in SimpleJWT. True if the user existed.
    pub async fn delete_user(&self, id: i64, delete_tokens: bool) -> Result<bool, StoreError> {
        delegate!(self, delete_user(id, delete_tokens))
    }

    /// Sets `is_active` only if it was false and the user is not suspended; true when this call
    /// changed it, so of concurrent activations exactly one sees true.
    /// `mails` are queued only when this call activated the user.
    pub async fn activate_user(&self, id: i64, mails: &[QueuedMail]) -> Result<bool, StoreError> {
        delegate!(self, activate_user(id, mails))
    }

    /// Every user, by id (Djoser's unpaginated `GET users/` for staff).
    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        delegate!(self, list_users())
    }

    /// Sets the profile fields that are `Some`; false if the user is gone.
    pub async fn update_profile(&self, id: i64, change: &ProfileChange) -> Result<bool, StoreError> {
        delegate!(self, update_profile(id, change))
    }

    /// Sets `is_active` and/or `is_staff` (operator commands); setting `is_active` lifts a
    /// suspension. False if the user is gone.
    pub async fn set_flags(
        &self,
        id: i64,
        is_active: Option<bool>,
        is_staff: Option<bool>,
    ) -> Result<bool, StoreError> {
        delegate!(self, set_flags(id, is_active, is_staff))
    }

    /// Suspends the user (operator command): `is_active` off, `suspended_at` set (kept if it
    /// already was) and every refresh token revoked, in one transaction. False if the user is gone.
    pub async fn suspend_user(&self, id: i64) -> Result<bool, StoreError> {
        delegate!(self, suspend_user(id))
    }

    /// Stores `email_key` as the user's key (recomputed after the key rules changed); true if it
    /// differed, `EmailTaken` if another account has that key.
    pub async fn set_email_key(&self, id: i64, email_key: &str) -> Result<bool, StoreError> {
        delegate!(self, set_email_key(id, email_key))
    }

    /// SimpleJWT's `UPDATE_LAST_LOGIN`: one column written at login.
    pub async fn touch_last_login(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        delegate!(self, touch_last_login(id, at))
    }

    /// Queues e-mail about `user_id` without changing anything else (resend, reset requests).
    pub async fn queue_mail(&self, user_id: i64, mails: &[QueuedMail]) -> Result<(), StoreError> {
        delegate!(self, queue_mail(user_id, mails))
    }

    /// Sets a new password hash (optionally only if the old one is unchanged, touching
    /// `last_login`, revoking the user's sessions and refresh tokens as [`Store::revoke_sessions`]) and queues `mails`, all in one
    /// transaction. False, with nothing written, when the expected hash no longer matches or the
    /// user is gone.
    pub async fn change_password(
        &self,
        id: i64,
        change: &PasswordChange<'_>,
        mails: &[QueuedMail],
    ) -> Result<bool, StoreError> {
        delegate!(self, change_password(id, change, mails))
    }

    /// Sets a new e-mail address (optionally only if the old one is unchanged), drops any pending
    /// change and queues `mails` in one transaction; `EmailTaken` when the new key belongs to
    /// someone else.
    pub async fn change_email(
        &self,
        id: i64,
        change: &EmailChange<'_>,
        mails: &[QueuedMail],
    ) -> Result<bool, StoreError> {
        delegate!(self, change_email(id, change, mails))
    }

    /// Records `pending` as the address the user asked to change to (replacing an earlier
    /// request) and queues `mails`, in one transaction. False if the user is gone.
    pub async fn request_email_change(&self, id: i64, pending: &str, mails: &[QueuedMail]) -> Result<bool, StoreError> {
        delegate!(self, request_email_change(id, pending, mails))
    }

    /// Claims up to `limit` due outbox rows for one worker until `lease_until` (a crashed worker's
    /// claims lapse then). Each row goes to exactly one caller, across processes.
    pub async fn claim_mail(&self, limit: i64, lease_until: DateTime<Utc>) -> Result<Vec<ClaimedMail>, StoreError> {
        delegate!(self, claim_mail(limit, lease_until))
    }

    pub async fn mark_mail_sent(&self, id: i64) -> Result<(), StoreError> {
        delegate!(self, mark_mail_sent(id))
    }

    /// Puts a claimed row back in the queue, due at `at`, remembering why it failed.
    pub async fn reschedule_mail(&self, id: i64, at: DateTime<Utc>, error: &str) -> Result<(), StoreError> {
        delegate!(self, reschedule_mail(id, at, error))
    }

    /// Gives up on a row (permanent refusal or attempts exhausted).
    pub async fn fail_mail(&self, id: i64, error: &str) -> Result<(), StoreError> {
        delegate!(self, fail_mail(id, error))
    }

    /// The newest outbox rows, optionally only those with `status`.
    pub async fn list_mail(&self, status: Option<OutboxStatus>, limit: i64) -> Result<Vec<OutboxEntry>, StoreError> {
        delegate!(self, list_mail(status, limit))
    }

    /// Queues a failed row again with fresh attempts; false if it is not a failed row.
    pub async fn retry_mail(&self, id: i64) -> Result<bool, StoreError> {
        delegate!(self, retry_mail(id))
    }

    /// Replaces the hash only if it still equals `old` (a re-hash on login must not clobber a
    /// concurrent password change); true if updated.
    pub async fn replace_password_hash(&self, id: i64, old: &str, new: &str) -> Result<bool, StoreError> {
        delegate!(self, replace_password_hash(id, old, new))
    }

    /// Records an issued refresh token; a duplicate jti is ignored. `user_id` is stored as NULL
    /// if that user no longer exists.
    pub async fn record_outstanding(&self, token: &TokenRecord) -> Result<(), StoreError> {
        delegate!(self, record_outstanding(token))
    }

    /// Whether the refresh token with this jti is blacklisted (two unique-index lookups).
    pub async fn is_blacklisted(&self, jti: &str) -> Result<bool, StoreError> {
        delegate!(self, is_blacklisted(jti))
    }

    /// Blacklists a refresh token, creating its outstanding row first if it was never recorded
    /// (`user_id` NULL if that user no longer exists). False if it was already blacklisted.
    /// Atomic (one transaction).
    pub async fn blacklist(&self, token: &TokenRecord) -> Result<bool, StoreError> {
        delegate!(self, blacklist(token))
    }

    /// Rotation, atomically: blacklists `old` (recording it first if needed) and records `new`
    /// (whose `session_id` and `parent_jti` the caller set) in its session, whose `last_used_at` and
    /// `expires_at` move to the new token's. With `create`, that session is started first (a
    /// token minted elsewhere becomes a session of its own). False, with nothing written, if `old`
    /// was already blacklisted or its session is revoked: of concurrent rotations of one token
    /// exactly one returns true. On PostgreSQL one statement; the session row is locked first, so
    /// a concurrent revocation of the session waits for the new token and blacklists it too.
    pub async fn rotate(
        &self,
        old: &TokenRecord,
        new: &TokenRecord,
        create: Option<&NewSession>,
    ) -> Result<bool, StoreError> {
        delegate!(self, rotate(old, new, create))
    }

    /// A refresh with rotation in one go: reads the old token's status and the user and, only if
    /// the token is not blacklisted and the user may refresh, rotates exactly as [`Store::rotate`]
    /// does (in the old token's recorded session, or in `request.session`, started, when it names
    /// none). Of concurrent refreshes of one token exactly one rotates. Refreshes of distinct tokens
    /// that arrive together are written together (`sql/rotations.rs`): on PostgreSQL one statement
    /// (one round trip) for the batch, on SQLite one transaction.
    pub async fn refresh_rotation(&self, request: RefreshRotation) -> Result<RefreshOutcome, StoreError> {
        delegate!(self, refresh_rotation(request))
    }

    /// Writes an import (`imhotep import-django`) in one transaction: all of it or, on any error,
    /// nothing. New users keep their ids (the id counter moves past them); a duplicate e-mail key
    /// gives `EmailTaken`. Tokens and blacklist rows already present are skipped, so running the
    /// same batch twice writes nothing the second time. `progress` is called with the number of
    /// rows after each statement.
    pub async fn import_batch(
        &self,
        batch: &ImportBatch,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<ImportCounts, StoreError> {
        delegate!(self, import_batch(batch, progress))
    }

    /// Whether a refresh token is blacklisted, and its session; `None` if it was never recorded.
    pub async fn token_status(&self, jti: &str) -> Result<Option<TokenStatus>, StoreError> {
        delegate!(self, token_status(jti))
    }

    /// A login: the session and its first refresh token, in one transaction.
    pub async fn start_session(&self, session: &NewSession, token: &TokenRecord) -> Result<(), StoreError> {
        delegate!(self, start_session(session, token))
    }

    /// A right password's writes (`jwt/create/`) at once: forgets `login.forget` and, unless the
    /// user has a confirmed second factor, starts the session as [`Store::start_session`] does. On
    /// PostgreSQL one statement, on SQLite one transaction. Whether the session was started; when it
    /// was not, the counters are forgotten all the same and the login's second step is due.
    pub async fn start_password_session(&self, login: PasswordLogin<'_>) -> Result<bool, StoreError> {
        delegate!(self, start_password_session(login))
    }

    /// The family of a refresh token whose rotation was refused (see [`RotationState`]); `None`
    /// if the token was never recorded.
    pub async fn rotation_state(&self, jti: &str) -> Result<Option<RotationState>, StoreError> {
        delegate!(self, rotation_state(jti))
    }

    /// Ends sessions: sets `revoked_at` on those not yet revoked and blacklists every refresh
    /// token they hold (for [`Revocation::User`] also the user's tokens that belong to no
    /// session), in one transaction. Returns how many sessions this call revoked. The one place
    /// that logs a user out everywhere: password changes, deactivation and logout all use it.
    pub async fn revoke_sessions(&self, revocation: Revocation<'_>) -> Result<u64, StoreError> {
        delegate!(self, revoke_sessions(revocation))
    }

    /// `jwt/blacklist` and logout: blacklists `token` (as [`Store::blacklist`]) and, if that
    /// blacklisted it, revokes its session, in one transaction. False if it was already blacklisted.
    pub async fn end_session_of(&self, token: &TokenRecord) -> Result<bool, StoreError> {
        delegate!(self, end_session_of(token))
    }

    /// Sessions neither revoked nor expired at `now`, newest first; all users' when `user_id` is `None`.
    pub async fn list_sessions(&self, user_id: Option<i64>, now: DateTime<Utc>) -> Result<Vec<SessionRow>, StoreError> {
        delegate!(self, list_sessions(user_id, now))
    }

    /// Bearer authentication's one query: the user, and whether session `sid` is theirs and not
    /// revoked (one primary-key join on `sessions`).
    pub async fn user_for_access(&self, id: i64, sid: &str) -> Result<Option<AccessCheck>, StoreError> {
        delegate!(self, user_for_access(id, sid))
    }

    /// Deletes outstanding tokens with `expires_at <= now` (their blacklist rows go by cascade),
    /// then sessions expired by then; returns how many outstanding rows were deleted. SimpleJWT's `flushexpiredtokens`.
    pub async fn flush_expired_tokens(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        delegate!(self, flush_expired_tokens(now))
    }
}

/// The current time at the precision Postgres keeps (microseconds), so a value written and read
/// back is equal on both backends.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
