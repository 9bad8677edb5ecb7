//! The key ring JWTs are signed and verified with: exactly one signing key and any number of keys that
//! only verify, each with its algorithm and (except the single HMAC key of the default configuration)
//! a `kid`. The ring is rebuilt from its sources (settings, `keys.dir`) on reload and swapped whole,
//! so a request sees either the old or the new ring, never a mix; a source that does not make a valid
//! ring leaves the current one in place.

mod pem;
mod signer;
mod source;

use std::sync::{Arc, PoisonError, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Value, json};

pub use pem::{PrivateKey, PublicKey};
pub use signer::Signer;

use crate::config::{JwtAlgorithm, KeyUse, Settings};
use source::KeySource;

/// One key of the ring.
pub struct Key {
    kid: Option<String>,
    algorithm: JwtAlgorithm,
    key_use: KeyUse,
    /// Present when the private key (or the HMAC secret) is known.
    signer: Option<Signer>,
    decoding: DecodingKey,
    /// The public key for the JWKS; `None` for HMAC.
    public: Option<PublicKey>,
}

impl Key {
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.algorithm
    }

    pub fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }
}

/// A consistent set of keys, as loaded at one moment.
pub struct Ring {
    keys: Vec<Key>,
    signing: usize,
    /// The base64url JWS header of the tokens the signing key makes.
    header: String,
}

impl Ring {
    /// Checks the set (unique `kid`s, exactly one signing key with its private part) and proves the
    /// signing key signs what its own public key verifies.
    fn new(keys: Vec<Key>) -> Result<Ring, String> {
        for (index, key) in keys.iter().enumerate() {
            if let Some(kid) = &key.kid
                && keys[..index].iter().any(|other| other.kid.as_ref() == Some(kid))
            {
                return Err(format!("kid {kid:?} is given to two keys"));
            }
        }
        let signers: Vec<usize> = (0..keys.len()).filter(|&i| keys[i].key_use == KeyUse::Sign).collect();
        let signing = match signers[..] {
            [one] => one,
            [] => return Err("no key has use = \"sign\": exactly one key must sign".into()),
            _ => {
                let kids: Vec<&str> = signers.iter().filter_map(|&i| keys[i].kid.as_deref()).collect();
                return Err(format!(
                    "several keys have use = \"sign\" ({}): exactly one key must sign",
                    kids.join(", ")
                ));
            }
        };
        let key = &keys[signing];
        let signer = key.signer.as_ref().ok_or("the signing key has no private key")?;
        let probe = b"imhotep key self-test";
        let signature = signer
            .sign(probe)
            .map_err(|e| format!("the signing key cannot sign: {e}"))?;
        if !jsonwebtoken::crypto::verify(&signature, probe, &key.decoding, key.algorithm.into()).unwrap_or(false) {
            return Err("the signing key's signature does not verify with its public key".into());
        }
        // PyJWT's header: keys sorted, no spaces; `kid` only when the key has one.
        let mut header = serde_json::Map::new();
        header.insert("alg".into(), json!(key.algorithm.name()));
        if let Some(kid) = &key.kid {
            header.insert("kid".into(), json!(kid));
        }
        header.insert("typ".into(), json!("JWT"));
        let header = URL_SAFE_NO_PAD.encode(Value::Object(header).to_string());
        Ok(Ring { keys, signing, header })
    }

    /// The key new tokens are signed with, its algorithm, and the base64url header they carry.
    pub fn signer(&self) -> (&Signer, JwtAlgorithm, &str) {
        let key = &self.keys[self.signing];
        // `Ring::new` refuses a signing key without its private part.
        let signer = key.signer.as_ref().expect("the signing key has a private key");
        (signer, key.algorithm, &self.header)
    }

    /// The signing key and the base64url header of the tokens it makes: a token whose header is
    /// these bytes names this key (its algorithm, and its `kid` when it has one).
    pub fn signing(&self) -> (&Key, &str) {
        (&self.keys[self.signing], &self.header)
    }

    /// The key a token with this header is checked against: the key with its `kid`; for a token
    /// without one (or with a `kid` no key has, when a key has none: SimpleJWT ignores `kid`), the
    /// signing key if its algorithm matches, else the single key of that algorithm.
    pub fn verifier(&self, kid: Option<&str>, algorithm: Algorithm) -> Option<&Key> {
        if let Some(kid) = kid
            && let Some(key) = self.keys.iter().find(|key| key.kid.as_deref() == Some(kid))
        {
            return Some(key);
        }
        let signing = &self.keys[self.signing];
        let has = |key: &Key| Algorithm::from(key.algorithm) == algorithm;
        if kid.is_some() {
            return (signing.kid.is_none() && has(signing)).then_some(signing);
        }
        if has(signing) {
            return Some(signing);
        }
        let mut same = self.keys.iter().filter(|key| has(key));
        match (same.next(), same.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    }

    /// The JWK Set (RFC 7517) of the public keys: every non-HMAC key, signing or verifying.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .filter_map(|key| {
                let public = key.public.as_ref()?;
                let mut jwk = serde_json::Map::new();
                jwk.insert("kid".into(), json!(key.kid));
                jwk.insert("use".into(), json!("sig"));
                jwk.insert("alg".into(), json!(key.algorithm.name()));
                jwk.extend(public.jwk_members());
                Some(Value::Object(jwk))
            })
            .collect();
        json!({ "keys": keys })
    }

    /// `kid:use` of every key, for the log line of a reload.
    pub fn summary(&self) -> String {
        self.keys
            .iter()
            .map(|key| {
                let kid = key.kid.as_deref().unwrap_or("(no kid)");
                let key_use = if key.key_use == KeyUse::Sign { "sign" } else { "verify" };
                format!("{kid}:{key_use}:{}", key.algorithm.name())
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The shared, reloadable ring. Cloning shares it; each sign or verify reads the current ring once.
#[derive(Clone)]
pub struct KeyRing {
    current: Arc<RwLock<Arc<Ring>>>,
    source: Arc<KeySource>,
}

impl KeyRing {
    /// Loads the keys the settings name. The message of an error names the setting (or file) at fault.
    pub fn load(settings: &Settings) -> Result<KeyRing, String> {
        let source = KeySource::from_settings(settings)?;
        let ring = source.load()?;
        Ok(KeyRing {
            current: Arc::new(RwLock::new(Arc::new(ring))),
            source: Arc::new(source),
        })
    }

    /// The ring as it is now.
    pub fn current(&self) -> Arc<Ring> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Whether anything can change on reload (`keys.dir` is set).
    pub fn reloadable(&self) -> bool {
        self.source.reloadable()
    }

    /// Reads the sources again and swaps the ring in when they make a valid one; otherwise keeps the
    /// current ring. `Ok(Some(summary))` when the keys changed. Blocking file I/O: call off the runtime.
    pub fn reload(&self) -> Result<Option<String>, String> {
        let ring = self.source.load()?;
        let summary = ring.summary();
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let changed = current.summary() != summary || current.jwks() != ring.jwks();
        *current = Arc::new(ring);
        Ok(changed.then_some(summary))
    }
}
