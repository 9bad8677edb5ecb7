//! `[throttle]`: per-client rate limits per endpoint group, the per-account login backoff and the
//! per-recipient e-mail spacing, with rates in DRF's throttle format (`"150/5m"`, `"30/h"`, `"10/min"`).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

use super::{ConfigError, duration, lenient};

/// A rate: `count` requests per `period`. Written `"150/5m"`, `"30/h"`, `"10/min"`, `"5/hour"`;
/// `0`, `"0"` or `"off"` is no limit (`None` where an `Option<Rate>` is expected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub period: Duration,
}

impl Rate {
    /// Parses DRF's format: `<count>/<period>`, the period an optional multiplier and a unit whose first
    /// letter is `s`, `m`, `h` or `d` (DRF reads only that letter). `Ok(None)` for `0` or `off`.
    pub fn parse(text: &str) -> Result<Option<Rate>, String> {
        let text = text.trim();
        if text == "0" || text.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let invalid = || format!("invalid rate {text:?}: expected e.g. \"150/5m\", \"30/h\", \"10/min\", or \"off\"");
        let (count, period) = text.split_once('/').ok_or_else(invalid)?;
        let count: u32 = count.trim().parse().map_err(|_| invalid())?;
        let period = period.trim();
        let split = period.find(|c: char| !c.is_ascii_digit()).unwrap_or(period.len());
        let (multiplier, unit) = period.split_at(split);
        let multiplier: u64 = if multiplier.is_empty() {
            1
        } else {
            multiplier.parse().map_err(|_| invalid())?
        };
        let seconds = match unit.chars().next() {
            Some('s') => 1,
            Some('m') => 60,
            Some('h') => 3600,
            Some('d') => 86_400,
            _ => return Err(invalid()),
        };
        if count == 0 {
            return Ok(None);
        }
        if multiplier == 0 {
            return Err(invalid());
        }
        let period = multiplier.checked_mul(seconds).ok_or_else(invalid)?;
        Ok(Some(Rate {
            count,
            period: Duration::from_secs(period),
        }))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, duration::format(&self.period))
    }
}

/// `#[serde(with = "rate")]` for `Option<Rate>`: `None` is written `"off"`.
mod rate {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Rate>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(0) => Ok(None),
            Raw::Number(n) => Err(de::Error::custom(format!(
                "invalid rate {n}: expected e.g. \"150/5m\" or \"off\""
            ))),
            Raw::Text(text) => Rate::parse(&text).map_err(de::Error::custom),
        }
    }

    pub fn serialize<S: Serializer>(rate: &Option<Rate>, serializer: S) -> Result<S::Ok, S::Error> {
        match rate {
            Some(rate) => serializer.serialize_str(&rate.to_string()),
            None => serializer.serialize_str("off"),
        }
    }
}

/// `[throttle]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleSettings {
    /// Every limit of this section at once (the hash-queue bound of `[server]` stays on).
    #[serde(deserialize_with = "lenient::bool")]
    pub enabled: bool,
    /// Per client: `jwt/create`.
    #[serde(with = "rate")]
    pub login: Option<Rate>,
    /// Per client: `jwt/refresh`, `jwt/verify`.
    #[serde(with = "rate")]
    pub refresh: Option<Rate>,
    /// Per client: `POST users/`.
    #[serde(with = "rate")]
    pub signup: Option<Rate>,
    /// Per client: `resend_activation`, `reset_password`, `reset_email`, `set_email`.
    #[serde(with = "rate")]
    pub email: Option<Rate>,
    /// Per client: `activation`, `reset_password_confirm`, `reset_email_confirm`, `set_email_confirm`.
    #[serde(with = "rate")]
    pub confirm: Option<Rate>,
    /// One trusted header naming the client (`Fly-Client-IP`, `X-Forwarded-For`, ...); none = the
    /// socket peer address. A header is never trusted unless named here.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub client_ip_header: Option<String>,
    /// For `X-Forwarded-For`: how many proxies in front of imhotep append to it; the client is the
    /// address that many entries from the right.
    pub trusted_proxies: usize,
    /// Failed logins (and `current_password` checks) for one account are counted over this window.
    #[serde(with = "duration")]
    pub failure_window: Duration,
    /// Failures before the backoff starts; then each attempt waits 1 s, 2 s, 4 s, ... after the last.
    pub failures_before_backoff: u32,
    /// The longest wait the backoff imposes (never a permanent lock).
    #[serde(with = "duration")]
    pub max_lockout: Duration,
    /// At most one mail of each kind per recipient per this interval; `0s` turns it off.
    #[serde(with = "duration")]
    pub email_min_interval: Duration,
    /// Mails per recipient address.
    #[serde(with = "rate")]
    pub email_per_address: Option<Rate>,
    /// Mails queued by all instances together; past it requests answer as usual and queue nothing.
    #[serde(with = "rate")]
    pub email_global: Option<Rate>,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        let per_5m = |count| {
            Some(Rate {
                count,
                period: Duration::from_secs(300),
            })
        };
        Self {
            enabled: true,
            login: per_5m(150),
            refresh: per_5m(150),
            signup: per_5m(30),
            email: per_5m(30),
            confirm: per_5m(30),
            client_ip_header: None,
            trusted_proxies: 1,
            failure_window: Duration::from_secs(12 * 3600),
            failures_before_backoff: 5,
            max_lockout: Duration::from_secs(15 * 60),
            email_min_interval: Duration::from_secs(60),
            email_per_address: Some(Rate {
                count: 5,
                period: Duration::from_secs(3600),
            }),
            email_global: Some(Rate {
                count: 200,
                period: Duration::from_secs(3600),
            }),
        }
    }
}

impl ThrottleSettings {
    /// Refuses values that cannot work, naming the setting.
    pub fn check(&self) -> Result<(), ConfigError> {
        if let Some(header) = &self.client_ip_header
            && axum::http::HeaderName::from_bytes(header.trim().as_bytes()).is_err()
        {
            return Err(ConfigError::Invalid(format!(
                "throttle.client_ip_header: {header:?} is not a valid header name"
            )));
        }
        if self.trusted_proxies == 0 {
            return Err(ConfigError::Invalid(
                "throttle.trusted_proxies must be at least 1 (the proxy that sets the header)".into(),
            ));
        }
        if self.failure_window.is_zero() {
            return Err(ConfigError::Invalid(
                "throttle.failure_window must be longer than 0s".into(),
            ));
        }
        if self.max_lockout < Duration::from_secs(1) {
            return Err(ConfigError::Invalid("throttle.max_lockout must be at least 1s".into()));
        }
        if self.failures_before_backoff == 0 {
            return Err(ConfigError::Invalid(
                "throttle.failures_before_backoff must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drf_rates_parse() {
        let rate = |count, secs| {
            Some(Rate {
                count,
                period: Duration::from_secs(secs),
            })
        };
        for (text, expected) in [
            ("150/5m", rate(150, 300)),
            ("30/h", rate(30, 3600)),
            ("10/min", rate(10, 60)),
            ("5/hour", rate(5, 3600)),
            ("100/day", rate(100, 86_400)),
            ("3/s", rate(3, 1)),
            ("2/10s", rate(2, 10)),
            ("0", None),
            ("off", None),
            ("OFF", None),
        ] {
            assert_eq!(Rate::parse(text), Ok(expected), "{text}");
        }
        for bad in ["", "150", "x/m", "5/", "5/0m", "5/y", "-1/m"] {
            assert!(Rate::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn rates_print_in_the_format_they_are_read() {
        let rate = Rate::parse("150/5m").unwrap().unwrap();
        assert_eq!(rate.to_string(), "150/5m");
        assert_eq!(Rate::parse(&rate.to_string()), Ok(Some(rate)));
    }
}
