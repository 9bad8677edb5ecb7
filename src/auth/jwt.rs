//! SimpleJWT-compatible JSON Web Tokens: the same header bytes (plus `kid` for keys that have one),
//! claim names, claim order and error messages, so Django services using SimpleJWT accept imhotep's
//! tokens and the reverse. The keys come from the key ring ([`super::keys`]), read once per token.

mod checks;
mod read;
#[cfg(test)]
mod tests;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeZone, Utc};
use jsonwebtoken::Algorithm;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use self::checks::ClaimChecks;
pub use self::read::{KnownClaims, ReadClaims};

use super::keys::KeyRing;
use crate::config::{JwtAlgorithm, SimpleJwtSettings};
use crate::store::models::{IssuedToken, TokenRecord};

/// The session claim imhotep adds to every token of a login (SimpleJWT ignores unknown claims).
pub const SESSION_CLAIM: &str = "sid";

/// Claims SimpleJWT sets itself; everything else in a refresh token is copied into the access tokens made from it.
const RESERVED_CLAIMS: [&str; 4] = ["token_type", "exp", "iat", "jti"];

/// `access` or `refresh`, the `token_type` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    Access,
    Refresh,
}

impl TokenType {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Access => "access",
            TokenType::Refresh => "refresh",
        }
    }
}

/// Why a token was refused, in SimpleJWT's cases (the HTTP layer answers each with SimpleJWT's message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Bad signature, algorithm, audience, issuer, `iat`, or not a JWT at all.
    #[error("invalid signature or claims")]
    Invalid,
    #[error("expired")]
    Expired,
    #[error("no exp claim")]
    NoExp,
    #[error("no jti claim")]
    NoId,
    #[error("no token_type claim")]
    NoType,
    #[error("wrong token_type")]
    WrongType,
    #[error("blacklisted")]
    Blacklisted,
}

/// The signing key failed to sign: a crypto backend fault (the key ring proved at load that its key
/// signs), answered 500 rather than with a token that has no signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signing a token with {algorithm:?} failed: {reason}")]
pub struct SigningError {
    algorithm: JwtAlgorithm,
    reason: String,
}

/// What the `user_id` claim holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserIdClaim {
    Missing,
    /// `"1"` (SimpleJWT ≥ 5.5.1) or `1` (older releases).
    Id(i64),
    /// Present but not an id of ours (`null`, `"abc"`): names nobody.
    Unusable,
}

/// A decoded token whose signature and lifetime were checked.
#[derive(Debug, Clone)]
pub struct Claims(Map<String, Value>);

impl Claims {
    fn timestamp(&self, claim: &str) -> Option<DateTime<Utc>> {
        let seconds = self
            .0
            .get(claim)
            .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))?;
        Utc.timestamp_opt(seconds, 0).single()
    }

    /// These claims as a refresh token's, after [`Self::verify_type`] accepted them as one.
    pub fn into_refresh(self) -> Result<RefreshClaims, TokenError> {
        self.verify_type(TokenType::Refresh)?;
        Ok(RefreshClaims(self))
    }
}

/// The claims of a refresh token: a `jti` and `token_type` `refresh` were checked. Only these
/// become [`TokenRecord`]s, the rows that are recorded as outstanding and the only rows the
/// blacklist can point at, so an access token's `jti` is never blacklisted (which lets
/// `jwt/verify` skip the lookup for access tokens).
#[derive(Debug, Clone)]
pub struct RefreshClaims(Claims);

impl std::ops::Deref for RefreshClaims {
    type Target = Claims;

    fn deref(&self) -> &Claims {
        &self.0
    }
}

impl RefreshClaims {
    /// The outstanding-token row for this token.
    pub fn record(&self) -> Result<TokenRecord, TokenError> {
        Ok(TokenRecord {
            jti: self.jti().ok_or(TokenError::NoId)?.to_owned(),
            user_id: match self.user_id() {
                UserIdClaim::Id(id) => Some(id),
                _ => None,
            },
            created_at: self.timestamp("iat").unwrap_or_else(Utc::now),
            expires_at: self.timestamp("exp").ok_or(TokenError::NoExp)?,
            session_id: self.session_id().map(str::to_owned),
            parent_jti: None,
        })
    }
}

/// A freshly signed refresh token and the row that records it as outstanding.
#[derive(Debug, Clone)]
pub struct IssuedRefresh {
    pub token: String,
    pub record: TokenRecord,
}

/// Signs and checks tokens with the keys of the key ring.
#[derive(Clone)]
pub struct TokenService {
    keys: KeyRing,
    /// PyJWT's checks of the claims (`exp`, `nbf`, `iat`, audience, issuer); its audience and
    /// issuer are also what the tokens made here name.
    checks: ClaimChecks,
    access_lifetime: Duration,
    refresh_lifetime: Duration,
}

impl TokenService {
    pub fn new(settings: &SimpleJwtSettings, keys: KeyRing) -> Result<Self, String> {
        let service = Self {
            keys,
            checks: ClaimChecks {
                leeway: settings.leeway.as_secs(),
                audience: settings.audience.clone(),
                issuer: settings.issuer.clone(),
            },
            access_lifetime: settings.access_token_lifetime,
            refresh_lifetime: settings.refresh_token_lifetime,
        };
        service.self_test()?;
        Ok(service)
    }

    /// The key ring, for the JWKS and for reloads.
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// One encode/decode round trip, so a broken crypto backend fails at start-up, not on a request.
    fn self_test(&self) -> Result<(), String> {
        let (issued, _) = self
            .login_pair(0, Map::new(), Utc::now())
            .map_err(|e| format!("JWT self-test failed: {e}"))?;
        let claims = self
            .decode(&issued.token)
            .map_err(|e| format!("JWT self-test failed: {e}"))?;
        claims
            .verify_type(TokenType::Refresh)
            .map_err(|e| format!("JWT self-test failed: {e}"))
    }

    /// A login's refresh token and its access token, sharing `iat` and claims.
    /// `extra` claims (custom claims, `hash_password`, then `sid`) follow `user_id` in both tokens.
    pub fn login_pair(
        &self,
        user_id: i64,
        extra: Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<(IssuedRefresh, String), SigningError> {
        let mut claims = Map::new();
        claims.insert("user_id".into(), json!(user_id.to_string()));
        claims.extend(extra);
        let access = self.sign(TokenType::Access, claims.clone(), now, self.access_lifetime)?;
        Ok((self.sign_refresh(claims, now)?, access))
    }

    /// The rotated successor of a refresh token: the same payload with a new `jti`, `iat` and `exp`,
    /// in session `sid` (added at the end when the token had none), recorded with its parent.
    pub fn rotate_refresh(
        &self,
        refresh: &Claims,
        sid: &str,
        now: DateTime<Utc>,
    ) -> Result<IssuedRefresh, SigningError> {
        let mut issued = self.sign_refresh(in_session(refresh, sid), now)?;
        issued.record.parent_jti = refresh.jti().map(str::to_owned);
        Ok(issued)
    }

    /// A token of `refresh`'s family signed again exactly as it was first issued: the payload of a
    /// rotation of `refresh` in session `sid`, with the stored `jti`, `iat` and `exp`. HMAC is
    /// deterministic, so the bytes are the same; the token itself is never stored.
    pub fn reissue_refresh(&self, refresh: &Claims, sid: &str, issued: &IssuedToken) -> Result<String, SigningError> {
        let mut claims = in_session(refresh, sid);
        claims.insert("jti".into(), json!(issued.jti));
        self.sign_at(
            TokenType::Refresh,
            claims,
            issued.created_at.timestamp(),
            issued.expires_at.timestamp(),
        )
    }

    /// An access token made from a refresh token, copying every claim but the reserved four.
    /// Its `exp` counts from `now` (SimpleJWT: from the refresh token's creation at login, from the request on refresh).
    /// `fresh` claims (recomputed from the user as stored now) replace the copied ones.
    pub fn access_for(
        &self,
        refresh: &Claims,
        fresh: Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<String, SigningError> {
        let mut claims = carried_claims(refresh);
        claims.extend(fresh);
        self.sign(TokenType::Access, claims, now, self.access_lifetime)
    }

    /// The `jti`, `iat` and `exp` of a refresh token issued `now`, to be recorded before it is
    /// signed (with [`Self::reissue_refresh`], byte for byte what [`Self::rotate_refresh`] signs).
    pub fn next_refresh(&self, now: DateTime<Utc>) -> IssuedToken {
        IssuedToken {
            jti: uuid::Uuid::new_v4().simple().to_string(),
            created_at: now,
            expires_at: Utc
                .timestamp_opt(expiry(now, self.refresh_lifetime), 0)
                .single()
                .unwrap_or(now),
        }
    }

    fn sign_refresh(&self, mut claims: Map<String, Value>, now: DateTime<Utc>) -> Result<IssuedRefresh, SigningError> {
        let issued = self.next_refresh(now);
        claims.insert("jti".into(), json!(issued.jti));
        let carried = Claims(claims.clone());
        let user_id = match carried.user_id() {
            UserIdClaim::Id(id) => Some(id),
            _ => None,
        };
        let session_id = carried.session_id().map(str::to_owned);
        let token = self.sign(TokenType::Refresh, claims, now, self.refresh_lifetime)?;
        Ok(IssuedRefresh {
            token,
            record: TokenRecord {
                session_id,
                jti: issued.jti,
                user_id,
                created_at: issued.created_at,
                expires_at: issued.expires_at,
                parent_jti: None,
            },
        })
    }

    /// Builds `{"token_type", "exp", "iat", "jti", <claims...>}` in SimpleJWT's order and signs it.
    fn sign(
        &self,
        kind: TokenType,
        claims: Map<String, Value>,
        now: DateTime<Utc>,
        lifetime: Duration,
    ) -> Result<String, SigningError> {
        self.sign_at(kind, claims, now.timestamp(), expiry(now, lifetime))
    }

    /// [`TokenService::sign`] with explicit `iat` and `exp`.
    fn sign_at(&self, kind: TokenType, claims: Map<String, Value>, iat: i64, exp: i64) -> Result<String, SigningError> {
        let mut payload = Map::new();
        payload.insert("token_type".into(), json!(kind.as_str()));
        payload.insert("exp".into(), json!(exp));
        payload.insert("iat".into(), json!(iat));
        let jti = claims
            .get("jti")
            .cloned()
            .unwrap_or_else(|| json!(uuid::Uuid::new_v4().simple().to_string()));
        payload.insert("jti".into(), jti);
        for (key, value) in claims {
            if !RESERVED_CLAIMS.contains(&key.as_str()) {
                payload.insert(key, value);
            }
        }
        if let Some(audience) = &self.checks.audience {
            payload.insert("aud".into(), json!(audience));
        }
        if let Some(issuer) = &self.checks.issuer {
            payload.insert("iss".into(), json!(issuer));
        }
        let ring = self.keys.current();
        let (key, algorithm, header) = ring.signer();
        let body = Value::Object(payload).to_string();
        let message = format!("{header}.{}", URL_SAFE_NO_PAD.encode(body));
        let signature = key
            .sign(message.as_bytes())
            .map_err(|reason| SigningError { algorithm, reason })?;
        Ok(format!("{message}.{signature}"))
    }

    /// Checks signature, algorithm, `exp`, `nbf`, `iat`, audience and issuer (PyJWT's checks), not the type.
    /// The answers are `jsonwebtoken::decode`'s, with the header and the payload each parsed once.
    pub fn decode(&self, token: &str) -> Result<Claims, TokenError> {
        self.decode_into(token)
    }

    /// [`Self::decode`], keeping only the claims imhotep reads: for the paths that check a token
    /// and copy none of its claims.
    pub fn decode_known(&self, token: &str) -> Result<KnownClaims, TokenError> {
        self.decode_into(token)
    }

    fn decode_into<C: DeserializeOwned + ReadClaims>(&self, token: &str) -> Result<C, TokenError> {
        // jsonwebtoken's split: a token with more than three parts has a header with a dot, which
        // is not base64url and never the signing key's.
        let (message, signature) = token.rsplit_once('.').ok_or(TokenError::Invalid)?;
        let (header, payload) = message.rsplit_once('.').ok_or(TokenError::Invalid)?;
        let ring = self.keys.current();
        let key = match ring.signing() {
            // The header of the tokens made here, byte for byte, which names the signing key:
            // nearly every token checked, spared parsing its header.
            (key, ours) if header == ours => key,
            _ => {
                let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
                ring.verifier(header.kid.as_deref(), header.alg)
                    .filter(|key| Algorithm::from(key.algorithm()) == header.alg)
                    .ok_or(TokenError::Invalid)?
            }
        };
        let algorithm = Algorithm::from(key.algorithm());
        if !jsonwebtoken::crypto::verify(signature, message.as_bytes(), key.decoding(), algorithm).unwrap_or(false) {
            return Err(TokenError::Invalid);
        }
        let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| TokenError::Invalid)?;
        let claims: C = serde_json::from_slice(&json).map_err(|_| TokenError::Invalid)?;
        self.checks.check(&claims)?;
        Ok(claims)
    }
}

/// The claims a rotation of `token` carries, in session `sid`.
fn in_session(token: &Claims, sid: &str) -> Map<String, Value> {
    let mut claims = carried_claims(token);
    claims.insert(SESSION_CLAIM.into(), json!(sid));
    claims
}

fn carried_claims(token: &Claims) -> Map<String, Value> {
    token
        .0
        .iter()
        .filter(|(k, _)| !RESERVED_CLAIMS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `exp` for a token made at `now`, in whole seconds as SimpleJWT writes it.
fn expiry(now: DateTime<Utc>, lifetime: Duration) -> i64 {
    now.timestamp()
        .saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX / 2))
}
