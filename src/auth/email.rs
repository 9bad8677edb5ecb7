//! E-mail addresses: Django's `EmailValidator` and `normalize_email`, plus the key imhotep uses
//! for uniqueness and every lookup (a deliberate difference: Djoser matches exactly).
//!
//! The key is the address with an unnecessarily quoted local part unquoted, NFKC-normalised and
//! case-folded, and an ASCII domain lower-cased. An address whose key would turn a non-ASCII
//! character into an ASCII one (the Kelvin sign `K` into `k`, the long s `ſ` into `s`, fullwidth
//! letters, `ß` into `ss`) has no key: it would take, or log in as, another person's address. The
//! domain must be ASCII (letters, digits, hyphens; `xn--` punycode for international names) before
//! any case mapping, so `ſample.test` is not `sample.test`.

use std::borrow::Cow;
use std::sync::LazyLock;

use caseless::Caseless;
use regex::Regex;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Django's `EmailField` max length (RFC 3696 errata).
pub const MAX_EMAIL_CHARS: usize = 254;

/// Django's quoted-string local part (ASCII only). The dot-atom form is checked by
/// [`valid_dot_atom`], which adds non-ASCII letters, digits and marks (RFC 6531).
static QUOTED_LOCAL_PART: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^"([\x01-\x08\x0b\x0c\x0e-\x1f!#-\[\]-\x7f]|\\[\x01-\x09\x0b\x0c\x0e-\x7f])*"\z"#)
        .expect("static regex")
});

/// Django's domain labels; the top-level label is checked separately (Rust's regex has no
/// look-behind). Only applied to ASCII domains, so its case-insensitivity is ASCII's.
static DOMAIN_LABELS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^(?:[A-Z0-9](?:[A-Z0-9-]{0,61}[A-Z0-9])?\.)+$").expect("static regex"));
static TOP_LABEL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)^[A-Z0-9-]{2,63}$").expect("static regex"));

/// A valid address with its domain lower-cased, as Django's `create_user` stores it, and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    address: String,
    key: String,
}

impl Email {
    /// Validates like Django's `EmailValidator` (the caller has already trimmed the input), with
    /// the rules of the module docs, and lower-cases the domain. Internationalised domains are
    /// refused rather than punycoded; non-ASCII letters in the local part are accepted.
    pub fn parse(input: &str) -> Option<Email> {
        if input.is_empty() || input.chars().count() > 320 {
            return None;
        }
        let (user, domain) = input.rsplit_once('@')?;
        if !(valid_dot_atom(user) || QUOTED_LOCAL_PART.is_match(user)) || !valid_domain(domain) {
            return None;
        }
        let address = format!("{user}@{}", domain.to_ascii_lowercase());
        // A key that folding made longer than the stored limit could not be stored; an address that
        // is itself too long is the length check's business (Django reports only that).
        let fits = |key: &String| key.chars().count() <= MAX_EMAIL_CHARS.max(address.chars().count());
        let key = key_for(&address).filter(fits)?;
        Some(Email { address, key })
    }

    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The key that the unique index and every lookup use.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// The lookup key of any address-like input (a login, an operator's argument, an imported row),
/// computed as the module docs say; `None` when the input cannot name an account: no `@`, a
/// non-ASCII domain, or a character that the key would map onto ASCII. Valid addresses never get
/// `None` from here ([`Email::parse`] refuses those inputs), and an ASCII address keeps the key
/// imhotep has always given it: the whole address lower-cased.
pub fn key_for(input: &str) -> Option<String> {
    let (local, domain) = input.rsplit_once('@')?;
    if !domain.is_ascii() {
        return None;
    }
    let local = unquoted(local);
    if local.chars().any(maps_onto_ascii) {
        return None;
    }
    Some(format!("{}@{}", fold(&local), domain.to_ascii_lowercase()))
}

/// NFKC, full case folding, NFKC again (folding can undo normalisation).
fn fold(text: &str) -> String {
    text.nfkc().default_case_fold().nfkc().collect()
}

/// Whether a non-ASCII character becomes (or brings in) an ASCII one in the key. Checked one
/// character at a time: composition never produces ASCII, so no sequence can do what none of its
/// characters does, and a decomposed accent (`e` + U+0301) is not mistaken for one.
fn maps_onto_ascii(c: char) -> bool {
    !c.is_ascii() && fold(c.encode_utf8(&mut [0; 4])).chars().any(|f| f.is_ascii())
}

/// A quoted local part whose content needs no quotes (`"kate"`) without them; any other quoted
/// part in one canonical spelling (escapes only where needed); a dot-atom as it is.
fn unquoted(local: &str) -> Cow<'_, str> {
    let Some(inner) = local
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .filter(|_| local.len() >= 2)
    else {
        return Cow::Borrowed(local);
    };
    let mut content = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        content.push(if c == '\\' { chars.next().unwrap_or('\\') } else { c });
    }
    if valid_dot_atom(&content) {
        return Cow::Owned(content);
    }
    let escaped: String = content
        .chars()
        .flat_map(|c| (c == '"' || c == '\\').then_some('\\').into_iter().chain([c]))
        .collect();
    Cow::Owned(format!("\"{escaped}\""))
}

/// Django's dot-atom (`atext` runs joined by single dots), where a non-ASCII letter, digit or
/// combining mark also counts as `atext` (RFC 6531); spaces, controls and invisible format
/// characters never do.
fn valid_dot_atom(local: &str) -> bool {
    let atext = |c: char| {
        c.is_ascii_alphanumeric()
            || "-!#$%&'*+/=?^_`{}|~".contains(c)
            || (!c.is_ascii() && (c.is_alphanumeric() || is_combining_mark(c)))
    };
    local.split('.').all(|atom| !atom.is_empty() && atom.chars().all(atext))
}

fn valid_domain(domain: &str) -> bool {
    if !domain.is_ascii() {
        return false;
    }
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
            assert_eq!(
                Email::parse(input).map(|e| e.address),
                Some(stored.to_owned()),
                "{input}"
            );
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
            "a@bücher.example",
            "a@[300.1.1.1]",
        ] {
            assert_eq!(Email::parse(input), None, "{input:?}");
        }
    }

    #[test]
    fn ascii_addresses_keep_the_lower_cased_key() {
        for (input, key) in [
            ("Alice@Example.COM", "alice@example.com"),
            ("A.B+Tag@Sub.Example.org", "a.b+tag@sub.example.org"),
            ("user@[127.0.0.1]", "user@[127.0.0.1]"),
        ] {
            assert_eq!(Email::parse(input).unwrap().key(), key);
            assert_eq!(key_for(input).as_deref(), Some(key));
        }
    }

    #[test]
    fn characters_that_fold_onto_ascii_are_refused_everywhere() {
        for input in [
            "\u{212a}evin@example.com", // KELVIN SIGN
            "bob@\u{17f}ample.test",    // LONG S in the domain
            "\u{17f}am@example.com",    // LONG S in the local part
            "\u{ff41}lice@example.com", // FULLWIDTH a
            "stra\u{df}e@example.com",  // sharp s folds to "ss"
            "\u{130}nci@example.com",   // I WITH DOT ABOVE folds to "i" + a mark
            "\u{fb01}le@example.com",   // the "fi" ligature
            "alice@EXAMPLE.\u{212a}Z",  // KELVIN SIGN in the domain
        ] {
            assert_eq!(Email::parse(input), None, "{input}");
            assert_eq!(key_for(input), None, "{input}");
        }
    }

    #[test]
    fn unnecessary_quotes_do_not_make_a_second_address() {
        assert_eq!(Email::parse("\"kate\"@example.com").unwrap().key(), "kate@example.com");
        assert_eq!(
            Email::parse("\"Ka\\te\"@example.com").unwrap().key(),
            "kate@example.com"
        );
        assert_eq!(key_for("\"kate\"@EXAMPLE.com").as_deref(), Some("kate@example.com"));
        // Quotes that are needed stay, in one spelling.
        assert_eq!(
            Email::parse("\"a..b\"@example.com").unwrap().key(),
            "\"a..b\"@example.com"
        );
        assert_eq!(
            Email::parse("\"a\\.\\.b\"@example.com").unwrap().key(),
            "\"a..b\"@example.com"
        );
        assert_eq!(
            Email::parse("\"a@b\"@example.com").unwrap().key(),
            "\"a@b\"@example.com"
        );
    }

    #[test]
    fn genuine_non_ascii_local_parts_get_a_key_of_their_own() {
        let jose = Email::parse("José@example.com").unwrap();
        assert_eq!(jose.as_str(), "José@example.com");
        assert_eq!(jose.key(), "josé@example.com");
        // Decomposed (NFD) and composed spellings are one address.
        assert_eq!(Email::parse("Jose\u{301}@example.com").unwrap().key(), jose.key());
        for (input, key) in [
            ("al\u{131}ce@example.com", "al\u{131}ce@example.com"), // dotless i stays itself
            ("\u{430}lice@example.com", "\u{430}lice@example.com"), // Cyrillic a
            (
                "\u{3a3}\u{39f}\u{3a6}\u{38a}\u{391}@example.com",
                "\u{3c3}\u{3bf}\u{3c6}\u{3af}\u{3b1}@example.com",
            ),
        ] {
            assert_eq!(Email::parse(input).unwrap().key(), key, "{input}");
        }
        for invisible in [
            "ali\u{200b}ce@example.com",
            "ali\u{202e}ce@example.com",
            "ali\u{a0}ce@example.com",
        ] {
            assert_eq!(Email::parse(invisible), None, "{invisible:?}");
        }
    }

    #[test]
    fn a_key_that_normalisation_makes_too_long_to_store_is_refused() {
        // U+FDF2 (one letter) is four letters under NFKC: 112 characters, a 412-character key.
        let ligatures = format!("{}@example.com", "\u{fdf2}".repeat(100));
        assert_eq!(Email::parse(&ligatures), None);
        let fits = format!("{}@example.com", "\u{fdf2}".repeat(10));
        assert_eq!(Email::parse(&fits).map(|e| e.key().chars().count()), Some(52));
    }

    #[test]
    fn lookups_of_non_addresses_name_nobody() {
        assert_eq!(key_for("admin"), None);
        assert_eq!(key_for("a@b\u{fc}cher.example"), None);
    }
}
