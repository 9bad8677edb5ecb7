//! The `uid` and `token` of e-mailed links, made like Django's `urlsafe_base64_encode` and
//! `PasswordResetTokenGenerator` (same format, same HMAC over the user's state).
//!
//! One difference: imhotep keys each purpose (activation, password reset, e-mail reset, e-mail
//! change) with its own salt, so an activation link cannot confirm a password reset. Links minted
//! by a Django deployment with the same `SECRET_KEY` (Django's single salt) are still accepted for
//! Django's purposes unless `djoser.accept_django_links` is off; Django has no e-mail change link.
//! An e-mail change link also covers the address waiting to be confirmed, so it confirms only the
//! address it was mailed to.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::store::models::User;

/// Django's key salt for `PasswordResetTokenGenerator`.
const DJANGO_KEY_SALT: &str = "django.contrib.auth.tokens.PasswordResetTokenGenerator";
/// Django accepts timestamps of at most 13 base36 digits.
const MAX_TIMESTAMP_DIGITS: usize = 13;

/// `uid` = URL-safe base64 of the decimal id, without padding (`1` → `MQ`).
pub fn encode_uid(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(id.to_string())
}

/// Decodes a `uid` as leniently as Django: padding and stray non-alphabet characters are ignored.
pub fn decode_uid(uid: &str) -> Option<i64> {
    let cleaned: String = uid
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let bytes = URL_SAFE_NO_PAD.decode(cleaned.as_bytes()).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    // Django's int(): surrounding whitespace allowed, digits only otherwise.
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// What a link is for; each purpose has its own key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Activation,
    PasswordReset,
    EmailReset,
    /// Confirms the user's pending `set_email` address (imhotep's own flow).
    EmailChange,
}

impl Purpose {
    fn key_salt(self) -> &'static str {
        match self {
            Purpose::Activation => "imhotep.links.activation",
            Purpose::PasswordReset => "imhotep.links.password_reset",
            Purpose::EmailReset => "imhotep.links.email_reset",
            Purpose::EmailChange => "imhotep.links.email_change",
        }
    }

    /// What the token covers beyond Django's fields: the pending address of an e-mail change
    /// (`None` when there is none, so no such link is valid).
    fn extra(self, user: &User) -> Option<&str> {
        match self {
            Purpose::EmailChange => user.pending_email.as_deref(),
            _ => Some(""),
        }
    }
}

/// Makes and checks link tokens keyed by `SECRET_KEY`.
#[derive(Clone)]
pub struct LinkTokens {
    secret_key: String,
    accept_django: bool,
    timeout: Duration,
}

impl LinkTokens {
    /// `accept_django`: also accept tokens made with Django's single salt (links issued before the switch).
    pub fn new(secret_key: &str, timeout: Duration, accept_django: bool) -> Self {
        Self {
            secret_key: secret_key.to_owned(),
            accept_django,
            timeout,
        }
    }

    /// Django's `salted_hmac` key: SHA-256 of the salt followed by the secret.
    fn key(&self, salt: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(salt.as_bytes());
        hasher.update(self.secret_key.as_bytes());
        hasher.finalize().into()
    }

    /// A token for `user` as it is stored now.
    pub fn make(&self, user: &User, purpose: Purpose, now: DateTime<Utc>) -> String {
        let timestamp = seconds_since_2001(now);
        let extra = purpose.extra(user).unwrap_or_default();
        format!(
            "{}-{}",
            to_base36(timestamp),
            hash(&self.key(purpose.key_salt()), user, timestamp, extra)
        )
    }

    /// True if `token` was made for `user` in its current state, for this purpose (or by Django),
    /// and has not timed out.
    pub fn check(&self, user: &User, purpose: Purpose, token: &str, now: DateTime<Utc>) -> bool {
        let Some((ts36, given)) = token.split_once('-') else {
            return false;
        };
        if given.contains('-') || ts36.is_empty() || ts36.len() > MAX_TIMESTAMP_DIGITS {
            return false;
        }
        let (Some(timestamp), Some(extra)) = (from_base36(ts36), purpose.extra(user)) else {
            return false;
        };
        let ours = hash(&self.key(purpose.key_salt()), user, timestamp, extra);
        let django = hash(&self.key(DJANGO_KEY_SALT), user, timestamp, "");
        let django_purpose = purpose != Purpose::EmailChange;
        let matches = constant_time_eq(ours.as_bytes(), given.as_bytes())
            | (self.accept_django & django_purpose & constant_time_eq(django.as_bytes(), given.as_bytes()));
        if !matches {
            return false;
        }
        let age = seconds_since_2001(now).saturating_sub(timestamp);
        age <= self.timeout.as_secs()
    }
}

/// Django's hash value: every second hex digit of HMAC-SHA256 over pk, password hash, last login
/// (to the second), timestamp and e-mail, followed by `extra` (empty for Django's purposes).
fn hash(key: &[u8; 32], user: &User, timestamp: u64, extra: &str) -> String {
    let last_login = user
        .last_login
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    let message = format!(
        "{}{}{}{}{}{extra}",
        user.id, user.password, last_login, timestamp, user.email
    );
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(message.as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex.chars().step_by(2).collect()
}

fn seconds_since_2001(now: DateTime<Utc>) -> u64 {
    let epoch = NaiveDate::from_ymd_opt(2001, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc());
    epoch.map_or(0, |epoch| u64::try_from((now - epoch).num_seconds()).unwrap_or(0))
}

fn to_base36(mut value: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(value % 36) as usize]);
        value /= 36;
        if value == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn from_base36(text: &str) -> Option<u64> {
    u64::from_str_radix(text, 36).ok()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn user(id: i64, last_login: Option<DateTime<Utc>>) -> User {
        User {
            id,
            email: "alice@example.com".into(),
            username: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            password: "pbkdf2_sha256$1000000$salt$hash=".into(),
            is_active: false,
            is_staff: false,
            is_superuser: false,
            last_login,
            date_joined: Utc::now(),
            suspended_at: None,
            pending_email: None,
        }
    }

    #[test]
    fn uid_matches_django() {
        for (id, uid) in [(1, "MQ"), (42, "NDI"), (1000, "MTAwMA"), (123_456_789, "MTIzNDU2Nzg5")] {
            assert_eq!(encode_uid(id), uid);
            assert_eq!(decode_uid(uid), Some(id));
        }
        assert_eq!(decode_uid("MQ=="), Some(1));
        for bad in ["", "!!!", "YWJj", "LTE", "AA"] {
            assert_eq!(decode_uid(bad), None, "{bad}");
        }
    }

    #[test]
    fn base36_round_trips() {
        assert_eq!(to_base36(0), "0");
        assert_eq!(to_base36(35), "z");
        assert_eq!(from_base36(&to_base36(812_345_678)), Some(812_345_678));
    }

    #[test]
    fn token_dies_when_hashed_state_changes_or_times_out() {
        let tokens = LinkTokens::new("k".repeat(40).as_str(), Duration::from_secs(3600), true);
        let now = Utc::now();
        let alice = user(7, None);
        let reset = Purpose::PasswordReset;
        let token = tokens.make(&alice, reset, now);
        assert!(tokens.check(&alice, reset, &token, now));
        assert!(!tokens.check(&user(8, None), reset, &token, now));
        assert!(!tokens.check(&user(7, Some(now)), reset, &token, now));
        assert!(!tokens.check(&alice, reset, &token, now + chrono::Duration::seconds(3601)));
        assert!(!tokens.check(&alice, reset, "abc", now));
        assert!(!tokens.check(&alice, reset, &format!("{token}-x"), now));
    }

    #[test]
    fn a_token_serves_only_its_own_purpose() {
        let tokens = LinkTokens::new("k".repeat(40).as_str(), Duration::from_secs(3600), true);
        let (now, alice) = (Utc::now(), user(7, None));
        let activation = tokens.make(&alice, Purpose::Activation, now);
        assert!(tokens.check(&alice, Purpose::Activation, &activation, now));
        assert!(!tokens.check(&alice, Purpose::PasswordReset, &activation, now));
        assert!(!tokens.check(&alice, Purpose::EmailReset, &activation, now));
        assert!(!tokens.check(&alice, Purpose::EmailChange, &activation, now));
    }

    #[test]
    fn an_email_change_link_confirms_only_the_address_it_was_made_for() {
        let tokens = LinkTokens::new("k".repeat(40).as_str(), Duration::from_secs(3600), true);
        let (now, mut alice) = (Utc::now(), user(7, None));
        assert!(!tokens.check(
            &alice,
            Purpose::EmailChange,
            &tokens.make(&alice, Purpose::EmailChange, now),
            now
        ));
        alice.pending_email = Some("mine@example.org".into());
        let link = tokens.make(&alice, Purpose::EmailChange, now);
        assert!(tokens.check(&alice, Purpose::EmailChange, &link, now));
        alice.pending_email = Some("ceo@bigcorp.test".into());
        assert!(!tokens.check(&alice, Purpose::EmailChange, &link, now));
    }

    #[test]
    fn matches_a_token_minted_by_django() {
        // Made by Django 5.2's PasswordResetTokenGenerator with SECRET_KEY = "django-insecure-test-key-0123456789abcdef",
        // for pk=1, password "!unusable", last_login 2026-11-23 10:00:00 UTC, e-mail alice@example.com, timestamp 817380000.
        let secret = "django-insecure-test-key-0123456789abcdef";
        let tokens = LinkTokens::new(secret, Duration::from_secs(u64::MAX / 4), true);
        let when = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        let mut alice = user(1, Some(when));
        alice.password = "!unusable".into();
        let made = format!(
            "{}-{}",
            to_base36(817_380_000),
            hash(&tokens.key(DJANGO_KEY_SALT), &alice, 817_380_000, "")
        );
        assert_eq!(made, DJANGO_VECTOR);
        for purpose in [Purpose::Activation, Purpose::PasswordReset, Purpose::EmailReset] {
            assert!(tokens.check(&alice, purpose, DJANGO_VECTOR, when));
        }
        alice.pending_email = Some("new@example.com".into());
        assert!(!tokens.check(&alice, Purpose::EmailChange, DJANGO_VECTOR, when));
        let strict = LinkTokens::new(secret, Duration::from_secs(u64::MAX / 4), false);
        assert!(!strict.check(&alice, Purpose::PasswordReset, DJANGO_VECTOR, when));
    }

    const DJANGO_VECTOR: &str = "dinag0-2435988262777638647ea67ba22a9897";
}
