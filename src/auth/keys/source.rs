//! Where keys come from: SimpleJWT's single-key settings (`simple_jwt.algorithm`, `signing_key`,
//! `verifying_key`), the `[[keys.list]]` entries, and the PEM files of `keys.dir`
//! (`<kid>.sign.pem`, `<kid>.verify.pem`). Every error names the setting or file it is about.

use std::path::{Path, PathBuf};

use jsonwebtoken::DecodingKey;

use super::pem::{PrivateKey, PublicKey};
use super::signer::Signer;
use super::{Key, Ring};
use crate::config::{JwtAlgorithm, KeyUse, Secret, Settings};

/// One key as configured, before its text is read.
struct Spec {
    /// `simple_jwt` or `keys.list[0]`: the prefix of the settings named in errors.
    origin: String,
    kid: Option<String>,
    algorithm: JwtAlgorithm,
    key_use: KeyUse,
    signing: Option<Secret>,
    verifying: Option<Secret>,
}

/// The configured sources, kept to be read again on reload.
pub struct KeySource {
    specs: Vec<Spec>,
    dir: Option<PathBuf>,
    /// The algorithm of RSA keys found in `keys.dir`.
    dir_rsa_algorithm: JwtAlgorithm,
}

impl KeySource {
    pub fn from_settings(settings: &Settings) -> Result<KeySource, String> {
        let jwt = &settings.simple_jwt;
        let set = |value: &Option<Secret>| value.clone().filter(|secret| !secret.is_empty());
        let algorithm = jwt.algorithm;
        if !settings.keys.configured() {
            let spec = if algorithm.is_hmac() {
                if set(&jwt.verifying_key).is_some() {
                    return Err(format!(
                        "simple_jwt.verifying_key is set but {algorithm} verifies with the signing key; \
                         set simple_jwt.algorithm to RS256, ES256, EdDSA... to use a key pair"
                    ));
                }
                Spec {
                    origin: "simple_jwt".into(),
                    kid: None,
                    algorithm,
                    key_use: KeyUse::Sign,
                    signing: Some(settings.signing_key().clone()),
                    verifying: None,
                }
            } else {
                Spec {
                    origin: "simple_jwt".into(),
                    kid: None,
                    algorithm,
                    key_use: KeyUse::Sign,
                    signing: Some(set(&jwt.signing_key).ok_or_else(|| {
                        format!(
                            "simple_jwt.signing_key is not set: {algorithm} signs with a private key (PEM text or \
                             file:PATH); SECRET_KEY serves only the HMAC algorithms"
                        )
                    })?),
                    verifying: set(&jwt.verifying_key),
                }
            };
            return Ok(KeySource {
                specs: vec![spec],
                dir: None,
                dir_rsa_algorithm: JwtAlgorithm::RS256,
            });
        }
        if set(&jwt.signing_key).is_some() || set(&jwt.verifying_key).is_some() {
            return Err(
                "simple_jwt.signing_key / simple_jwt.verifying_key cannot be combined with keys.list or \
                        keys.dir: give that key a kid in keys.list instead"
                    .into(),
            );
        }
        let mut specs = Vec::new();
        for (index, entry) in settings.keys.list.iter().enumerate() {
            let origin = format!("keys.list[{index}]");
            let kid = entry.kid.trim();
            check_kid(kid).map_err(|why| format!("{origin}.kid {kid:?}: {why}"))?;
            let algorithm = entry.algorithm;
            let signing = match set(&entry.signing_key) {
                None if algorithm.is_hmac() => Some(settings.secret_key.clone()),
                other => other,
            };
            specs.push(Spec {
                origin,
                kid: Some(kid.to_owned()),
                algorithm,
                key_use: entry.key_use,
                signing,
                verifying: set(&entry.verifying_key),
            });
        }
        Ok(KeySource {
            specs,
            dir: settings.keys.dir.clone(),
            dir_rsa_algorithm: if algorithm.is_rsa() {
                algorithm
            } else {
                JwtAlgorithm::RS256
            },
        })
    }

    pub fn reloadable(&self) -> bool {
        self.dir.is_some()
    }

    /// Reads every key (files included) and makes the ring.
    pub fn load(&self) -> Result<Ring, String> {
        let mut keys = Vec::new();
        for spec in &self.specs {
            keys.push(configured_key(spec)?);
        }
        if let Some(dir) = &self.dir {
            keys.extend(directory_keys(dir, self.dir_rsa_algorithm)?);
        }
        Ring::new(keys).map_err(|why| match &self.dir {
            Some(dir) => format!("keys.list / keys.dir {}: {why}", dir.display()),
            None if self.specs.len() > 1 || self.specs.iter().any(|s| s.kid.is_some()) => format!("keys.list: {why}"),
            None => format!("simple_jwt: {why}"),
        })
    }
}

/// A `kid` safe in headers, file names and log lines.
fn check_kid(kid: &str) -> Result<(), &'static str> {
    let ok =
        !kid.is_empty() && kid.len() <= 128 && kid.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if ok {
        Ok(())
    } else {
        Err("a kid is 1-128 letters, digits, '-', '_', '.' or ':'")
    }
}

/// PEM text from a setting: `file:PATH` is read; literal `\n` sequences (one-line environment values)
/// become line breaks.
fn pem_text(value: &Secret, setting: &str) -> Result<String, String> {
    match value.expose().strip_prefix("file:") {
        Some(path) => std::fs::read_to_string(path.trim())
            .map_err(|error| format!("{setting}: cannot read {}: {}", path.trim(), error.kind())),
        None => Ok(value.expose().replace("\\n", "\n")),
    }
}

fn configured_key(spec: &Spec) -> Result<Key, String> {
    let (signing_name, verifying_name) = (
        format!("{}.signing_key", spec.origin),
        format!("{}.verifying_key", spec.origin),
    );
    let name = spec.algorithm.name();
    if spec.algorithm.is_hmac() {
        if spec.verifying.is_some() {
            return Err(format!(
                "{verifying_name}: {name} verifies with the signing key; remove it"
            ));
        }
        let secret = spec.signing.as_ref().map(Secret::expose).unwrap_or_default();
        if secret.is_empty() {
            return Err(format!("{signing_name}: {name} needs a secret"));
        }
        return Ok(Key {
            kid: spec.kid.clone(),
            algorithm: spec.algorithm,
            key_use: spec.key_use,
            signer: Some(Signer::hmac(secret.as_bytes(), spec.algorithm)),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            public: None,
        });
    }
    let private = match &spec.signing {
        Some(value) => {
            Some(PrivateKey::parse(&pem_text(value, &signing_name)?).map_err(|why| format!("{signing_name} {why}"))?)
        }
        None => None,
    };
    let given_public = match &spec.verifying {
        Some(value) => Some(
            PublicKey::parse(&pem_text(value, &verifying_name)?).map_err(|why| format!("{verifying_name} {why}"))?,
        ),
        None => None,
    };
    let public = match (&private, given_public) {
        (Some(private), Some(public)) if private.public() != public => {
            return Err(format!("{verifying_name} is not the public key of {signing_name}"));
        }
        (_, Some(public)) => public,
        (Some(private), None) => private.public(),
        (None, None) => {
            return Err(format!(
                "{signing_name} / {verifying_name}: {name} needs a private key (PEM text or file:PATH), or a public key \
                 for a key that only verifies"
            ));
        }
    };
    if spec.key_use == KeyUse::Sign && private.is_none() {
        return Err(format!(
            "{signing_name} is not set: the signing key needs its private key"
        ));
    }
    if !public.fits(spec.algorithm) {
        let setting = if private.is_some() {
            &signing_name
        } else {
            &verifying_name
        };
        return Err(format!(
            "{setting} is {}, which cannot be used for {name}{}",
            public.describe(),
            if matches!(public, PublicKey::Rsa(_)) {
                " (RSA keys need at least 2048 bits)"
            } else {
                ""
            }
        ));
    }
    key_from(
        spec.kid.clone(),
        spec.algorithm,
        spec.key_use,
        private,
        public,
        &signing_name,
    )
}

fn key_from(
    kid: Option<String>,
    algorithm: JwtAlgorithm,
    key_use: KeyUse,
    private: Option<PrivateKey>,
    public: PublicKey,
    setting: &str,
) -> Result<Key, String> {
    let signer = match &private {
        Some(private) => Some(
            Signer::new(private, algorithm).ok_or_else(|| format!("{setting}: this key cannot sign {algorithm}"))?,
        ),
        None => None,
    };
    Ok(Key {
        kid: Some(kid.unwrap_or_else(|| public.thumbprint())),
        algorithm,
        key_use,
        signer,
        decoding: public.decoding_key(),
        public: Some(public),
    })
}

/// The keys of `keys.dir`, in file-name order. Hidden files are skipped; any other file must be
/// `<kid>.sign.pem` or `<kid>.verify.pem`.
fn directory_keys(dir: &Path, rsa_algorithm: JwtAlgorithm) -> Result<Vec<Key>, String> {
    let shown = dir.display();
    let entries = std::fs::read_dir(dir).map_err(|error| format!("keys.dir {shown}: cannot read: {}", error.kind()))?;
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| format!("keys.dir {shown}: cannot read: {}", error.kind()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.path().is_file() {
            continue;
        }
        files.push((name, entry.path()));
    }
    files.sort();
    let mut keys = Vec::new();
    for (name, path) in files {
        let setting = format!("keys.dir file {}", path.display());
        let (kid, key_use) = if let Some(kid) = name.strip_suffix(".sign.pem") {
            (kid, KeyUse::Sign)
        } else if let Some(kid) = name.strip_suffix(".verify.pem") {
            (kid, KeyUse::Verify)
        } else {
            return Err(format!("{setting}: name it <kid>.sign.pem or <kid>.verify.pem"));
        };
        check_kid(kid).map_err(|why| format!("{setting}: {why}"))?;
        let text =
            std::fs::read_to_string(&path).map_err(|error| format!("{setting}: cannot read: {}", error.kind()))?;
        let (private, public) = match PrivateKey::parse(&text) {
            Ok(private) => {
                let public = private.public();
                (Some(private), public)
            }
            Err(_) if key_use == KeyUse::Verify => {
                (None, PublicKey::parse(&text).map_err(|why| format!("{setting} {why}"))?)
            }
            Err(why) => return Err(format!("{setting} {why}")),
        };
        let algorithm = public.default_algorithm(rsa_algorithm);
        if !public.fits(algorithm) {
            return Err(format!(
                "{setting} is {}, which imhotep does not sign with",
                public.describe()
            ));
        }
        keys.push(key_from(
            Some(kid.to_owned()),
            algorithm,
            key_use,
            private,
            public,
            &setting,
        )?);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests;
