//! Rows as the domain sees them: the `users` table, the token tables and sessions.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::mail::EmailKind;

/// A user's id (`users.id`), as a type of its own where a store call also takes other integers (a
/// TOTP time step, a count), so that swapping them does not compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserId(pub i64);

/// A user row, with Django's column names.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    /// The encoded password hash (`$argon2id$...`, any Django hasher's format until the next login, or
    /// `!...` for unusable).
    pub password: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub last_login: Option<DateTime<Utc>>,
    pub date_joined: DateTime<Utc>,
    /// Set while an operator has suspended the account (`imhotep users deactivate`): no login,
    /// refresh, bearer use or activation, whatever `is_active` says.
    pub suspended_at: Option<DateTime<Utc>>,
    /// The address `set_email` is waiting to have confirmed (`djoser.set_email_requires_confirmation`).
    pub pending_email: Option<String>,
}

impl User {
    /// The row's id as a [`UserId`].
    pub fn user_id(&self) -> UserId {
        UserId(self.id)
    }

    /// Whether an operator has suspended the account.
    pub fn is_suspended(&self) -> bool {
        self.suspended_at.is_some()
    }

    /// Whether this user may refresh tokens: not suspended and, if `check_user_is_active`, active
    /// (the store's one-statement refresh applies the same rule in SQL).
    pub fn may_refresh(&self, check_user_is_active: bool) -> bool {
        !self.is_suspended() && (self.is_active || !check_user_is_active)
    }
}

/// What registration (or `createsuperuser`) inserts.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub password: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
}

/// A refresh token as recorded in `outstanding_tokens` (SimpleJWT's OutstandingToken without the encoded JWT).
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub jti: String,
    pub user_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The session the token belongs to (its `sid`); stored as NULL if that session does not exist.
    pub session_id: Option<String>,
    /// The jti of the token this one was rotated from.
    pub parent_jti: Option<String>,
}

/// A session about to be started (at login, or at the first refresh of a token minted elsewhere).
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub user_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// A login by password, written at once ([`crate::store::Store::start_password_session`]).
#[derive(Debug, Clone, Copy)]
pub struct PasswordLogin<'a> {
    /// The throttle counters a right password forgets (the account's, and the account + client's);
    /// `None` when throttling is off.
    pub forget: Option<(&'a str, &'a str)>,
    /// The session to start, unless its user has a confirmed second factor.
    pub session: &'a NewSession,
    /// The session's first refresh token.
    pub token: &'a TokenRecord,
}

/// A row of `sessions`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What the refresh path needs to know about a presented token before rotating it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenStatus {
    pub blacklisted: bool,
    pub session_id: Option<String>,
}

/// A refresh with rotation, as one request to the store ([`crate::store::Store::refresh_rotation`]).
/// It owns its parts: a batch of rotations may be written after the request that made it went away.
#[derive(Debug, Clone)]
pub struct RefreshRotation {
    /// The presented refresh token.
    pub old: TokenRecord,
    /// Its successor (`jti`, `iat`, `exp`); recorded in the old token's session, with `old` as parent.
    pub child: IssuedToken,
    /// The user the token names, who must exist, not be suspended and (with `check_user_is_active`)
    /// be active; `None` for a token without `user_id` (nobody to check).
    pub user_id: Option<i64>,
    pub check_user_is_active: bool,
    /// Started, with the child as its first token, when the old token's row names no session (a
    /// token minted elsewhere); its id is the session the child is then recorded in.
    pub session: NewSession,
}

/// What [`RefreshRotation`] found and did. Nothing was written unless `rotated_in` is set.
#[derive(Debug, Clone)]
pub struct RefreshOutcome {
    /// The old token was already blacklisted.
    pub blacklisted: bool,
    /// The user named by `user_id`, as stored.
    pub user: Option<User>,
    /// The session the child was recorded in; `None` when nothing was rotated: the token is
    /// blacklisted, the user may not refresh, another caller rotated it first, or its session is revoked.
    pub rotated_in: Option<String>,
}

/// A token as the reuse rules see it: enough to sign it again byte for byte (`jti`, `iat`, `exp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub jti: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The family of a rotated refresh token, read after its rotation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationState {
    /// When the presented token was blacklisted; `None` if it is not (anymore, or yet).
    pub rotated_at: Option<DateTime<Utc>>,
    /// Its session (from its own row, or else from its child's).
    pub session_id: Option<String>,
    /// Whether that session is revoked or gone.
    pub session_revoked: bool,
    /// The token it was rotated into, and whether that child has been rotated or blacklisted since.
    pub child: Option<(IssuedToken, bool)>,
    /// The session's newest token that is not blacklisted.
    pub live: Option<IssuedToken>,
}

/// Bearer authentication's row: the user, and whether the token's session is theirs and not revoked.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccessCheck {
    #[sqlx(flatten)]
    pub user: User,
    pub session_live: bool,
}

/// Which sessions a revocation ends. Every refresh token of an ended session is blacklisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation<'a> {
    /// One session; with `owner`, only if it belongs to that user.
    Session { id: &'a str, owner: Option<i64> },
    /// Every session and refresh token of a user, except those of session `keep`.
    User { user_id: i64, keep: Option<&'a str> },
}

/// An e-mail a state change promises, written to the outbox in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    pub kind: EmailKind,
    /// The address stored in the database (after the change, when the change is the address).
    pub recipient: String,
}

impl QueuedMail {
    pub fn new(kind: EmailKind, recipient: &str) -> Self {
        Self {
            kind,
            recipient: recipient.to_owned(),
        }
    }
}

/// An outbox row's `kind` as read back: an e-mail this version sends, or a name it does not know (a
/// newer version's, or written by hand), which the worker gives up on and the listing still shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredMailKind {
    Known(EmailKind),
    Unknown(String),
}

impl From<String> for StoredMailKind {
    fn from(name: String) -> Self {
        match EmailKind::from_name(&name) {
            Some(kind) => StoredMailKind::Known(kind),
            None => StoredMailKind::Unknown(name),
        }
    }
}

impl fmt::Display for StoredMailKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoredMailKind::Known(kind) => f.write_str(kind.name()),
            StoredMailKind::Unknown(name) => f.write_str(name),
        }
    }
}

/// Where an outbox row is in its delivery (the `email_outbox_status_check` constraint's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxStatus {
    /// Waiting for its `next_attempt_at`.
    Pending,
    /// Claimed by a worker until its lease (`next_attempt_at`) lapses.
    Sending,
    Sent,
    /// Given up on; `imhotep outbox retry` queues it again.
    Failed,
}

impl OutboxStatus {
    /// Every status.
    pub const ALL: [OutboxStatus; 4] = [
        OutboxStatus::Pending,
        OutboxStatus::Sending,
        OutboxStatus::Sent,
        OutboxStatus::Failed,
    ];

    /// The value in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Sending => "sending",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for OutboxStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A status name that is not one of [`OutboxStatus`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status {0:?}: use pending, sending, sent or failed")]
pub struct UnknownStatus(String);

impl FromStr for OutboxStatus {
    type Err = UnknownStatus;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        OutboxStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == name)
            .ok_or_else(|| UnknownStatus(name.to_owned()))
    }
}

impl TryFrom<String> for OutboxStatus {
    type Error = UnknownStatus;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        name.parse()
    }
}

/// An outbox row a worker has claimed for delivery.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedMail {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub kind: StoredMailKind,
    pub user_id: i64,
    pub recipient: String,
    /// Including this one.
    pub attempts: i32,
}

/// An outbox row as `imhotep outbox list` shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxEntry {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub kind: StoredMailKind,
    pub recipient: String,
    #[sqlx(try_from = "String")]
    pub status: OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// How a password is being changed.
#[derive(Debug, Clone)]
pub struct PasswordChange<'a> {
    pub new_hash: &'a str,
    /// Only if the stored hash still equals this (a reset link is single-use even under a race).
    pub expected_hash: Option<&'a str>,
    /// Set `last_login = now` (Djoser's reset confirm does, which kills other reset links).
    pub touch_last_login: bool,
    /// Blacklist every outstanding refresh token of the user.
    pub revoke_tokens: bool,
}

/// How an e-mail address is being changed.
#[derive(Debug, Clone)]
pub struct EmailChange<'a> {
    pub new_email: &'a str,
    pub new_key: &'a str,
    /// Only if the stored address still equals this (a reset link is single-use).
    pub expected_email: Option<&'a str>,
    pub touch_last_login: bool,
}

/// Profile fields to change (`None` keeps the stored value).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChange {
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// A user copied from another database (`imhotep import-django`): every column kept as it was,
/// id and timestamps included, with the uniqueness key the caller computed for its e-mail.
#[derive(Debug, Clone)]
pub struct ImportedUser {
    pub user: User,
    pub email_key: String,
}

/// An outstanding refresh token copied from SimpleJWT's `token_blacklist_outstandingtoken`, without
/// the encoded token (see `outstanding_tokens`). `created_at` is nullable there too.
#[derive(Debug, Clone)]
pub struct ImportedToken {
    pub jti: String,
    pub user_id: Option<i64>,
    pub created_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
}

/// A blacklisting copied from SimpleJWT's `token_blacklist_blacklistedtoken`, named by the jti of
/// its outstanding token.
#[derive(Debug, Clone)]
pub struct ImportedBlacklisting {
    pub jti: String,
    pub blacklisted_at: DateTime<Utc>,
}

/// Everything one import writes, in one transaction.
#[derive(Debug, Clone, Default)]
pub struct ImportBatch {
    /// Users whose id is not in the store yet.
    pub new_users: Vec<ImportedUser>,
    /// Users whose row is replaced (`--update`): every column but the id.
    pub changed_users: Vec<ImportedUser>,
    /// Outstanding refresh tokens; a jti already recorded is left alone.
    pub tokens: Vec<ImportedToken>,
    /// Blacklist rows; a token already blacklisted, or whose jti is not recorded, is left alone.
    pub blacklist: Vec<ImportedBlacklisting>,
}

/// What an import wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub users_inserted: u64,
    pub users_updated: u64,
    pub tokens_inserted: u64,
    pub blacklisted_inserted: u64,
}
