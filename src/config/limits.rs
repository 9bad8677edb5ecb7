//! Bounds on setting values, checked at start-up: values that would silently disable something
//! (a zero batch size, timeout or lifetime) or weaken it (a leeway of hours, a guessable metrics
//! token) are refused with a message naming the setting. Housekeeping is turned off with
//! `housekeeping.enabled = false`, not with a zero interval.

use std::time::Duration;

use super::{ConfigError, Settings};

/// Longest `simple_jwt.leeway`: clock skew between servers is seconds, and a leeway is added to every
/// token's lifetime.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// Shortest `metrics.bearer_token`, in bytes.
pub const MIN_METRICS_TOKEN_BYTES: usize = 16;

/// Refuses the first value out of bounds.
pub fn check(settings: &Settings) -> Result<(), ConfigError> {
    let server = &settings.server;
    let outbox = &settings.outbox;
    let positive_durations = [
        ("server.request_timeout", server.request_timeout),
        ("server.header_read_timeout", server.header_read_timeout),
        ("server.keep_alive_timeout", server.keep_alive_timeout),
        ("database.acquire_timeout", settings.database.acquire_timeout),
        ("email.timeout", settings.email.timeout),
        ("djoser.password_reset_timeout", settings.djoser.password_reset_timeout),
        (
            "simple_jwt.access_token_lifetime",
            settings.simple_jwt.access_token_lifetime,
        ),
        (
            "simple_jwt.refresh_token_lifetime",
            settings.simple_jwt.refresh_token_lifetime,
        ),
        ("outbox.poll_interval", outbox.poll_interval),
        ("outbox.lease", outbox.lease),
        ("outbox.drain_timeout", outbox.drain_timeout),
        ("housekeeping.flush_interval", settings.housekeeping.flush_interval),
    ];
    if let Some((name, _)) = positive_durations.iter().find(|(_, value)| value.is_zero()) {
        return Err(ConfigError::Invalid(format!("{name} must be longer than 0s")));
    }
    let positive_counts = [
        ("server.body_limit", server.body_limit as u64),
        ("server.max_connections", server.max_connections as u64),
        ("database.max_connections", u64::from(settings.database.pool_size())),
        ("outbox.batch_size", u64::from(outbox.batch_size)),
        ("outbox.max_attempts", u64::from(outbox.max_attempts)),
    ];
    if let Some((name, _)) = positive_counts.iter().find(|(_, value)| *value == 0) {
        return Err(ConfigError::Invalid(format!("{name} must be at least 1")));
    }
    if settings.simple_jwt.leeway > MAX_LEEWAY {
        return Err(ConfigError::Invalid(format!(
            "simple_jwt.leeway must be at most {}s (it extends every token's lifetime); got {}s",
            MAX_LEEWAY.as_secs(),
            settings.simple_jwt.leeway.as_secs()
        )));
    }
    if let Some(token) = settings.metrics.required_token()
        && token.expose().len() < MIN_METRICS_TOKEN_BYTES
    {
        return Err(ConfigError::Insecure(format!(
            "metrics.bearer_token is too short: at least {MIN_METRICS_TOKEN_BYTES} bytes, e.g. `openssl rand -hex 32`"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_pass() {
        assert!(check(&Settings::default()).is_ok());
    }

    #[test]
    fn the_pool_size_defaults_per_backend_unless_set() {
        let mut database = crate::config::DatabaseSettings::default();
        assert_eq!(database.pool_size(), 10, "SQLite");
        for url in ["postgres://localhost/imhotep", "postgresql://localhost/imhotep"] {
            database.url = crate::config::Secret::new(url);
            assert_eq!(database.pool_size(), 20, "{url}");
        }
        database.max_connections = Some(7);
        assert_eq!(database.pool_size(), 7);
    }

    /// A setting's name and how to set it to zero.
    type ZeroCase = (&'static str, fn(&mut Settings));

    #[test]
    fn zero_values_that_would_disable_something_are_refused() {
        let cases: [ZeroCase; 10] = [
            ("outbox.batch_size", |s| s.outbox.batch_size = 0),
            ("database.max_connections", |s| s.database.max_connections = Some(0)),
            ("server.request_timeout", |s| s.server.request_timeout = Duration::ZERO),
            ("server.max_connections", |s| s.server.max_connections = 0),
            ("server.header_read_timeout", |s| {
                s.server.header_read_timeout = Duration::ZERO;
            }),
            ("simple_jwt.access_token_lifetime", |s| {
                s.simple_jwt.access_token_lifetime = Duration::ZERO;
            }),
            ("simple_jwt.refresh_token_lifetime", |s| {
                s.simple_jwt.refresh_token_lifetime = Duration::ZERO;
            }),
            ("outbox.poll_interval", |s| s.outbox.poll_interval = Duration::ZERO),
            ("djoser.password_reset_timeout", |s| {
                s.djoser.password_reset_timeout = Duration::ZERO;
            }),
            ("housekeeping.flush_interval", |s| {
                s.housekeeping.flush_interval = Duration::ZERO;
            }),
        ];
        for (name, configure) in cases {
            let mut settings = Settings::default();
            configure(&mut settings);
            let message = check(&settings).unwrap_err().to_string();
            assert!(message.contains(name), "{name}: {message}");
        }
    }

    #[test]
    fn leeway_is_capped_at_five_minutes() {
        let mut settings = Settings::default();
        settings.simple_jwt.leeway = MAX_LEEWAY;
        assert!(check(&settings).is_ok());
        settings.simple_jwt.leeway = MAX_LEEWAY + Duration::from_secs(1);
        assert!(check(&settings).unwrap_err().to_string().contains("simple_jwt.leeway"));
    }

    #[test]
    fn a_short_metrics_token_is_refused() {
        let mut settings = Settings::default();
        settings.metrics.bearer_token = Some(super::super::Secret::new("short-token-15b"));
        let message = check(&settings).unwrap_err().to_string();
        assert!(message.contains("metrics.bearer_token") && !message.contains("short-token"));
        settings.metrics.bearer_token = Some(super::super::Secret::new("a-token-of-16-by"));
        assert!(check(&settings).is_ok());
    }
}
