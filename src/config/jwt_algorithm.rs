//! The JWT signing algorithms of `simple_jwt.algorithm` and `[[keys.list]] algorithm`, spelled as
//! SimpleJWT spells them. Parsed by serde when the configuration loads (an unknown name is a start-up
//! error naming the setting); the one mapping to jsonwebtoken's `Algorithm` is here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// A supported JWS algorithm.
#[allow(
    clippy::upper_case_acronyms,
    reason = "the JWS names (RFC 7518), as SimpleJWT spells them"
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JwtAlgorithm {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

impl JwtAlgorithm {
    /// Every algorithm.
    pub const ALL: [JwtAlgorithm; 12] = [
        JwtAlgorithm::HS256,
        JwtAlgorithm::HS384,
        JwtAlgorithm::HS512,
        JwtAlgorithm::RS256,
        JwtAlgorithm::RS384,
        JwtAlgorithm::RS512,
        JwtAlgorithm::PS256,
        JwtAlgorithm::PS384,
        JwtAlgorithm::PS512,
        JwtAlgorithm::ES256,
        JwtAlgorithm::ES384,
        JwtAlgorithm::EdDSA,
    ];

    /// The name in settings and in a JWS header's `alg`.
    pub fn name(self) -> &'static str {
        match self {
            JwtAlgorithm::HS256 => "HS256",
            JwtAlgorithm::HS384 => "HS384",
            JwtAlgorithm::HS512 => "HS512",
            JwtAlgorithm::RS256 => "RS256",
            JwtAlgorithm::RS384 => "RS384",
            JwtAlgorithm::RS512 => "RS512",
            JwtAlgorithm::PS256 => "PS256",
            JwtAlgorithm::PS384 => "PS384",
            JwtAlgorithm::PS512 => "PS512",
            JwtAlgorithm::ES256 => "ES256",
            JwtAlgorithm::ES384 => "ES384",
            JwtAlgorithm::EdDSA => "EdDSA",
        }
    }

    /// Whether this is an HMAC algorithm (signed and verified with one shared secret).
    pub fn is_hmac(self) -> bool {
        matches!(self, JwtAlgorithm::HS256 | JwtAlgorithm::HS384 | JwtAlgorithm::HS512)
    }

    /// Whether this algorithm signs with an RSA key.
    pub fn is_rsa(self) -> bool {
        matches!(
            self,
            JwtAlgorithm::RS256
                | JwtAlgorithm::RS384
                | JwtAlgorithm::RS512
                | JwtAlgorithm::PS256
                | JwtAlgorithm::PS384
                | JwtAlgorithm::PS512
        )
    }
}

impl From<JwtAlgorithm> for jsonwebtoken::Algorithm {
    fn from(algorithm: JwtAlgorithm) -> Self {
        use jsonwebtoken::Algorithm;
        match algorithm {
            JwtAlgorithm::HS256 => Algorithm::HS256,
            JwtAlgorithm::HS384 => Algorithm::HS384,
            JwtAlgorithm::HS512 => Algorithm::HS512,
            JwtAlgorithm::RS256 => Algorithm::RS256,
            JwtAlgorithm::RS384 => Algorithm::RS384,
            JwtAlgorithm::RS512 => Algorithm::RS512,
            JwtAlgorithm::PS256 => Algorithm::PS256,
            JwtAlgorithm::PS384 => Algorithm::PS384,
            JwtAlgorithm::PS512 => Algorithm::PS512,
            JwtAlgorithm::ES256 => Algorithm::ES256,
            JwtAlgorithm::ES384 => Algorithm::ES384,
            JwtAlgorithm::EdDSA => Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for JwtAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a name is not an algorithm; says which names are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not supported; use HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 or EdDSA"
)]
pub struct UnknownAlgorithm(String);

impl FromStr for JwtAlgorithm {
    type Err = UnknownAlgorithm;

    /// Exact names, surrounding white space ignored (environment values often carry some).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let trimmed = name.trim();
        JwtAlgorithm::ALL
            .into_iter()
            .find(|algorithm| algorithm.name() == trimmed)
            .ok_or_else(|| UnknownAlgorithm(name.to_owned()))
    }
}

impl Serialize for JwtAlgorithm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for JwtAlgorithm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_jsonwebtoken() {
        for algorithm in JwtAlgorithm::ALL {
            let parsed: JwtAlgorithm = serde_json::from_value(serde_json::json!(algorithm.name())).expect("parses");
            assert_eq!(parsed, algorithm);
            let theirs = jsonwebtoken::Algorithm::from_str(algorithm.name()).expect("jsonwebtoken knows it");
            assert_eq!(jsonwebtoken::Algorithm::from(algorithm), theirs);
        }
        assert_eq!(" RS256\n".parse(), Ok(JwtAlgorithm::RS256));
    }

    #[test]
    fn unknown_names_are_refused_with_the_supported_list() {
        for name in ["none", "hs256", "RS257", ""] {
            let error = name.parse::<JwtAlgorithm>().unwrap_err().to_string();
            assert!(
                error.starts_with(&format!("{name:?} is not supported; use HS256")),
                "{error}"
            );
            assert!(serde_json::from_value::<JwtAlgorithm>(serde_json::json!(name)).is_err());
        }
    }
}
