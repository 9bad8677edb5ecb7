//! `[mfa]`: two-factor login (TOTP and recovery codes). Whether staff must enrol is
//! `djoser.mfa_required_for_staff`; everything here only matters to accounts that enrol.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, MIN_SECRET_KEY_BYTES, Secret, duration, lenient};

/// Shortest and longest ticket lifetimes accepted: a person needs time to open the app, and a
/// ticket is a half-finished login that should not outlive a coffee.
const TICKET_LIFETIME_RANGE: (Duration, Duration) = (Duration::from_secs(30), Duration::from_secs(3600));

/// `[mfa]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MfaSettings {
    /// The secret TOTP seeds are encrypted with and recovery codes hashed with (through HKDF).
    /// Unset: `SECRET_KEY`. Set it before rotating `SECRET_KEY`, to the old value, or enrolled
    /// factors stop working.
    pub encryption_key: Option<Secret>,
    /// The issuer authenticator apps show next to the account; empty = `djoser.email_frontend_site_name`.
    #[serde(deserialize_with = "lenient::string")]
    pub issuer: String,
    /// How long the ticket of a login waiting for its code (or of a required enrolment) lives.
    #[serde(with = "duration")]
    pub ticket_lifetime: Duration,
}

impl Default for MfaSettings {
    fn default() -> Self {
        Self {
            encryption_key: None,
            issuer: String::new(),
            ticket_lifetime: Duration::from_secs(300),
        }
    }
}

impl MfaSettings {
    /// Refuses a short encryption key and a ticket lifetime out of range, naming the setting.
    pub fn check(&self) -> Result<(), ConfigError> {
        if let Some(key) = &self.encryption_key
            && key.expose().len() < MIN_SECRET_KEY_BYTES
        {
            return Err(ConfigError::Invalid(format!(
                "mfa.encryption_key must be at least {MIN_SECRET_KEY_BYTES} bytes (it protects TOTP seeds at rest)"
            )));
        }
        let (shortest, longest) = TICKET_LIFETIME_RANGE;
        if self.ticket_lifetime < shortest || self.ticket_lifetime > longest {
            return Err(ConfigError::Invalid(format!(
                "mfa.ticket_lifetime must be between {}s and {}s, got {}s",
                shortest.as_secs(),
                longest.as_secs(),
                self.ticket_lifetime.as_secs()
            )));
        }
        Ok(())
    }

    /// What seeds are sealed with: `mfa.encryption_key`, else `secret_key`.
    pub fn key_material<'a>(&'a self, secret_key: &'a Secret) -> &'a [u8] {
        match &self.encryption_key {
            Some(key) if !key.is_empty() => key.expose().as_bytes(),
            _ => secret_key.expose().as_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_name_their_setting() {
        let short = MfaSettings {
            encryption_key: Some(Secret::new("short")),
            ..MfaSettings::default()
        };
        assert!(short.check().unwrap_err().to_string().contains("mfa.encryption_key"));
        for seconds in [5, 7200] {
            let settings = MfaSettings {
                ticket_lifetime: Duration::from_secs(seconds),
                ..MfaSettings::default()
            };
            assert!(
                settings
                    .check()
                    .unwrap_err()
                    .to_string()
                    .contains("mfa.ticket_lifetime")
            );
        }
        assert!(MfaSettings::default().check().is_ok());
    }

    #[test]
    fn the_key_defaults_to_the_secret_key() {
        let secret = Secret::new("s".repeat(40));
        assert_eq!(MfaSettings::default().key_material(&secret), secret.expose().as_bytes());
        let own = MfaSettings {
            encryption_key: Some(Secret::new("k".repeat(40))),
            ..MfaSettings::default()
        };
        assert_eq!(own.key_material(&secret), "k".repeat(40).as_bytes());
    }
}
