//! Whether an HMAC key is strong enough for production: at least as long as the hash's output
//! (RFC 7518 §3.2: 32, 48 and 64 bytes for HS256, HS384 and HS512) and not obviously low in entropy
//! (one character repeated, or fewer than [`MIN_DISTINCT_BYTES`] different bytes). Checked at
//! start-up for every HMAC key when `DEBUG=false`.

use super::{ConfigError, JwtAlgorithm};

/// Fewer different bytes than this marks a key as typed rather than generated: 32 random bytes,
/// even base64- or hex-encoded, have far more.
pub const MIN_DISTINCT_BYTES: usize = 10;

/// How to make a good key, for the error messages.
const GENERATE: &str = "generate one with `openssl rand -base64 64`";

/// The shortest key RFC 7518 allows for `algorithm`; `None` when it is not an HMAC algorithm.
fn min_hmac_key_bytes(algorithm: JwtAlgorithm) -> Option<usize> {
    match algorithm {
        JwtAlgorithm::HS256 => Some(32),
        JwtAlgorithm::HS384 => Some(48),
        JwtAlgorithm::HS512 => Some(64),
        _ => None,
    }
}

/// Refuses `key`, the value of the setting named `setting`, when it is too short for the HMAC
/// `algorithm` or obviously low in entropy. The message names the setting and how to make a key;
/// it never contains the key.
pub fn check_hmac_key(setting: &str, key: &[u8], algorithm: JwtAlgorithm) -> Result<(), ConfigError> {
    let Some(min) = min_hmac_key_bytes(algorithm) else {
        return Err(ConfigError::Invalid(format!(
            "{setting}: {algorithm} is not an HMAC algorithm (HS256, HS384 or HS512)"
        )));
    };
    if key.is_empty() {
        return Err(ConfigError::Insecure(format!(
            "{setting} is not set: in production (DEBUG=false) it needs at least {min} random bytes; {GENERATE}"
        )));
    }
    if key.len() < min {
        return Err(ConfigError::Insecure(format!(
            "{setting} is too short for {algorithm}: {} bytes, at least {min} are needed (RFC 7518 §3.2); {GENERATE}",
            key.len()
        )));
    }
    let mut seen = [false; 256];
    for &byte in key {
        seen[usize::from(byte)] = true;
    }
    let distinct = seen.iter().filter(|&&present| present).count();
    if distinct < MIN_DISTINCT_BYTES {
        return Err(ConfigError::Insecure(format!(
            "{setting} is not random: it has only {distinct} different characters (at least {MIN_DISTINCT_BYTES} \
             expected of a generated key); {GENERATE}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `SECRET_KEY` of the API tests must pass with the default algorithm.
    const TEST_KEY: &str = "test-secret-key-0123456789abcdef0123456789abcdef";

    #[test]
    fn generated_keys_of_the_right_length_pass() {
        assert!(check_hmac_key("SECRET_KEY", TEST_KEY.as_bytes(), JwtAlgorithm::HS256).is_ok());
        assert!(check_hmac_key("SECRET_KEY", TEST_KEY.as_bytes(), JwtAlgorithm::HS384).is_ok());
        let hex64: String = (0..64u8).map(|i| format!("{:x}", i % 16)).collect();
        assert!(check_hmac_key("simple_jwt.signing_key", hex64.as_bytes(), JwtAlgorithm::HS512).is_ok());
    }

    #[test]
    fn keys_shorter_than_the_hash_are_refused() {
        for (algorithm, length) in [
            (JwtAlgorithm::HS256, 31),
            (JwtAlgorithm::HS384, 47),
            (JwtAlgorithm::HS512, 63),
        ] {
            let key: Vec<u8> = (0..length).map(|i| b'a' + (i % 26) as u8).collect();
            let error = check_hmac_key("simple_jwt.signing_key", &key, algorithm).unwrap_err();
            assert!(matches!(error, ConfigError::Insecure(_)), "{algorithm}");
            let message = error.to_string();
            assert!(
                message.starts_with("simple_jwt.signing_key is too short for"),
                "{message}"
            );
            assert!(message.contains("openssl rand"), "{message}");
        }
        let error = check_hmac_key("simple_jwt.signing_key", b"secret", JwtAlgorithm::HS256).unwrap_err();
        assert!(
            !error.to_string().contains("secret"),
            "the message shows the key: {error}"
        );
    }

    #[test]
    fn keys_with_few_distinct_characters_are_refused() {
        for key in ["a".repeat(32), "ab".repeat(32), "012345678".repeat(4)] {
            let error = check_hmac_key("SECRET_KEY", key.as_bytes(), JwtAlgorithm::HS256).unwrap_err();
            assert!(error.to_string().contains("not random"), "{key}: {error}");
        }
        assert!(check_hmac_key("SECRET_KEY", "0123456789".repeat(4).as_bytes(), JwtAlgorithm::HS256).is_ok());
    }

    #[test]
    fn an_empty_key_or_a_non_hmac_algorithm_is_refused() {
        assert!(
            check_hmac_key("SECRET_KEY", b"", JwtAlgorithm::HS256)
                .unwrap_err()
                .to_string()
                .contains("is not set")
        );
        assert!(check_hmac_key("simple_jwt.signing_key", TEST_KEY.as_bytes(), JwtAlgorithm::RS256).is_err());
    }
}
