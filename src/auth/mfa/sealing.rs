//! The keys of two-factor login and what they protect: TOTP seeds sealed at rest with
//! XChaCha20-Poly1305, and recovery codes stored as keyed hashes.
//!
//! Both keys come from one secret (`mfa.encryption_key`, else `SECRET_KEY`) through HKDF-SHA256
//! with distinct labels, so neither is the secret itself and neither can stand in for the other.
//! A seed is sealed with its factor's id and user as associated data: a sealed seed copied to
//! another row does not open there.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// XChaCha20's nonce: 192 bits, so random nonces never repeat in practice.
const NONCE_BYTES: usize = 24;

/// The derived keys (cheap to clone).
#[derive(Clone)]
pub struct MfaKeys {
    cipher: XChaCha20Poly1305,
    code_key: [u8; 32],
}

impl MfaKeys {
    /// Derives both keys from `secret`.
    pub fn derive(secret: &[u8]) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(b"imhotep mfa"), secret);
        let mut seal_key = [0u8; 32];
        let mut code_key = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit: expansion cannot fail.
        hkdf.expand(b"totp seed encryption", &mut seal_key)
            .expect("32 bytes is a valid HKDF-SHA256 length");
        hkdf.expand(b"recovery code hashing", &mut code_key)
            .expect("32 bytes is a valid HKDF-SHA256 length");
        Self {
            cipher: XChaCha20Poly1305::new(&seal_key.into()),
            code_key,
        }
    }

    /// `seed` sealed for factor `factor_id` of `user_id`: base64 of nonce || ciphertext.
    pub fn seal(&self, seed: &[u8], user_id: i64, factor_id: &str) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|_| SealError)?;
        let aad = associated_data(user_id, factor_id);
        let sealed = self
            .cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: seed, aad: &aad })
            .map_err(|_| SealError)?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(STANDARD.encode(out))
    }

    /// The seed of a sealed value, or `None` when it was sealed with another key or for another row.
    pub fn open(&self, sealed: &str, user_id: i64, factor_id: &str) -> Option<Vec<u8>> {
        let bytes = STANDARD.decode(sealed).ok()?;
        if bytes.len() <= NONCE_BYTES {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce = XNonce::from(<[u8; NONCE_BYTES]>::try_from(nonce).ok()?);
        let aad = associated_data(user_id, factor_id);
        self.cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .ok()
    }

    /// The stored form of a (normalised) recovery code: HMAC-SHA256, hex. A fast hash is enough
    /// because a code is 80 random bits, not a password: no dictionary, no feasible search; the key
    /// keeps a leaked table from being searched at all without the secret.
    pub fn code_hash(&self, normalised_code: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.code_key).expect("HMAC takes any key length");
        mac.update(normalised_code.as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The system's random source failed, or the cipher refused its input.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("sealing a TOTP seed failed")]
pub struct SealError;

fn associated_data(user_id: i64, factor_id: &str) -> Vec<u8> {
    format!("{user_id}:{factor_id}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_seed_opens_only_with_its_key_and_row() {
        let keys = MfaKeys::derive(b"a secret key of at least thirty-two bytes");
        let sealed = keys.seal(b"12345678901234567890", 7, "abc").unwrap();
        assert!(
            !sealed.contains("MTIzNDU2Nzg5MDEyMzQ1Njc4OTA"),
            "the seed is not in the clear"
        );
        assert_eq!(keys.open(&sealed, 7, "abc").unwrap(), b"12345678901234567890");
        assert_eq!(keys.open(&sealed, 8, "abc"), None, "another user's row");
        assert_eq!(keys.open(&sealed, 7, "abd"), None, "another factor's row");
        let other = MfaKeys::derive(b"another secret key of thirty-two bytes!!");
        assert_eq!(other.open(&sealed, 7, "abc"), None, "another key");
        assert_eq!(keys.open("bm90IHNlYWxlZA==", 7, "abc"), None);
        assert_ne!(
            keys.seal(b"x", 7, "abc").unwrap(),
            keys.seal(b"x", 7, "abc").unwrap(),
            "fresh nonces"
        );
    }

    #[test]
    fn code_hashes_are_keyed() {
        let keys = MfaKeys::derive(b"a secret key of at least thirty-two bytes");
        let other = MfaKeys::derive(b"another secret key of thirty-two bytes!!");
        assert_eq!(keys.code_hash("abcd"), keys.code_hash("abcd"));
        assert_eq!(keys.code_hash("abcd").len(), 64);
        assert_ne!(keys.code_hash("abcd"), other.code_hash("abcd"));
        assert_ne!(keys.code_hash("abcd"), keys.code_hash("abce"));
    }
}
