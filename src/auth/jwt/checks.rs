//! The claim checks of a token's payload, parsed once: what `jsonwebtoken::decode` (11.x) refuses,
//! refused for the same reason, plus PyJWT's `iat` check. jsonwebtoken parses the payload twice
//! (once into the caller's type, once into its own `ClaimsForValidation`); parsing it once
//! (`super::read`) and reading the registered claims from there took that second parse off every
//! request.
//! The `same_answer_as_jsonwebtoken_*` tests (`jwt/tests.rs`) hold this module to jsonwebtoken's answers.

use chrono::Utc;
use serde_json::Value;

use super::TokenError;
use super::read::ReadClaims;

/// The registered claims jsonwebtoken reads into fields of its own struct, where a second
/// occurrence of the name makes the whole payload unreadable.
pub(super) const FIELD_CLAIMS: [&str; 5] = ["exp", "nbf", "sub", "iss", "aud"];

/// What a token's claims must satisfy besides its signature.
#[derive(Debug, Clone)]
pub(super) struct ClaimChecks {
    /// Seconds of clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: u64,
    /// The `aud` a token must name (when set), and the one tokens made here carry.
    pub audience: Option<String>,
    /// The `iss` a token must name (when set), and the one tokens made here carry.
    pub issuer: Option<String>,
}

/// A time claim as jsonwebtoken reads it: a whole number of seconds ≥ 0, or a finite
/// non-negative float rounded to one; anything else present is unreadable.
enum Seconds {
    Absent,
    Unreadable,
    At(u64),
}

fn seconds(value: Option<&Value>) -> Seconds {
    let Some(value) = value else {
        return Seconds::Absent;
    };
    let Value::Number(number) = value else {
        return Seconds::Unreadable;
    };
    if let Some(whole) = number.as_u64() {
        return Seconds::At(whole);
    }
    match number.as_f64() {
        Some(float) if number.is_f64() && float.is_finite() && float >= 0.0 && float < u64::MAX as f64 => {
            Seconds::At(float.round() as u64)
        }
        _ => Seconds::Unreadable,
    }
}

/// Whether jsonwebtoken's struct parse of the payload fails on this claim's value, which leaves
/// its parser mid-value: an `exp` or `nbf` that is a non-empty array or object, a `sub` that is
/// any array or object.
fn breaks_the_parse(name: &str, value: &Value) -> bool {
    match (name, value) {
        ("exp" | "nbf", Value::Array(items)) => !items.is_empty(),
        ("exp" | "nbf", Value::Object(members)) => !members.is_empty(),
        ("sub", Value::Array(_) | Value::Object(_)) => true,
        _ => false,
    }
}

/// Whether an `iss` or `aud` value names `expected`: a string equal to it or an array of
/// strings holding it. Absent, `null` and values of other shapes are not checked (jsonwebtoken
/// skips what it cannot read), nor is anything when no value is expected.
fn names(value: Option<&Value>, expected: Option<&str>) -> bool {
    let Some(expected) = expected else {
        return true;
    };
    match value {
        Some(Value::String(name)) => name == expected,
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            items.iter().any(|item| item.as_str() == Some(expected))
        }
        _ => true,
    }
}

impl ClaimChecks {
    /// jsonwebtoken's checks in its order (an unreadable payload, `exp` required and readable,
    /// `nbf` readable, not expired, not before `nbf`, issuer, audience), then PyJWT's `iat`.
    pub fn check(&self, claims: &impl ReadClaims) -> Result<(), TokenError> {
        // Each of these names is held once (a payload naming one twice was refused).
        let breaking = ["exp", "nbf", "sub"]
            .into_iter()
            .any(|name| claims.claim(name).is_some_and(|value| breaks_the_parse(name, value)));
        if breaking {
            return Err(TokenError::Invalid);
        }
        let expires = match seconds(claims.claim("exp")) {
            Seconds::Absent => return Err(TokenError::NoExp),
            Seconds::Unreadable => return Err(TokenError::Invalid),
            Seconds::At(seconds) => seconds,
        };
        let not_before = match seconds(claims.claim("nbf")) {
            Seconds::Absent => None,
            Seconds::Unreadable => return Err(TokenError::Invalid),
            Seconds::At(seconds) => Some(seconds),
        };
        let now = Utc::now().timestamp();
        let unsigned_now = u64::try_from(now).unwrap_or(0);
        if expires < unsigned_now.saturating_sub(self.leeway) {
            return Err(TokenError::Expired);
        }
        if not_before.is_some_and(|not_before| not_before > unsigned_now.saturating_add(self.leeway)) {
            return Err(TokenError::Invalid);
        }
        if !names(claims.claim("iss"), self.issuer.as_deref()) || !names(claims.claim("aud"), self.audience.as_deref())
        {
            return Err(TokenError::Invalid);
        }
        self.check_issued_at(claims, now)
    }

    /// PyJWT's `iat` check, which jsonwebtoken does not make: an integer (a numeric string passes
    /// `int()`) not in the future.
    pub fn check_issued_at(&self, claims: &impl ReadClaims, now: i64) -> Result<(), TokenError> {
        let Some(iat) = claims.claim("iat") else {
            return Ok(());
        };
        let iat = iat
            .as_i64()
            .or_else(|| iat.as_str().and_then(|text| text.trim().parse().ok()))
            .ok_or(TokenError::Invalid)?;
        if iat > now.saturating_add(self.leeway as i64) {
            return Err(TokenError::Invalid);
        }
        Ok(())
    }
}
