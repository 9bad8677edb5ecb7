//! Settings: built-in defaults < `config/default.toml` < `config/$IMHOTEP_ENV.toml` < `--config FILE`
//! < Django's plain environment names (`SECRET_KEY`, `DATABASE_URL`, `EMAIL_HOST`, ...) < `IMHOTEP_<SECTION>__<KEY>`.
//!
//! Section and key names are Djoser's and SimpleJWT's setting names in lower case, so a Django
//! settings file maps line by line.

mod cookies;
pub mod duration;
mod jwt_algorithm;
pub mod key_strength;
mod keys;
mod lenient;
pub mod limits;
mod mfa;
mod operations;
mod secret;
mod sections;
mod throttle;
mod user_fields;

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

pub use cookies::{CookieSettings, SameSite};
pub use jwt_algorithm::{JwtAlgorithm, UnknownAlgorithm};
pub use keys::{KeyEntry, KeySettings, KeyUse};
pub use mfa::MfaSettings;
pub use operations::{CorsSettings, HousekeepingSettings, LogFormat, LogSettings, MetricsSettings};
pub use secret::{Secret, mask_url};
pub use sections::{
    DatabaseSettings, DjoserSettings, EmailBackendKind, EmailSettings, OutboxSettings, RouteSettings, ServerSettings,
    SessionSettings, SimpleJwtSettings,
};
pub use throttle::{Rate, ThrottleSettings};
pub use user_fields::{ExtraClaim, ProfileField};

/// Shortest `SECRET_KEY` accepted in production: HS256 needs at least 256 bits of key (RFC 7518 §3.2).
pub const MIN_SECRET_KEY_BYTES: usize = 32;

/// Django's plain environment names and the setting each one fills.
const PLAIN_ENV_NAMES: &[(&str, &str)] = &[
    ("HOST", "server.host"),
    ("PORT", "server.port"),
    ("DATABASE_URL", "database.url"),
    ("SECRET_KEY", "secret_key"),
    ("DEBUG", "debug"),
    ("EMAIL_BACKEND", "email.backend"),
    ("EMAIL_HOST", "email.host"),
    ("EMAIL_PORT", "email.port"),
    ("EMAIL_HOST_USER", "email.host_user"),
    ("EMAIL_HOST_PASSWORD", "email.host_password"),
    ("EMAIL_USE_TLS", "email.use_tls"),
    ("EMAIL_USE_SSL", "email.use_ssl"),
    ("DEFAULT_FROM_EMAIL", "email.default_from_email"),
];

/// The prefix of imhotep's own environment variables.
const PREFIX: &str = "IMHOTEP_";

/// Whether the rest of an `IMHOTEP_` variable's name is `<SECTION>__<KEY>`. Platforms add other
/// `IMHOTEP_*` variables of their own (Kubernetes' `IMHOTEP_PORT=tcp://...`, `IMHOTEP_SERVICE_HOST`
/// for a Service named `imhotep`), and `IMHOTEP_ENV` picks a file: none of them is a setting.
fn names_a_setting(rest: &str) -> bool {
    rest.split_once("__")
        .is_some_and(|(section, key)| !section.is_empty() && !key.is_empty())
}

/// The `IMHOTEP_*` environment variables that are not settings and so are ignored (names only:
/// the values can be anything), for a debug log line once logging is set up.
pub fn ignored_environment() -> Vec<String> {
    let mut names: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| {
            name.get(..PREFIX.len()).is_some_and(|p| p.eq_ignore_ascii_case(PREFIX))
                && !name[PREFIX.len()..].eq_ignore_ascii_case("env")
                && !names_a_setting(&name[PREFIX.len()..])
        })
        .collect();
    names.sort();
    names
}

/// Everything imhotep runs with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Development mode: a missing `SECRET_KEY` is replaced by a random one. Off in production.
    #[serde(deserialize_with = "lenient::bool")]
    pub debug: bool,
    /// Django's `SECRET_KEY`: signs links and, unless `simple_jwt.signing_key` is set, JWTs.
    pub secret_key: Secret,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub email: EmailSettings,
    pub djoser: DjoserSettings,
    pub simple_jwt: SimpleJwtSettings,
    pub log: LogSettings,
    pub metrics: MetricsSettings,
    pub cors: CorsSettings,
    pub housekeeping: HousekeepingSettings,
    pub sessions: SessionSettings,
    pub outbox: OutboxSettings,
    pub routes: RouteSettings,
    pub throttle: ThrottleSettings,
    /// Browser mode: the refresh token (and optionally the access token) in cookies.
    pub cookies: CookieSettings,
    /// Several JWT keys with a `kid` each, and a directory of keys re-read while running.
    pub keys: KeySettings,
    /// Two-factor login.
    pub mfa: MfaSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            debug: true,
            secret_key: Secret::default(),
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            email: EmailSettings::default(),
            djoser: DjoserSettings::default(),
            simple_jwt: SimpleJwtSettings::default(),
            log: LogSettings::default(),
            metrics: MetricsSettings::default(),
            cors: CorsSettings::default(),
            housekeeping: HousekeepingSettings::default(),
            sessions: SessionSettings::default(),
            outbox: OutboxSettings::default(),
            routes: RouteSettings::default(),
            throttle: ThrottleSettings::default(),
            cookies: CookieSettings::default(),
            keys: KeySettings::default(),
            mfa: MfaSettings::default(),
        }
    }
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("{0}")]
    Insecure(String),
}

impl From<figment::Error> for ConfigError {
    fn from(error: figment::Error) -> Self {
        ConfigError::Invalid(error.to_string())
    }
}

impl Settings {
    /// Reads every layer. `config_file` is the `--config FILE` option.
    pub fn load(config_file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut figment =
            Figment::from(Serialized::defaults(Settings::default())).merge(Toml::file("config/default.toml"));
        if let Ok(env) = std::env::var("IMHOTEP_ENV") {
            figment = figment.merge(Toml::file(format!("config/{env}.toml")));
        }
        if let Some(path) = config_file {
            if !path.is_file() {
                return Err(ConfigError::Invalid(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        let plain = Env::raw()
            .only(&PLAIN_ENV_NAMES.iter().map(|(name, _)| *name).collect::<Vec<_>>())
            .map(|key| {
                PLAIN_ENV_NAMES
                    .iter()
                    .find(|(name, _)| key.as_str().eq_ignore_ascii_case(name))
                    .map(|(_, path)| (*path).into())
                    .unwrap_or_else(|| key.into())
            });
        let prefixed = Env::prefixed(PREFIX)
            .filter(|key| names_a_setting(key.as_str()))
            .split("__");
        let settings: Settings = figment.merge(plain).merge(prefixed).extract()?;
        settings.check_consistency()?;
        Ok(settings)
    }

    fn check_consistency(&self) -> Result<(), ConfigError> {
        if self.simple_jwt.auth_header_types.is_empty() {
            return Err(ConfigError::Invalid(
                "simple_jwt.auth_header_types must name at least one scheme".into(),
            ));
        }
        if !self.debug && self.email.backend == EmailBackendKind::Console && !self.email.allow_console_in_production {
            return Err(ConfigError::Insecure(
                "email.backend (EMAIL_BACKEND) is console with DEBUG=false: it would print every e-mailed link \
                 (password resets, activations) on stdout. Use EMAIL_BACKEND=smtp, or set \
                 email.allow_console_in_production = true (IMHOTEP_EMAIL__ALLOW_CONSOLE_IN_PRODUCTION=true)"
                    .into(),
            ));
        }
        if self.email.use_tls && self.email.use_ssl {
            return Err(ConfigError::Invalid(
                "EMAIL_USE_TLS and EMAIL_USE_SSL are mutually exclusive; set only one of them".into(),
            ));
        }
        if self.sessions.reuse_interval >= self.simple_jwt.refresh_token_lifetime {
            return Err(ConfigError::Invalid(format!(
                "sessions.reuse_interval ({}s) must be shorter than simple_jwt.refresh_token_lifetime ({}s)",
                self.sessions.reuse_interval.as_secs(),
                self.simple_jwt.refresh_token_lifetime.as_secs()
            )));
        }
        self.cors.check()?;
        self.cookies.check(self.debug, &self.cors)?;
        limits::check(self)?;
        self.throttle.check()?;
        self.mfa.check()?;
        if self.djoser.registration_hides_existing && !self.djoser.send_activation_email {
            return Err(ConfigError::Invalid(
                "djoser.registration_hides_existing needs djoser.send_activation_email = true: without \
                 activation a new account can log in at once and a hidden duplicate cannot, which tells them apart"
                    .into(),
            ));
        }
        for (name, template) in [
            ("djoser.activation_url", &self.djoser.activation_url),
            (
                "djoser.password_reset_confirm_url",
                &self.djoser.password_reset_confirm_url,
            ),
            (
                "djoser.username_reset_confirm_url",
                &self.djoser.username_reset_confirm_url,
            ),
            ("djoser.set_email_confirm_url", &self.djoser.set_email_confirm_url),
        ] {
            if !template.contains("{uid}") || !template.contains("{token}") {
                return Err(ConfigError::Invalid(format!(
                    "{name} must contain {{uid}} and {{token}}, got {template:?}"
                )));
            }
        }
        Ok(())
    }

    /// Makes sure a signing secret exists: in production every HMAC key (`SECRET_KEY`, and
    /// `simple_jwt.signing_key` when set) must be strong enough for its algorithm (see
    /// [`key_strength`]); in debug mode a missing or short `SECRET_KEY` is replaced by a random one
    /// (returned as `true` so the caller can warn).
    pub fn ensure_secret_key(&mut self) -> Result<bool, ConfigError> {
        if !self.debug {
            self.check_hmac_keys()?;
            return Ok(false);
        }
        if self.secret_key.expose().len() >= MIN_SECRET_KEY_BYTES {
            return Ok(false);
        }
        let mut bytes = [0u8; 48];
        getrandom::fill(&mut bytes).map_err(|e| ConfigError::Invalid(format!("no randomness for SECRET_KEY: {e}")))?;
        self.secret_key = Secret::new(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
        Ok(true)
    }

    /// `SECRET_KEY` signs links with HMAC-SHA256, and JWTs too unless another key is given; every
    /// HMAC key (`simple_jwt.signing_key`, or each HMAC entry of `keys.list`, which defaults to
    /// `SECRET_KEY`) is held to the algorithm it is used with. PEM keys are not HMAC keys.
    fn check_hmac_keys(&self) -> Result<(), ConfigError> {
        let secret = self.secret_key.expose().as_bytes();
        key_strength::check_hmac_key("SECRET_KEY", secret, JwtAlgorithm::HS256)?;
        if self.keys.configured() {
            for (index, entry) in self.keys.list.iter().enumerate() {
                if !entry.algorithm.is_hmac() {
                    continue;
                }
                match entry.signing_key.as_ref().filter(|key| !key.is_empty()) {
                    Some(key) => key_strength::check_hmac_key(
                        &format!("keys.list[{index}].signing_key"),
                        key.expose().as_bytes(),
                        entry.algorithm,
                    )?,
                    None => key_strength::check_hmac_key("SECRET_KEY", secret, entry.algorithm)?,
                }
            }
            return Ok(());
        }
        let algorithm = self.simple_jwt.algorithm;
        if !algorithm.is_hmac() {
            return Ok(());
        }
        match self.simple_jwt.signing_key.as_ref().filter(|key| !key.is_empty()) {
            Some(key) => key_strength::check_hmac_key("simple_jwt.signing_key", key.expose().as_bytes(), algorithm),
            None => key_strength::check_hmac_key("SECRET_KEY", secret, algorithm),
        }
    }

    /// The key JWTs are signed with: `simple_jwt.signing_key`, else `SECRET_KEY`.
    pub fn signing_key(&self) -> &Secret {
        match &self.simple_jwt.signing_key {
            Some(key) if !key.is_empty() => key,
            _ => &self.secret_key,
        }
    }
}
