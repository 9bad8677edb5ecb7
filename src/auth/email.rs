//! E-mail addresses: Django's `EmailValidator` and `normalize_email`, plus the case-folded key
//! imhotep uses for uniqueness and login (a deliberate difference: Djoser matches exactly).

use std::sync::LazyLock;

use regex::Regex;

/// Django's `EmailField` max length (RFC 3696 errata).
pub const MAX_EMAIL_CHARS: usize = 254;

/// Django's dot-atom or quoted-string local part (ASCII only).
static USER_PART: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(^[-!#$%&'*+/=?^_`{}|~0-9A-Z]+(\.[-!#$%&'*+/=?^_`{}|~0-9A-Z]+)*\z|^"([\x01-\x08\x0b\x0c\x0e-\x1f!#-\[\]-\x7f]|\\[\x01-\x09\x0b\x0c\x0e-\x7f])*"\z)"#,
    )
    .expect("static regex")
});

/// Django's domain labels; the top-level label is checked separately (Rust's regex has no look-behind).
static DOMAIN_LABELS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^(?:[A-Z0-9](?:[A-Z0-9-]{0,61}[A-Z0-9])?\.)+$").expect("static regex"));
static TOP_LABEL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)^[A-Z0-9-]{2,63}$").expect("static regex"));

/// A syntactically valid address with its domain lower-cased, as Django's `create_user` stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Validates like Django's `EmailValidator` (the caller has already trimmed the input) and
    /// normalises the domain to lower case. Internationalised domains are refused rather than punycoded.
    pub fn parse(input: &str) -> Option<Email> {
        if input.is_empty() || input.chars().count() > 320 {
            return None;
        }
        let (user, domain) = input.rsplit_once('@')?;
        if !USER_PART.is_match(user) || !valid_domain(domain) {
            return None;
        }
        Some(Email(format!("{user}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form that the unique index and logins use.
    pub fn key(&self) -> String {
        key_for(&self.0)
    }
}

/// The lookup key of any login input: the whole address lower-cased.
pub fn key_for(input: &str) -> String {
    input.to_lowercase()
}

fn valid_domain(domain: &str) -> bool {
    if domain == "localhost" {
        return true;
    }
    if let Some(literal) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        return literal.parse::<std::net::Ipv4Addr>().is_ok()
            || literal
                .strip_prefix("IPv6:")
                .is_some_and(|v6| v6.parse::<std::net::Ipv6Addr>().is_ok());
    }
    let Some((labels, top)) = domain.rsplit_once('.') else {
        return false;
    };
    DOMAIN_LABELS.is_match(&format!("{labels}.")) && TOP_LABEL.is_match(top) && !top.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_django_accepts_and_lowercases_the_domain() {
        for (input, stored) in [
            ("alice@example.com", "alice@example.com"),
            ("Alice@EXAMPLE.COM", "Alice@example.com"),
            ("a.b+tag@sub.example.co.uk", "a.b+tag@sub.example.co.uk"),
            ("user@localhost", "user@localhost"),
            ("user@[127.0.0.1]", "user@[127.0.0.1]"),
            ("\"quoted\"@example.com", "\"quoted\"@example.com"),
            ("x@xn--bcher-kva.example", "x@xn--bcher-kva.example"),
        ] {
            assert_eq!(Email::parse(input).map(|e| e.0), Some(stored.to_owned()), "{input}");
        }
    }

    #[test]
    fn rejects_what_django_rejects() {
        for input in [
            "",
            "not-an-email",
            "\"quoted name\"@example.com",
            "@example.com",
            "a@",
            "a@b",
            "a@-b.com",
            "a@b-.com",
            "a@example.c",
            "a..b@example.com",
            "a@example.com-",
            "a b@example.com",
            "a@exa mple.com",
            "a@example.com\r\nBcc: v@y.test",
            "a\u{0}@example.com",
            "alıce@example.com",
            "a@bücher.example",
            "a@[300.1.1.1]",
        ] {
            assert_eq!(Email::parse(input), None, "{input:?}");
        }
    }

    #[test]
    fn key_folds_the_whole_address() {
        assert_eq!(Email::parse("Alice@Example.COM").unwrap().key(), "alice@example.com");
    }
}
