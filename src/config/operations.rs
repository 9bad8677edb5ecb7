//! The operator's sections: `[log]`, `[metrics]`, `[cors]` and `[housekeeping]`, with their defaults and
//! the start-up checks that refuse a dangerous combination (a wildcard CORS origin with credentials).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret, duration, lenient};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON when `DEBUG` is false, readable text otherwise.
    Auto,
    Text,
    Json,
}

/// `[log]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// Overrides the choice made from `DEBUG`; `RUST_LOG` still sets the level.
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Auto,
        }
    }
}

impl LogSettings {
    /// Whether lines are JSON, given the `DEBUG` setting.
    pub fn json(&self, debug: bool) -> bool {
        match self.format {
            LogFormat::Auto => !debug,
            LogFormat::Text => false,
            LogFormat::Json => true,
        }
    }
}

/// `[metrics]`: the Prometheus endpoint `GET /metrics`.
///
/// Where it is served: on the main port only when a bearer token is set or `public = true` (the
/// main port is usually reachable from the internet); on `bind` (default `127.0.0.1:9090`, which
/// only the machine itself reaches) otherwise. An empty `bind` turns the separate listener off.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// Serve `/metrics` at all (counting goes on either way; it is a few atomic additions).
    #[serde(deserialize_with = "lenient::bool")]
    pub enabled: bool,
    /// When set (non-empty), `/metrics` answers 401 unless sent `Authorization: Bearer <token>`,
    /// and is served on the main port.
    pub bearer_token: Option<Secret>,
    /// Serve `/metrics` on the main port without a token.
    #[serde(deserialize_with = "lenient::bool")]
    pub public: bool,
    /// A separate `host:port` serving only `/metrics`, used when the main port does not serve it.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub bind: Option<String>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            bearer_token: None,
            public: false,
            bind: Some("127.0.0.1:9090".into()),
        }
    }
}

impl MetricsSettings {
    /// The token scrapers must present, if one is configured.
    pub fn required_token(&self) -> Option<&Secret> {
        self.bearer_token.as_ref().filter(|token| !token.is_empty())
    }

    /// Whether the main port serves `/metrics`.
    pub fn on_main_port(&self) -> bool {
        self.enabled && (self.public || self.required_token().is_some())
    }

    /// The separate address serving `/metrics`, when the main port does not.
    pub fn separate_bind(&self) -> Option<&str> {
        self.bind.as_deref().filter(|_| self.enabled && !self.on_main_port())
    }
}

/// `[cors]`: which browser origins may call the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsSettings {
    /// Exact origins (`https://app.example.com`, no path or trailing slash); empty sends no CORS headers at all.
    /// `*` is accepted only alone and without credentials. From the environment: a JSON-like list or
    /// comma-separated origins.
    #[serde(deserialize_with = "lenient::string_list")]
    pub allowed_origins: Vec<String>,
    /// Send `Access-Control-Allow-Credentials: true` (cookies); bearer tokens do not need it.
    #[serde(deserialize_with = "lenient::bool")]
    pub allow_credentials: bool,
    /// How long browsers may cache a preflight answer.
    #[serde(with = "duration")]
    pub max_age: Duration,
}

impl Default for CorsSettings {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            allow_credentials: false,
            max_age: Duration::from_secs(600),
        }
    }
}

impl CorsSettings {
    /// Refuses origins a browser never sends (paths, trailing slashes, `null`) and `*` combined with
    /// other origins or with credentials.
    pub fn check(&self) -> Result<(), ConfigError> {
        let wildcard = self.allowed_origins.iter().any(|origin| origin == "*");
        if wildcard && self.allow_credentials {
            return Err(ConfigError::Insecure(
                "cors.allowed_origins = [\"*\"] cannot be combined with cors.allow_credentials = true: \
                 list the exact origins instead"
                    .into(),
            ));
        }
        if wildcard && self.allowed_origins.len() > 1 {
            return Err(ConfigError::Invalid(
                "cors.allowed_origins: \"*\" must be the only entry".into(),
            ));
        }
        match self
            .allowed_origins
            .iter()
            .find(|origin| *origin != "*" && !is_origin(origin))
        {
            Some(bad) => Err(ConfigError::Invalid(format!(
                "cors.allowed_origins: {bad:?} is not an origin; write scheme://host[:port] in lower case, \
                 without a path or trailing slash (e.g. \"https://app.example.com\")"
            ))),
            None => Ok(()),
        }
    }
}

/// `scheme://host[:port]` as browsers serialize it: lower case, no userinfo, path, query or fragment.
fn is_origin(origin: &str) -> bool {
    let Some((scheme, host)) = origin.split_once("://") else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_lowercase())
        && scheme
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.:[]".contains(c));
    scheme_ok && host_ok
}

/// `[housekeeping]`: periodic clean-up done by the server itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HousekeepingSettings {
    /// Whether the server runs housekeeping itself (off when cron runs `imhotep flushexpiredtokens`).
    pub enabled: bool,
    /// How often expired outstanding refresh tokens are deleted (`flushexpiredtokens`); longer than 0s.
    /// Each instance runs it; the delete is idempotent, so several instances are harmless.
    #[serde(with = "duration")]
    pub flush_interval: Duration,
}

impl Default for HousekeepingSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            flush_interval: Duration::from_secs(3600),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors(origins: &[&str], allow_credentials: bool) -> CorsSettings {
        CorsSettings {
            allowed_origins: origins.iter().map(|o| (*o).to_owned()).collect(),
            allow_credentials,
            ..CorsSettings::default()
        }
    }

    #[test]
    fn exact_origins_and_a_lone_wildcard_are_accepted() {
        for origins in [
            &[][..],
            &[
                "https://app.example.com",
                "http://localhost:3000",
                "capacitor://localhost",
            ][..],
            &["http://[::1]:8080"][..],
        ] {
            assert!(cors(origins, true).check().is_ok(), "{origins:?}");
        }
        assert!(cors(&["*"], false).check().is_ok());
    }

    #[test]
    fn metrics_go_to_the_main_port_only_with_a_token_or_when_public() {
        let default = MetricsSettings::default();
        assert!(!default.on_main_port());
        assert_eq!(default.separate_bind(), Some("127.0.0.1:9090"));
        let public = MetricsSettings {
            public: true,
            ..MetricsSettings::default()
        };
        assert!(public.on_main_port() && public.separate_bind().is_none());
        let token = MetricsSettings {
            bearer_token: Some(Secret::new("a-token-of-16-bytes")),
            ..MetricsSettings::default()
        };
        assert!(token.on_main_port() && token.separate_bind().is_none());
        let off = MetricsSettings {
            enabled: false,
            public: true,
            ..MetricsSettings::default()
        };
        assert!(!off.on_main_port() && off.separate_bind().is_none());
    }

    #[test]
    fn a_wildcard_with_credentials_is_refused() {
        assert!(matches!(cors(&["*"], true).check(), Err(ConfigError::Insecure(_))));
    }

    #[test]
    fn things_that_are_not_origins_are_refused() {
        for bad in [
            "null",
            "https://app.example.com/",
            "https://app.example.com/path",
            "HTTPS://app.example.com",
            "https://App.example.com",
            "app.example.com",
            "https://user@app.example.com",
            "https://",
            "",
        ] {
            assert!(
                matches!(cors(&[bad], false).check(), Err(ConfigError::Invalid(_))),
                "{bad:?}"
            );
        }
        assert!(cors(&["*", "https://app.example.com"], false).check().is_err());
    }
}
