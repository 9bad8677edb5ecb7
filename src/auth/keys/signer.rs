//! Signing with a key prepared once, when the ring loads. jsonwebtoken's `crypto::sign` rebuilds its
//! signer from the DER key on every call; for Ed25519 that derives the public key each time (a scalar
//! multiplication, about twice the cost of the signature), so Ed25519 keeps its parsed key here. For
//! HMAC, RSA and ECDSA jsonwebtoken's path measured as fast as a prepared RustCrypto signer
//! (`cargo bench --bench jwt`), so they use it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::EncodePrivateKey;
use rsa::signature::Signer as _;

use super::pem::PrivateKey;
use crate::config::JwtAlgorithm;

/// A ready signer for one key and algorithm.
pub enum Signer {
    /// jsonwebtoken's signer, built per call from the key's bytes (HMAC secret, RSA PKCS#1 DER, EC PKCS#8 DER).
    Jwt(EncodingKey, Algorithm),
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

impl Signer {
    /// An HMAC signer over `secret`.
    pub fn hmac(secret: &[u8], algorithm: JwtAlgorithm) -> Signer {
        Signer::Jwt(EncodingKey::from_secret(secret), algorithm.into())
    }

    /// The signer of `key` for `algorithm`; `None` when the key does not fit the algorithm.
    pub fn new(key: &PrivateKey, algorithm: JwtAlgorithm) -> Option<Signer> {
        use JwtAlgorithm::*;
        Some(match (key, algorithm) {
            (PrivateKey::Ed25519(key), EdDSA) => Signer::Ed25519(Box::new(key.clone())),
            (PrivateKey::P256(key), ES256) => Signer::Jwt(
                EncodingKey::from_ec_der(key.to_pkcs8_der().ok()?.as_bytes()),
                Algorithm::ES256,
            ),
            (PrivateKey::P384(key), ES384) => Signer::Jwt(
                EncodingKey::from_ec_der(key.to_pkcs8_der().ok()?.as_bytes()),
                Algorithm::ES384,
            ),
            (PrivateKey::Rsa(key), RS256 | RS384 | RS512 | PS256 | PS384 | PS512) => Signer::Jwt(
                EncodingKey::from_rsa_der(key.to_pkcs1_der().ok()?.as_bytes()),
                algorithm.into(),
            ),
            _ => return None,
        })
    }

    /// The JWS signature of `message`, base64url-encoded.
    pub fn sign(&self, message: &[u8]) -> Result<String, String> {
        match self {
            Signer::Jwt(key, algorithm) => {
                jsonwebtoken::crypto::sign(message, key, *algorithm).map_err(|e| e.to_string())
            }
            Signer::Ed25519(key) => Ok(URL_SAFE_NO_PAD.encode(key.sign(message).to_bytes())),
        }
    }
}
