//! The domain: users, passwords, tokens and links. No HTTP types, no SQL.

pub mod accounts;
pub mod claims;
pub mod email;
pub mod jwt;
pub mod keys;
pub mod limits;
pub mod links;
pub mod mfa;
pub mod notify;
pub mod outbox;
pub mod password;
pub mod sessions;

use crate::store::StoreError;

pub use accounts::Accounts;
pub use mfa::Mfa;
pub use sessions::Sessions;

/// Why a domain operation did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Registration: the address is already in use (case-insensitively).
    #[error("e-mail already registered")]
    EmailTaken,
    /// Login: unknown e-mail, wrong password or inactive account (indistinguishable on purpose).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// A link's uid decodes to no user.
    #[error("invalid uid")]
    InvalidUid,
    /// A link's token does not match the user's current state or has expired.
    #[error("invalid token")]
    InvalidToken,
    /// A valid activation link for an account that is already active.
    #[error("stale token")]
    StaleToken,
    /// A JWT was refused.
    #[error("token rejected: {0}")]
    Token(#[from] jwt::TokenError),
    /// Bearer authentication: the access token itself was refused.
    #[error("bearer token rejected: {0}")]
    BearerToken(jwt::TokenError),
    /// `jwt/verify` of a blacklisted token (answered 400, unlike the other endpoints).
    #[error("token is blacklisted")]
    BlacklistedOnVerify,
    /// Refresh for a user who is gone or inactive.
    #[error("no active account for the token")]
    NoActiveAccount,
    /// Bearer authentication failed after the token itself was accepted.
    #[error("{detail}")]
    Bearer { detail: &'static str, code: &'static str },
    /// Concurrent refreshes of one token did not settle in time (GoTrue answers 409 too).
    #[error("concurrent refreshes did not settle")]
    RefreshConflict,
    /// Too many password hashes were already waiting for a slot.
    #[error("password hashing is saturated")]
    Busy,
    /// A limit of `[throttle]` refused the request; it may be tried again after the wait.
    #[error("throttled for {0:?}")]
    Throttled(std::time::Duration),
    /// A second-factor code (TOTP or recovery code, named by its field) is wrong, replayed or used up.
    #[error("invalid second-factor code")]
    InvalidCode(&'static str),
    /// A change of an account with a second factor came without a code.
    #[error("a second-factor code is required")]
    CodeRequired,
    /// An MFA ticket is unknown, expired, spent or burnt by wrong codes.
    #[error("invalid MFA ticket")]
    InvalidTicket,
    /// No such factor of the caller's (or not in the state the request needs).
    #[error("no such factor")]
    FactorNotFound,
    /// Randomness or encryption failed (a fault of the host, never of the request).
    #[error("{0}")]
    Crypto(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed")]
    Hash(#[source] password::HashError),
}

impl From<password::HashError> for AuthError {
    fn from(error: password::HashError) -> Self {
        match error {
            password::HashError::QueueFull => {
                crate::metrics::hash_queue_full();
                AuthError::Busy
            }
            other => AuthError::Hash(other),
        }
    }
}
