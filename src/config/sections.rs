//! The configuration sections and their defaults (Djoser's and SimpleJWT's documented defaults, where they have one).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ExtraClaim, JwtAlgorithm, ProfileField, Secret, duration, lenient};

/// `[server]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// `HOST`; `0.0.0.0` in a container.
    #[serde(deserialize_with = "lenient::string")]
    pub host: String,
    /// `PORT`; 0 picks a free port.
    pub port: u16,
    /// Largest request body accepted, in bytes; larger bodies get 413.
    pub body_limit: usize,
    /// A request that takes longer is answered 503.
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// How long in-flight requests may take to finish after SIGTERM.
    #[serde(with = "duration")]
    pub shutdown_timeout: Duration,
    /// Password hashes computed at once; 0 = the number of CPUs.
    pub hash_concurrency: usize,
    /// A new connection must send its first request head within this time, and any request head
    /// must arrive whole within this time of its first byte; slower connections are closed.
    #[serde(with = "duration")]
    pub header_read_timeout: Duration,
    /// A connection idle between requests is closed after this long.
    #[serde(with = "duration")]
    pub keep_alive_timeout: Duration,
    /// Connections open at once; further clients wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// Password hashes allowed to wait for a slot; past it requests get an immediate 503.
    /// 0 = 4 × the number of slots.
    pub hash_queue_limit: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8000,
            body_limit: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(30),
            hash_concurrency: 0,
            header_read_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            hash_queue_limit: 0,
        }
    }
}

/// `[database]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `DATABASE_URL`: `sqlite://...` or `postgres://...`.
    pub url: Secret,
    /// The pool size; unset: [`DatabaseSettings::pool_size`] picks one for the backend.
    pub max_connections: Option<u32>,
    #[serde(with = "duration")]
    pub acquire_timeout: Duration,
    /// Run pending migrations when `serve` starts.
    #[serde(deserialize_with = "lenient::bool")]
    pub migrate_on_start: bool,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: Secret::new("sqlite://imhotep.db?mode=rwc"),
            max_connections: None,
            acquire_timeout: Duration::from_secs(3),
            migrate_on_start: true,
        }
    }
}

/// The PostgreSQL pool when `max_connections` is unset. Half the pool is kept for the per-request
/// queries (`store/sql/kept.rs`), and a refresh rotation holds its connection until its commit is
/// flushed to disk: with 5 kept connections `jwt/refresh/` was bound by that wait, not by the CPU.
const POSTGRES_POOL_SIZE: u32 = 20;
/// The SQLite pool when `max_connections` is unset: its writes take turns, and a larger pool only
/// cost time per request in the benchmarks.
const SQLITE_POOL_SIZE: u32 = 10;

impl DatabaseSettings {
    /// `max_connections`, or when unset 20 for PostgreSQL and 10 for SQLite.
    pub fn pool_size(&self) -> u32 {
        let postgres = crate::store::is_postgres_url(self.url.expose());
        self.max_connections
            .unwrap_or(if postgres { POSTGRES_POOL_SIZE } else { SQLITE_POOL_SIZE })
    }
}

/// Where e-mail goes (`EMAIL_BACKEND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailBackendKind {
    /// Print every message on stdout (development).
    Console,
    /// Deliver over SMTP (`EMAIL_HOST`, `EMAIL_PORT`, ...).
    Smtp,
}

/// `[email]`, with Django's names.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailSettings {
    pub backend: EmailBackendKind,
    #[serde(deserialize_with = "lenient::string")]
    pub host: String,
    pub port: u16,
    /// `EMAIL_HOST_USER`: shown masked by `imhotep check` (providers use API tokens as user names).
    #[serde(
        deserialize_with = "lenient::opt_string",
        serialize_with = "super::secret::serialize_masked"
    )]
    pub host_user: Option<String>,
    pub host_password: Secret,
    /// STARTTLS.
    #[serde(deserialize_with = "lenient::bool")]
    pub use_tls: bool,
    /// Implicit TLS (SMTPS).
    #[serde(deserialize_with = "lenient::bool")]
    pub use_ssl: bool,
    #[serde(deserialize_with = "lenient::string")]
    pub default_from_email: String,
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// A directory whose templates override the built-in ones.
    pub templates_dir: Option<PathBuf>,
    /// Let `EMAIL_BACKEND=console` run with `DEBUG=false` (it prints every e-mailed link on stdout).
    #[serde(deserialize_with = "lenient::bool")]
    pub allow_console_in_production: bool,
}

impl Default for EmailSettings {
    fn default() -> Self {
        Self {
            backend: EmailBackendKind::Console,
            host: "localhost".into(),
            port: 25,
            host_user: None,
            host_password: Secret::default(),
            use_tls: false,
            use_ssl: false,
            default_from_email: "webmaster@localhost".into(),
            timeout: Duration::from_secs(10),
            templates_dir: None,
            allow_console_in_production: false,
        }
    }
}

/// `[djoser]`: Djoser's settings in lower case.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DjoserSettings {
    #[serde(deserialize_with = "lenient::bool")]
    pub send_activation_email: bool,
    #[serde(deserialize_with = "lenient::bool")]
    pub send_confirmation_email: bool,
    #[serde(deserialize_with = "lenient::bool")]
    pub user_create_password_retype: bool,
    #[serde(deserialize_with = "lenient::bool")]
    pub hide_users: bool,
    pub activation_url: String,
    pub password_reset_confirm_url: String,
    pub username_reset_confirm_url: String,
    pub email_frontend_protocol: String,
    pub email_frontend_domain: String,
    pub email_frontend_site_name: String,
    /// Django's `PASSWORD_RESET_TIMEOUT`: how long activation and reset links live.
    #[serde(with = "duration")]
    pub password_reset_timeout: Duration,
    #[serde(deserialize_with = "lenient::bool")]
    pub set_password_retype: bool,
    #[serde(deserialize_with = "lenient::bool")]
    pub password_reset_confirm_retype: bool,
    #[serde(deserialize_with = "lenient::bool")]
    pub set_username_retype: bool,
    #[serde(deserialize_with = "lenient::bool")]
    pub username_reset_confirm_retype: bool,
    /// Answer 400 for an unknown address on reset/resend (Djoser OR-s the two flags).
    #[serde(deserialize_with = "lenient::bool")]
    pub password_reset_show_email_not_found: bool,
    #[serde(deserialize_with = "lenient::bool")]
    pub username_reset_show_email_not_found: bool,
    #[serde(deserialize_with = "lenient::bool")]
    pub password_changed_email_confirmation: bool,
    #[serde(deserialize_with = "lenient::bool")]
    pub username_changed_email_confirmation: bool,
    /// Also accept links minted by a Django deployment with the same `SECRET_KEY` (whose tokens
    /// do not say what they are for). imhotep's own links are bound to one purpose either way.
    #[serde(deserialize_with = "lenient::bool")]
    pub accept_django_links: bool,
    /// Djoser's `REQUIRED_FIELDS` of the user model: any of `username`, `first_name`, `last_name`,
    /// accepted at registration, shown in the user representation and writable by `PUT`/`PATCH`.
    pub required_fields: Vec<ProfileField>,
    /// With activation off, `POST users/` answers `{"user": {...}, "refresh", "access"}` (auto-login).
    #[serde(deserialize_with = "lenient::bool")]
    pub register_returns_tokens: bool,
    /// Registering a taken address answers 201 like a new one and mails the owner instead
    /// (Supabase Auth's behaviour); off = Djoser's 400.
    #[serde(deserialize_with = "lenient::bool")]
    pub registration_hides_existing: bool,
    /// `set_email` only records the new address and mails it a confirmation link (and the old one a
    /// notice); `set_email_confirm` makes the change. Off: Djoser's immediate change.
    #[serde(deserialize_with = "lenient::bool")]
    pub set_email_requires_confirmation: bool,
    /// Link path in the e-mail that confirms a `set_email` change.
    pub set_email_confirm_url: String,
    /// Staff accounts without a second factor get an enrolment ticket from `jwt/create/` instead of
    /// tokens, and tokens only once they have enrolled one.
    #[serde(deserialize_with = "lenient::bool")]
    pub mfa_required_for_staff: bool,
}

impl DjoserSettings {
    /// Djoser's two "show e-mail not found" flags act as one.
    pub fn show_email_not_found(&self) -> bool {
        self.password_reset_show_email_not_found || self.username_reset_show_email_not_found
    }
}

impl Default for DjoserSettings {
    fn default() -> Self {
        Self {
            send_activation_email: true,
            send_confirmation_email: true,
            user_create_password_retype: true,
            hide_users: true,
            activation_url: "activate/{uid}/{token}".into(),
            password_reset_confirm_url: "reset-password/{uid}/{token}".into(),
            username_reset_confirm_url: "reset-email/{uid}/{token}".into(),
            set_email_confirm_url: "set-email/{uid}/{token}".into(),
            email_frontend_protocol: "http".into(),
            email_frontend_domain: "localhost:3000".into(),
            email_frontend_site_name: "imhotep".into(),
            password_reset_timeout: Duration::from_secs(259_200),
            set_password_retype: false,
            password_reset_confirm_retype: false,
            set_username_retype: false,
            username_reset_confirm_retype: false,
            password_reset_show_email_not_found: false,
            username_reset_show_email_not_found: false,
            password_changed_email_confirmation: false,
            username_changed_email_confirmation: false,
            accept_django_links: true,
            required_fields: Vec::new(),
            register_returns_tokens: false,
            registration_hides_existing: false,
            set_email_requires_confirmation: true,
            mfa_required_for_staff: false,
        }
    }
}

/// `[simple_jwt]`: SimpleJWT's settings in lower case.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimpleJwtSettings {
    #[serde(with = "duration")]
    pub access_token_lifetime: Duration,
    #[serde(with = "duration")]
    pub refresh_token_lifetime: Duration,
    #[serde(deserialize_with = "lenient::bool")]
    pub rotate_refresh_tokens: bool,
    #[serde(deserialize_with = "lenient::bool")]
    pub blacklist_after_rotation: bool,
    /// `HS256`/`HS384`/`HS512` (with a secret), `RS256`/`RS384`/`RS512`, `PS256`/`PS384`/`PS512`,
    /// `ES256`/`ES384` or `EdDSA` (with a PEM key pair).
    pub algorithm: JwtAlgorithm,
    /// HMAC: the secret (defaults to `SECRET_KEY`). Otherwise the private key: PEM text or `file:PATH`.
    pub signing_key: Option<Secret>,
    /// The public key (PEM text or `file:PATH`) for the non-HMAC algorithms; derived from
    /// `signing_key` when absent.
    pub verifying_key: Option<Secret>,
    pub audience: Option<String>,
    pub issuer: Option<String>,
    #[serde(with = "duration")]
    pub leeway: Duration,
    /// Accepted `Authorization` schemes, case-sensitive; the first one goes into `WWW-Authenticate`.
    pub auth_header_types: Vec<String>,
    #[serde(deserialize_with = "lenient::bool")]
    pub check_user_is_active: bool,
    /// User attributes copied into both tokens at login and into refreshed access tokens: `email`,
    /// `username`, `first_name`, `last_name`, `full_name`, `is_staff`, `is_superuser`. Informational
    /// only: authorization always reads the database.
    pub extra_claims: Vec<ExtraClaim>,
    /// Add the `hash_password` claim and refuse access tokens minted before a password change.
    #[serde(deserialize_with = "lenient::bool")]
    pub check_revoke_token: bool,
    /// Set `last_login` on every `jwt/create` (one extra write per login).
    #[serde(deserialize_with = "lenient::bool")]
    pub update_last_login: bool,
}

impl Default for SimpleJwtSettings {
    fn default() -> Self {
        Self {
            access_token_lifetime: Duration::from_secs(60 * 60),
            refresh_token_lifetime: Duration::from_secs(7 * 86_400),
            rotate_refresh_tokens: true,
            blacklist_after_rotation: true,
            algorithm: JwtAlgorithm::HS256,
            signing_key: None,
            verifying_key: None,
            audience: None,
            issuer: None,
            leeway: Duration::ZERO,
            auth_header_types: vec!["Bearer".into()],
            check_user_is_active: true,
            extra_claims: Vec::new(),
            check_revoke_token: false,
            update_last_login: false,
        }
    }
}

/// `[sessions]`: session hygiene beyond Djoser.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionSettings {
    /// `set_password` and `reset_password_confirm` blacklist every outstanding refresh token of the user.
    #[serde(deserialize_with = "lenient::bool")]
    pub revoke_on_password_change: bool,
    /// `DELETE users/me/` removes the user's sessions and token rows in the same transaction.
    #[serde(deserialize_with = "lenient::bool")]
    pub delete_tokens_with_user: bool,
    /// GoTrue's reuse rules for rotated refresh tokens: a replayed parent whose child was never used
    /// gets that child again, any rotated token within `reuse_interval` gets the session's live
    /// token, and anything else revokes the whole session. Off: SimpleJWT's 401 for every replay.
    #[serde(deserialize_with = "lenient::bool")]
    pub reuse_detection: bool,
    /// How long after its rotation an older refresh token is still answered with the live one.
    #[serde(with = "duration")]
    pub reuse_interval: Duration,
    /// Refuse access tokens of a logged-out or revoked session on imhotep's own endpoints at once
    /// (checked in the query that reads the user). Off: valid until `exp`, as with SimpleJWT.
    #[serde(deserialize_with = "lenient::bool")]
    pub check_access_token_session: bool,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            revoke_on_password_change: true,
            delete_tokens_with_user: true,
            reuse_detection: true,
            reuse_interval: Duration::from_secs(10),
            check_access_token_session: true,
        }
    }
}

/// `[outbox]`: delivery of queued e-mail.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxSettings {
    /// Attempts before a message is marked failed.
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles after each further one...
    #[serde(with = "duration")]
    pub backoff_base: Duration,
    /// ...up to this ceiling.
    #[serde(with = "duration")]
    pub backoff_ceiling: Duration,
    /// How often the worker looks for due mail when nothing wakes it.
    #[serde(with = "duration")]
    pub poll_interval: Duration,
    /// Messages claimed at once.
    pub batch_size: u32,
    /// How long a claimed message stays reserved; a worker that dies mid-delivery releases it then.
    #[serde(with = "duration")]
    pub lease: Duration,
    /// Sent messages older than this are deleted by the housekeeping task (failed ones after 30 days).
    #[serde(with = "duration")]
    pub retention: Duration,
    /// At shutdown, how long the messages being sent may take to finish; the rest are dropped and
    /// their leases let another instance (or the next start) send them.
    #[serde(with = "duration")]
    pub drain_timeout: Duration,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            backoff_base: Duration::from_secs(5),
            backoff_ceiling: Duration::from_secs(3600),
            poll_interval: Duration::from_secs(5),
            batch_size: 20,
            lease: Duration::from_secs(120),
            retention: Duration::from_secs(7 * 86_400),
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// `[routes]`: extra paths for the built-in endpoints, for clients written against other layouts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteSettings {
    /// Preset: SimpleJWT's documented paths `/api/token/`, `/api/token/refresh/`, `/api/token/verify/`,
    /// `/api/token/blacklist/`.
    #[serde(deserialize_with = "lenient::bool")]
    pub simplejwt_paths: bool,
    /// Extra path → endpoint name (see `imhotep check` or the README for the names).
    pub aliases: std::collections::BTreeMap<String, String>,
}
