//! `[keys]`: several JWT keys with a `kid` each (`[[keys.list]]`) and a directory of PEM files re-read
//! while the server runs, for signing with public-key algorithms and rotating keys without a restart.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, de};

use super::{JwtAlgorithm, Secret, duration, lenient};

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
    pub algorithm: JwtAlgorithm,
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

/// A list of tables, or (from the environment) a string holding a JSON array of objects. Errors name
/// the entry and, for an unknown `algorithm`, the name given; nothing else of an entry is echoed,
/// since an entry may hold a private key.
fn entries<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<KeyEntry>, D::Error> {
    let raw: Vec<serde_json::Value> = match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(text) if text.trim().is_empty() => return Ok(Vec::new()),
        serde_json::Value::String(text) => serde_json::from_str(&text).map_err(|error| {
            de::Error::custom(format!(
                "expected a JSON array of key objects (line {}, column {})",
                error.line(),
                error.column()
            ))
        })?,
        other => Vec::deserialize(other).map_err(|_| de::Error::custom("expected a list of key tables"))?,
    };
    raw.into_iter()
        .enumerate()
        .map(|(index, entry)| {
            if let Some(name) = entry.get("algorithm").and_then(serde_json::Value::as_str) {
                name.parse::<JwtAlgorithm>()
                    .map_err(|error| de::Error::custom(format!("keys.list[{index}].algorithm {error}")))?;
            }
            KeyEntry::deserialize(entry).map_err(|_| {
                de::Error::custom(format!(
                    "keys.list[{index}] is not a key entry: it has kid, algorithm, use, and signing_key or \
                     verifying_key, and nothing else"
                ))
            })
        })
        .collect()
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
        assert_eq!(parsed.list[0].algorithm, JwtAlgorithm::EdDSA);
        let bad = r#"{"list": "[{\"kid\": \"a\", \"signing_key\": \"-----BEGIN PRIVATE KEY----- MC4C"}"#;
        let error = serde_json::from_str::<Wrapper>(bad).err().unwrap().to_string();
        assert!(!error.contains("MC4C"), "{error}");
        let unknown = r#"{"list": "[{\"kid\": \"a\", \"algorithm\": \"RS257\", \"use\": \"sign\"}]"}"#;
        let error = serde_json::from_str::<Wrapper>(unknown).err().unwrap().to_string();
        assert!(
            error.starts_with("keys.list[0].algorithm \"RS257\" is not supported; use HS256"),
            "{error}"
        );
    }

    #[test]
    fn a_table_list_names_the_entry_of_an_error_without_echoing_it() {
        #[derive(Debug, Deserialize)]
        struct Wrapper {
            #[serde(deserialize_with = "entries")]
            #[allow(dead_code, reason = "only the error is looked at")]
            list: Vec<KeyEntry>,
        }
        let entry = |algorithm: &str, key_use: &str| serde_json::json!({"kid": "a", "algorithm": algorithm, "use": key_use, "signing_key": "MC4C-private"});
        let list = serde_json::json!({"list": [entry("EdDSA", "sign"), entry("RS257", "sign")]});
        let error = serde_json::from_value::<Wrapper>(list).unwrap_err().to_string();
        assert!(
            error.starts_with("keys.list[1].algorithm \"RS257\" is not supported"),
            "{error}"
        );
        let list = serde_json::json!({"list": [entry("EdDSA", "MC4C-private")]});
        let error = serde_json::from_value::<Wrapper>(list).unwrap_err().to_string();
        assert!(error.starts_with("keys.list[0] is not a key entry"), "{error}");
        assert!(!error.contains("MC4C"), "{error}");
    }
}
