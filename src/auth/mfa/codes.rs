//! The one-time values of two-factor login: recovery codes and login tickets, made from the
//! system's random source, and how a code typed by a person is normalised before it is compared.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Recovery codes issued at a time.
pub const RECOVERY_CODES: usize = 10;

/// The alphabet of recovery codes: RFC 4648's base32 letters and digits, lower case (no 0/1/8,
/// so nothing reads as o, l or b).
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Characters of a recovery code: 16 × 5 bits = 80 random bits.
const CODE_CHARS: usize = 16;

/// Fresh recovery codes as shown to the user, in groups of four: `abcd-efgh-ijkl-mnop`.
pub fn new_recovery_codes() -> Result<Vec<String>, getrandom::Error> {
    (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect()
}

fn new_recovery_code() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; CODE_CHARS];
    getrandom::fill(&mut bytes)?;
    let chars: Vec<char> = bytes.iter().map(|b| ALPHABET[usize::from(b & 31)] as char).collect();
    Ok(chars
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-"))
}

/// A recovery code as typed (any case, with or without dashes and spaces) in its stored form, or
/// `None` when it cannot be one.
pub fn normalise_recovery_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (code.len() == CODE_CHARS && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// A TOTP code as typed (spaces allowed, as apps show `123 456`), or `None` when it is not six digits.
pub fn normalise_totp_code(typed: &str) -> Option<String> {
    let code: String = typed.chars().filter(|c| *c != ' ').collect();
    (code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// A fresh login ticket (256 random bits, URL-safe base64) and the hash it is stored under.
pub fn new_ticket() -> Result<(String, String), getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    let ticket = URL_SAFE_NO_PAD.encode(bytes);
    let hash = ticket_hash(&ticket);
    Ok((ticket, hash))
}

/// The stored form of a ticket: SHA-256, hex (a ticket is random, so no key is needed).
pub fn ticket_hash(ticket: &str) -> String {
    Sha256::digest(ticket.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_distinct_grouped_and_normalise_back() {
        let codes = new_recovery_codes().unwrap();
        assert_eq!(codes.len(), RECOVERY_CODES);
        for code in &codes {
            assert_eq!(code.len(), 19, "{code}");
            assert_eq!(code.matches('-').count(), 3, "{code}");
            let normal = normalise_recovery_code(code).unwrap();
            assert_eq!(
                normalise_recovery_code(&code.to_uppercase().replace('-', " ")),
                Some(normal)
            );
        }
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
    }

    #[test]
    fn malformed_codes_are_refused() {
        for typed in ["", "abcd-efgh-ijkl-mno", "abcd-efgh-ijkl-mnop1", "abcd-efgh-ijkl-mn0p"] {
            assert_eq!(normalise_recovery_code(typed), None, "{typed}");
        }
        assert_eq!(normalise_totp_code("123 456").as_deref(), Some("123456"));
        for typed in ["", "12345", "1234567", "12345a", "١٢٣٤٥٦"] {
            assert_eq!(normalise_totp_code(typed), None, "{typed}");
        }
    }

    #[test]
    fn tickets_are_random_and_stored_hashed() {
        let (ticket, hash) = new_ticket().unwrap();
        assert_eq!(ticket.len(), 43);
        assert_eq!(hash, ticket_hash(&ticket));
        assert_ne!(new_ticket().unwrap().0, ticket);
    }
}
