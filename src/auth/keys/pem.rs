//! PEM key files as a SimpleJWT deployment has them (PKCS#8 `PRIVATE KEY`, traditional `RSA PRIVATE KEY`
//! and `EC PRIVATE KEY`, SPKI `PUBLIC KEY`, PKCS#1 `RSA PUBLIC KEY`), turned into the keys imhotep
//! signs and jsonwebtoken verifies with, the public members of their JWK, and new keys for `imhotep keys generate`.
//!
//! Error messages say what was found, never any of the key's text.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use rand_core::OsRng;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Map, Value, json};

use crate::config::JwtAlgorithm;

/// The smallest RSA modulus accepted (RFC 7518 §3.3).
pub const MIN_RSA_BITS: usize = 2048;

/// A private key of one of the supported kinds.
pub enum PrivateKey {
    Rsa(Box<RsaPrivateKey>),
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    Ed25519(ed25519_dalek::SigningKey),
}

/// A public key of one of the supported kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum PublicKey {
    Rsa(RsaPublicKey),
    P256(p256::PublicKey),
    P384(p384::PublicKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl PrivateKey {
    /// Reads a private key in any of the PEM forms SimpleJWT (PyJWT, `cryptography`) accepts, unencrypted.
    pub fn parse(text: &str) -> Result<PrivateKey, String> {
        let text = text.trim();
        let parsed = if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
            RsaPrivateKey::from_pkcs1_pem(text)
                .ok()
                .map(|k| PrivateKey::Rsa(Box::new(k)))
        } else if text.contains("-----BEGIN EC PRIVATE KEY-----") {
            p256::SecretKey::from_sec1_pem(text)
                .map(PrivateKey::P256)
                .or_else(|_| p384::SecretKey::from_sec1_pem(text).map(PrivateKey::P384))
                .ok()
        } else if text.contains("-----BEGIN PRIVATE KEY-----") {
            RsaPrivateKey::from_pkcs8_pem(text)
                .map(|k| PrivateKey::Rsa(Box::new(k)))
                .or_else(|_| p256::SecretKey::from_pkcs8_pem(text).map(PrivateKey::P256))
                .or_else(|_| p384::SecretKey::from_pkcs8_pem(text).map(PrivateKey::P384))
                .or_else(|_| ed25519_dalek::SigningKey::from_pkcs8_pem(text).map(PrivateKey::Ed25519))
                .ok()
        } else {
            return Err(not_a_private_key(text));
        };
        parsed.ok_or_else(|| {
            "is a PEM private key imhotep cannot read (supported: RSA, EC P-256, EC P-384, Ed25519)".to_owned()
        })
    }

    /// A new random key: `bits` is used for RSA only.
    pub fn generate(algorithm: JwtAlgorithm, bits: usize) -> Result<PrivateKey, String> {
        Ok(match algorithm {
            JwtAlgorithm::ES256 => PrivateKey::P256(p256::SecretKey::random(&mut OsRng)),
            JwtAlgorithm::ES384 => PrivateKey::P384(p384::SecretKey::random(&mut OsRng)),
            JwtAlgorithm::EdDSA => PrivateKey::Ed25519(ed25519_dalek::SigningKey::generate(&mut OsRng)),
            JwtAlgorithm::HS256 | JwtAlgorithm::HS384 | JwtAlgorithm::HS512 => {
                return Err("HMAC algorithms use a secret, not a key pair".into());
            }
            _ => {
                if bits < MIN_RSA_BITS {
                    return Err(format!("RSA keys need at least {MIN_RSA_BITS} bits"));
                }
                let key = RsaPrivateKey::new(&mut OsRng, bits).map_err(|e| format!("generating the RSA key: {e}"))?;
                PrivateKey::Rsa(Box::new(key))
            }
        })
    }

    pub fn public(&self) -> PublicKey {
        match self {
            PrivateKey::Rsa(key) => PublicKey::Rsa(key.to_public_key()),
            PrivateKey::P256(key) => PublicKey::P256(key.public_key()),
            PrivateKey::P384(key) => PublicKey::P384(key.public_key()),
            PrivateKey::Ed25519(key) => PublicKey::Ed25519(key.verifying_key()),
        }
    }

    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), what `openssl genpkey` writes.
    pub fn to_pem(&self) -> Result<String, String> {
        let pem = match self {
            PrivateKey::Rsa(key) => key.to_pkcs8_pem(LineEnding::LF),
            PrivateKey::P256(key) => key.to_pkcs8_pem(LineEnding::LF),
            PrivateKey::P384(key) => key.to_pkcs8_pem(LineEnding::LF),
            // PKCS#8 v1 (no public key inside): `cryptography` (PyJWT, SimpleJWT) refuses the v2 form.
            PrivateKey::Ed25519(key) => ed25519_dalek::pkcs8::KeypairBytes {
                secret_key: key.to_bytes(),
                public_key: None,
            }
            .to_pkcs8_pem(LineEnding::LF),
        };
        pem.map(|text| text.to_string())
            .map_err(|e| format!("encoding the private key: {e}"))
    }
}

impl PublicKey {
    /// Reads a public key (`PUBLIC KEY` or `RSA PUBLIC KEY` PEM).
    pub fn parse(text: &str) -> Result<PublicKey, String> {
        let text = text.trim();
        let parsed = if text.contains("-----BEGIN RSA PUBLIC KEY-----") {
            RsaPublicKey::from_pkcs1_pem(text).ok().map(PublicKey::Rsa)
        } else if text.contains("-----BEGIN PUBLIC KEY-----") {
            RsaPublicKey::from_public_key_pem(text)
                .map(PublicKey::Rsa)
                .or_else(|_| p256::PublicKey::from_public_key_pem(text).map(PublicKey::P256))
                .or_else(|_| p384::PublicKey::from_public_key_pem(text).map(PublicKey::P384))
                .or_else(|_| ed25519_dalek::VerifyingKey::from_public_key_pem(text).map(PublicKey::Ed25519))
                .ok()
        } else if text.contains("PRIVATE KEY-----") {
            return Err("holds a private key where a public key is expected".into());
        } else {
            return Err("is not a PEM public key (expected -----BEGIN PUBLIC KEY-----)".into());
        };
        parsed.ok_or_else(|| {
            "is a PEM public key imhotep cannot read (supported: RSA, EC P-256, EC P-384, Ed25519)".to_owned()
        })
    }

    /// What kind of key this is, for messages.
    pub fn describe(&self) -> String {
        match self {
            PublicKey::Rsa(key) => format!("an RSA key of {} bits", key.size() * 8),
            PublicKey::P256(_) => "an EC P-256 key".into(),
            PublicKey::P384(_) => "an EC P-384 key".into(),
            PublicKey::Ed25519(_) => "an Ed25519 key".into(),
        }
    }

    /// Whether tokens of `algorithm` may be signed with this kind of key.
    pub fn fits(&self, algorithm: JwtAlgorithm) -> bool {
        use JwtAlgorithm::*;
        match self {
            PublicKey::Rsa(key) => {
                matches!(algorithm, RS256 | RS384 | RS512 | PS256 | PS384 | PS512) && key.size() * 8 >= MIN_RSA_BITS
            }
            PublicKey::P256(_) => algorithm == ES256,
            PublicKey::P384(_) => algorithm == ES384,
            PublicKey::Ed25519(_) => algorithm == EdDSA,
        }
    }

    /// The algorithm a key of this kind signs with when nothing else says (RSA: `rsa`).
    pub fn default_algorithm(&self, rsa: JwtAlgorithm) -> JwtAlgorithm {
        match self {
            PublicKey::Rsa(_) => rsa,
            PublicKey::P256(_) => JwtAlgorithm::ES256,
            PublicKey::P384(_) => JwtAlgorithm::ES384,
            PublicKey::Ed25519(_) => JwtAlgorithm::EdDSA,
        }
    }

    pub fn decoding_key(&self) -> DecodingKey {
        match self {
            PublicKey::Rsa(key) => DecodingKey::from_rsa_raw_components(&key.n().to_bytes_be(), &key.e().to_bytes_be()),
            PublicKey::P256(key) => DecodingKey::from_ec_der(key.to_encoded_point(false).as_bytes()),
            PublicKey::P384(key) => DecodingKey::from_ec_der(key.to_encoded_point(false).as_bytes()),
            PublicKey::Ed25519(key) => DecodingKey::from_ed_der(key.as_bytes()),
        }
    }

    /// The JWK's key members (RFC 7517/7518/8037), in the lexicographic order RFC 7638 thumbprints use.
    pub fn jwk_members(&self) -> Map<String, Value> {
        let b64 = |bytes: &[u8]| Value::String(URL_SAFE_NO_PAD.encode(bytes));
        let value = match self {
            PublicKey::Rsa(key) => {
                json!({ "e": b64(&key.e().to_bytes_be()), "kty": "RSA", "n": b64(&key.n().to_bytes_be()) })
            }
            PublicKey::P256(key) => {
                let point = key.to_encoded_point(false);
                json!({ "crv": "P-256", "kty": "EC", "x": b64(point.x().map_or(&[][..], |x| &x[..])), "y": b64(point.y().map_or(&[][..], |y| &y[..])) })
            }
            PublicKey::P384(key) => {
                let point = key.to_encoded_point(false);
                json!({ "crv": "P-384", "kty": "EC", "x": b64(point.x().map_or(&[][..], |x| &x[..])), "y": b64(point.y().map_or(&[][..], |y| &y[..])) })
            }
            PublicKey::Ed25519(key) => json!({ "crv": "Ed25519", "kty": "OKP", "x": b64(key.as_bytes()) }),
        };
        match value {
            Value::Object(members) => members,
            _ => Map::new(),
        }
    }

    /// The RFC 7638 SHA-256 thumbprint, the `kid` of a key configured without one.
    pub fn thumbprint(&self) -> String {
        use sha2::Digest;
        let canonical = Value::Object(self.jwk_members()).to_string();
        URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(canonical.as_bytes()))
    }

    /// SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn to_pem(&self) -> Result<String, String> {
        let pem = match self {
            PublicKey::Rsa(key) => key.to_public_key_pem(LineEnding::LF),
            PublicKey::P256(key) => key.to_public_key_pem(LineEnding::LF),
            PublicKey::P384(key) => key.to_public_key_pem(LineEnding::LF),
            PublicKey::Ed25519(key) => key.to_public_key_pem(LineEnding::LF),
        };
        pem.map_err(|e| format!("encoding the public key: {e}"))
    }
}

fn not_a_private_key(text: &str) -> String {
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        "is an encrypted private key; decrypt it first (openssl pkey -in key.pem -out plain.pem)".into()
    } else if text.contains("PUBLIC KEY-----") {
        "holds a public key where the private key is needed".into()
    } else {
        "is not a PEM private key (expected -----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY)".into()
    }
}

#[cfg(test)]
mod tests;
