//! Minting and forging JWTs with the test `SECRET_KEY`, as an attacker or another service would.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::SECRET_KEY;

/// Signs `claims` with HS256 under `key`, with a PyJWT-style header.
pub fn sign_with(claims: &Value, key: &str) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// Signs `claims` with the server's key.
pub fn sign(claims: &Value) -> String {
    sign_with(claims, SECRET_KEY)
}

/// Claims of a valid access token for `user_id`, to modify before signing.
pub fn access_claims(user_id: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"token_type": "access", "exp": now + 300, "iat": now, "jti": uuid::Uuid::new_v4().simple().to_string(), "user_id": user_id.to_string()})
}

/// Claims of a valid refresh token for `user_id`.
pub fn refresh_claims(user_id: i64) -> Value {
    let mut claims = access_claims(user_id);
    claims["token_type"] = json!("refresh");
    claims
}

/// The decoded payload of a token (no verification).
pub fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64")).expect("json")
}

/// The raw JSON header text of a token.
pub fn header_text(token: &str) -> String {
    let part = token.split('.').next().expect("header");
    String::from_utf8(URL_SAFE_NO_PAD.decode(part).expect("base64")).expect("utf-8")
}
