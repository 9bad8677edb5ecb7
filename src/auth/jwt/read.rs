//! Reading a decoded token's claims, from either of its two forms:
//! - [`Claims`], every claim in a map, for the paths that copy a token's claims into new tokens
//!   (refresh, and the refresh-token paths that share its decoding);
//! - [`KnownClaims`], only the claims imhotep itself reads, for the paths that only check a token
//!   (`jwt/verify/` and bearer authentication on every request). Its payload is parsed exactly as
//!   the map's, every value included, so it refuses exactly the payloads the map refuses; it just
//!   keeps eleven values in a fixed array instead of building a map (hashing every name) and looking
//!   names up in it. The decoder comparison (`jwt/tests.rs`) holds the two forms to the same answers.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::checks::FIELD_CLAIMS;
use super::{Claims, SESSION_CLAIM, TokenError, TokenType, UserIdClaim};
use crate::auth::claims::REVOKE_CLAIM;

/// The claims imhotep reads from a token it checks: the registered claims the checks read
/// ([`super::checks::ClaimChecks`]), SimpleJWT's `jti`, `token_type` and `user_id`, the session and
/// the revocation claim.
pub(super) const KNOWN: [&str; 11] = [
    "exp",
    "nbf",
    "iat",
    "iss",
    "aud",
    "sub",
    "jti",
    "token_type",
    "user_id",
    SESSION_CLAIM,
    REVOKE_CLAIM,
];

/// A decoded token's claims, by name, and SimpleJWT's readings of them.
pub trait ReadClaims {
    /// The value of claim `name`, if the token has it.
    fn claim(&self, name: &str) -> Option<&Value>;

    fn jti(&self) -> Option<&str> {
        self.claim("jti").and_then(Value::as_str)
    }

    /// The `sid` claim: the session of an imhotep token (`None` for tokens minted elsewhere).
    fn session_id(&self) -> Option<&str> {
        self.claim(SESSION_CLAIM).and_then(Value::as_str)
    }

    fn user_id(&self) -> UserIdClaim {
        match self.claim("user_id") {
            None => UserIdClaim::Missing,
            Some(Value::String(text)) => text.parse().map_or(UserIdClaim::Unusable, UserIdClaim::Id),
            Some(Value::Number(number)) => number.as_i64().map_or(UserIdClaim::Unusable, UserIdClaim::Id),
            Some(_) => UserIdClaim::Unusable,
        }
    }

    /// SimpleJWT's `Token.verify()` after decoding: a `jti`, then the right `token_type`.
    fn verify_type(&self, expected: TokenType) -> Result<(), TokenError> {
        if self.jti().is_none() {
            return Err(TokenError::NoId);
        }
        match self.claim("token_type").and_then(Value::as_str) {
            None => Err(TokenError::NoType),
            Some(kind) if kind == expected.as_str() => Ok(()),
            Some(_) => Err(TokenError::WrongType),
        }
    }

    /// Whether `token_type` is exactly `kind`.
    fn is_of_type(&self, kind: TokenType) -> bool {
        self.claim("token_type").and_then(Value::as_str) == Some(kind.as_str())
    }
}

impl ReadClaims for Claims {
    fn claim(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }
}

/// The claims of [`KNOWN`] of a token whose signature and lifetime were checked; any other claim
/// was parsed and dropped.
#[derive(Debug, Default)]
pub struct KnownClaims([Option<Value>; KNOWN.len()]);

impl ReadClaims for KnownClaims {
    /// `None` for a name outside [`KNOWN`] too.
    fn claim(&self, name: &str) -> Option<&Value> {
        let index = KNOWN.iter().position(|known| *known == name)?;
        self.0[index].as_ref()
    }
}

/// A JSON object with no `exp`, `nbf`, `sub`, `iss` or `aud` named twice (later names win, as in a
/// map parsed by serde_json).
impl<'de> Deserialize<'de> for Claims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;

        impl<'de> Visitor<'de> for Entries {
            type Value = Claims;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Claims, A::Error> {
                let mut claims = Map::new();
                while let Some((name, value)) = entries.next_entry::<String, Value>()? {
                    if FIELD_CLAIMS.contains(&name.as_str()) && claims.contains_key(&name) {
                        return Err(duplicate(&name));
                    }
                    claims.insert(name, value);
                }
                Ok(Claims(claims))
            }
        }

        deserializer.deserialize_map(Entries)
    }
}

/// A JSON object as a [`Claims`] map would hold it (no `exp`, `nbf`, `sub`, `iss` or `aud` named
/// twice; later names win), keeping only the [`KNOWN`] values.
impl<'de> Deserialize<'de> for KnownClaims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;

        impl<'de> Visitor<'de> for Entries {
            type Value = KnownClaims;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<KnownClaims, A::Error> {
                let mut claims = KnownClaims::default();
                while let Some(Name(name)) = entries.next_key::<Name<'de>>()? {
                    // Every value is parsed as the map parses it, so the same payloads are refused.
                    let value: Value = entries.next_value()?;
                    let Some(index) = KNOWN.iter().position(|known| *known == name) else {
                        continue;
                    };
                    let slot = &mut claims.0[index];
                    if slot.is_some() && FIELD_CLAIMS.contains(&name.as_ref()) {
                        return Err(duplicate(&name));
                    }
                    *slot = Some(value);
                }
                Ok(claims)
            }
        }

        deserializer.deserialize_map(Entries)
    }
}

fn duplicate<E: de::Error>(name: &str) -> E {
    E::custom(format_args!("duplicate claim {name}"))
}

/// A claim's name, borrowed from the payload unless it holds an escape.
struct Name<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;

        impl<'de> Visitor<'de> for Text {
            type Value = Name<'de>;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a claim name")
            }

            fn visit_borrowed_str<E: de::Error>(self, name: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(name)))
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(name.to_owned())))
            }
        }

        deserializer.deserialize_str(Text)
    }
}
