//! `imhotep check --django-compat`: what a cut-over from Django needs, as the lines of a Django
//! settings file the operator compares with theirs, and what can be verified from this side.
//! Nothing secret is printed: the signing key appears only as a short SHA-256 fingerprint, with
//! the Python one-liner that prints the same fingerprint on the Django side.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::config::{MIN_SECRET_KEY_BYTES, Settings};

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub text: String,
}

/// `Fail` makes the command exit non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Match,
    Fail,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Ok => "ok   ",
            Level::Match => "match",
            Level::Fail => "FAIL ",
        }
    }
}

impl Finding {
    fn new(level: Level, text: impl Into<String>) -> Self {
        Self {
            level,
            text: text.into(),
        }
    }
}

/// The report for `settings`; `generated_key` says `SECRET_KEY` was not set (a random one is in use).
pub fn findings(settings: &Settings, generated_key: bool) -> Vec<Finding> {
    let jwt = &settings.simple_jwt;
    let djoser = &settings.djoser;
    let mut out = Vec::new();
    if generated_key || settings.secret_key.expose().len() < MIN_SECRET_KEY_BYTES {
        out.push(Finding::new(
            Level::Fail,
            "SECRET_KEY is not set (or too short): set it to the Django deployment's SECRET_KEY",
        ));
    } else {
        out.push(Finding::new(
            Level::Match,
            format!(
                "SECRET_KEY fingerprint {}: `python manage.py shell -c \"import hashlib; from django.conf import settings; \
                 print(hashlib.sha256(settings.SECRET_KEY.encode()).hexdigest()[:12])\"` must print the same \
                 (links and, unless SIGNING_KEY is set, tokens)",
                fingerprint(settings.secret_key.expose())
            ),
        ));
    }
    if !jwt.algorithm.is_hmac() {
        out.push(Finding::new(
            Level::Match,
            "SIMPLE_JWT[\"SIGNING_KEY\"] / [\"VERIFYING_KEY\"]: the same key pair as Django's (a public-key algorithm)",
        ));
    } else if jwt.signing_key.as_ref().is_some_and(|key| !key.is_empty()) {
        out.push(Finding::new(
            Level::Match,
            format!(
                "SIMPLE_JWT[\"SIGNING_KEY\"] fingerprint {}: the same one-liner with SIMPLE_JWT['SIGNING_KEY'] must match",
                fingerprint(settings.signing_key().expose())
            ),
        ));
    }
    out.push(Finding::new(
        Level::Match,
        format!("SIMPLE_JWT[\"ALGORITHM\"] = {:?}", jwt.algorithm.name()),
    ));
    for (name, value) in [
        ("ACCESS_TOKEN_LIFETIME", jwt.access_token_lifetime),
        ("REFRESH_TOKEN_LIFETIME", jwt.refresh_token_lifetime),
        ("LEEWAY", jwt.leeway),
    ] {
        out.push(Finding::new(
            Level::Match,
            format!("SIMPLE_JWT[\"{name}\"] = {}", timedelta(value)),
        ));
    }
    out.push(Finding::new(
        Level::Match,
        format!(
            "SIMPLE_JWT[\"AUTH_HEADER_TYPES\"] = ({})",
            jwt.auth_header_types
                .iter()
                .map(|t| format!("{t:?}, "))
                .collect::<String>()
                .trim_end()
        ),
    ));
    out.push(Finding::new(
        Level::Match,
        format!("SIMPLE_JWT[\"AUDIENCE\"] = {}", python_option(jwt.audience.as_deref())),
    ));
    out.push(Finding::new(
        Level::Match,
        format!("SIMPLE_JWT[\"ISSUER\"] = {}", python_option(jwt.issuer.as_deref())),
    ));
    out.push(Finding::new(
        Level::Match,
        "SIMPLE_JWT claims: USER_ID_FIELD = \"id\", USER_ID_CLAIM = \"user_id\", TOKEN_TYPE_CLAIM = \"token_type\", \
         JTI_CLAIM = \"jti\" (imhotep's fixed names: Django must use SimpleJWT's defaults)",
    ));
    for (name, value) in [
        ("ROTATE_REFRESH_TOKENS", jwt.rotate_refresh_tokens),
        ("BLACKLIST_AFTER_ROTATION", jwt.blacklist_after_rotation),
    ] {
        out.push(Finding::new(
            Level::Ok,
            format!(
                "SIMPLE_JWT[\"{name}\"] = {} (may differ: only affects tokens issued from now on)",
                python_bool(value)
            ),
        ));
    }
    for (name, template) in [
        ("ACTIVATION_URL", &djoser.activation_url),
        ("PASSWORD_RESET_CONFIRM_URL", &djoser.password_reset_confirm_url),
        ("USERNAME_RESET_CONFIRM_URL", &djoser.username_reset_confirm_url),
    ] {
        let complete = template.contains("{uid}") && template.contains("{token}");
        out.push(if complete {
            Finding::new(Level::Match, format!("DJOSER[\"{name}\"] = {template:?}"))
        } else {
            Finding::new(
                Level::Fail,
                format!("DJOSER[\"{name}\"] = {template:?} lacks {{uid}} or {{token}}: links mailed by Django would not fit it"),
            )
        });
    }
    out.push(Finding::new(
        Level::Match,
        format!(
            "PASSWORD_RESET_TIMEOUT = {} (links mailed by Django expire by imhotep's setting)",
            djoser.password_reset_timeout.as_secs()
        ),
    ));
    out.push(if djoser.accept_django_links {
        Finding::new(
            Level::Ok,
            "links mailed by Django before the switch are accepted (djoser.accept_django_links)",
        )
    } else {
        Finding::new(
            Level::Fail,
            "djoser.accept_django_links is false: activation and reset links mailed by Django will be refused",
        )
    });
    out
}

/// Prints the report; false when something failed.
pub fn print(findings: &[Finding]) -> bool {
    println!("Django cut-over (\"match\" lines must equal your Django settings):");
    for finding in findings {
        println!("  {} {}", finding.level.label(), finding.text);
    }
    let failed = findings.iter().filter(|f| f.level == Level::Fail).count();
    if failed == 0 {
        println!("Django compatibility OK: next, `imhotep import-django --from <Django DATABASE_URL> --dry-run`");
    }
    failed == 0
}

/// The first 12 hex digits of the key's SHA-256: enough to compare, useless to an attacker.
fn fingerprint(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn timedelta(duration: Duration) -> String {
    format!("timedelta(seconds={})", duration.as_secs())
}

fn python_bool(value: bool) -> &'static str {
    if value { "True" } else { "False" }
}

fn python_option(value: Option<&str>) -> String {
    value.map_or_else(|| "None".to_owned(), |v| format!("{v:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            secret_key: crate::config::Secret::new("reference-only-secret-key-0123456789abcdef0123456789"),
            ..Settings::default()
        }
    }

    #[test]
    fn a_django_compatible_configuration_passes_with_the_key_fingerprint() {
        let findings = findings(&settings(), false);
        assert!(findings.iter().all(|f| f.level != Level::Fail), "{findings:?}");
        let key = &findings[0].text;
        // hashlib.sha256(b"reference-only-secret-key-0123456789abcdef0123456789").hexdigest()[:12]
        assert!(key.contains(&fingerprint("reference-only-secret-key-0123456789abcdef0123456789")));
        assert!(
            !findings.iter().any(|f| f.text.contains("reference-only")),
            "the key itself is never printed"
        );
    }

    #[test]
    fn a_missing_key_and_a_template_without_token_fail() {
        let mut settings = settings();
        settings.djoser.activation_url = "activate/{uid}".into();
        let findings = findings(&settings, true);
        let failed: Vec<_> = findings
            .iter()
            .filter(|f| f.level == Level::Fail)
            .map(|f| &f.text)
            .collect();
        assert_eq!(failed.len(), 2, "{failed:?}");
        assert!(failed[0].starts_with("SECRET_KEY"));
        assert!(failed[1].contains("ACTIVATION_URL"));
    }

    #[test]
    fn fingerprints_match_python() {
        // python3 -c 'import hashlib; print(hashlib.sha256(b"abc").hexdigest()[:12])'
        assert_eq!(fingerprint("abc"), "ba7816bf8f01");
    }
}
