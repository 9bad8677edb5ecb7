//! `[keys]`: several JWT keys with a `kid` each (`[[keys.list]]`) and a directory of PEM files re-read
//! while the server runs, for signing with public-key algorithms and rotating keys without a restart.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, de};

use super::{Secret, duration, lenient};

/// What a listed key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyUse {
    /// Signs new tokens (exactly one key) and verifies.
    Sign,
    /// Only verifies tokens signed earlier (or by another service).
    Verify,
}

/// One `[[keys.list]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// Goes into the `kid` header of the tokens it signs and into the JWKS.
    #[serde(deserialize_with = "lenient::string")]
    pub kid: String,
    /// `HS256`/`HS384`/`HS512`, `RS256`/`RS384`/`RS512`, `PS256`/`PS384`/`PS512`, `ES256`/`ES384` or `EdDSA`.
    pub algorithm: String,
    /// `sign` or `verify`.
    #[serde(rename = "use")]
    pub key_use: KeyUse,
    /// The private key as PEM text or `file:PATH`; for HMAC the secret (default: `SECRET_KEY`).
    #[serde(default)]
    pub signing_key: Option<Secret>,
    /// The public key as PEM text or `file:PATH` (derived from `signing_key` when absent).
    #[serde(default)]
    pub verifying_key: Option<Secret>,
}

/// `[keys]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeySettings {
    /// The key list. From the environment: a JSON array (`IMHOTEP_KEYS__LIST='[{"kid": ...}]'`).
    #[serde(deserialize_with = "entries")]
    pub list: Vec<KeyEntry>,
    /// A directory of `<kid>.sign.pem` (exactly one) and `<kid>.verify.pem` files, re-read on SIGHUP
    /// and every `reload_interval`; its keys join the list's.
    pub dir: Option<PathBuf>,
    /// How often `dir` is re-read; `0s` = only on SIGHUP.
    #[serde(with = "duration")]
    pub reload_interval: Duration,
}

impl Default for KeySettings {
    fn default() -> Self {
        Self {
            list: Vec::new(),
            dir: None,
            reload_interval: Duration::from_secs(60),
        }
    }
}

impl KeySettings {
    /// Whether keys are configured here rather than by `simple_jwt.algorithm`/`signing_key`.
    pub fn configured(&self) -> bool {
        !self.list.is_empty() || self.dir.is_some()
    }
}

/// A list of tables, or (from the environment) a string holding a JSON array of objects.
fn entries<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<KeyEntry>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Entries {
        List(Vec<KeyEntry>),
        Json(String),
    }
    match Entries::deserialize(deserializer)? {
        Entries::List(list) => Ok(list),
        Entries::Json(text) if text.trim().is_empty() => Ok(Vec::new()),
        // The error names the position only: the text may hold private keys.
        Entries::Json(text) => serde_json::from_str(&text).map_err(|error| {
            de::Error::custom(format!(
                "expected a JSON array of key objects (line {}, column {})",
                error.line(),
                error.column()
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_list_is_accepted_and_errors_do_not_echo_it() {
        #[derive(Deserialize)]
        struct Wrapper {
            #[serde(deserialize_with = "entries")]
            list: Vec<KeyEntry>,
        }
        let json = r#"{"list": "[{\"kid\": \"a\", \"algorithm\": \"EdDSA\", \"use\": \"sign\", \"signing_key\": \"file:/k.pem\"}]"}"#;
        let parsed: Wrapper = serde_json::from_str(json).unwrap();
        assert_eq!(parsed.list[0].kid, "a");
        assert_eq!(parsed.list[0].key_use, KeyUse::Sign);
        let bad = r#"{"list": "[{\"kid\": \"a\", \"signing_key\": \"-----BEGIN PRIVATE KEY----- MC4C"}"#;
        let error = serde_json::from_str::<Wrapper>(bad).err().unwrap().to_string();
        assert!(!error.contains("MC4C"), "{error}");
    }
}
