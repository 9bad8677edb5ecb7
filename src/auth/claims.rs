//! Claims computed from the user: SimpleJWT recipes' custom claims and `CHECK_REVOKE_TOKEN`'s
//! `hash_password`. They inform other services; authorization here always reads the database.

use md5::{Digest, Md5};
use serde_json::{Map, Value, json};

use crate::store::models::User;

/// SimpleJWT's `REVOKE_TOKEN_CLAIM`.
pub const REVOKE_CLAIM: &str = "hash_password";

/// Which user attributes go into tokens.
#[derive(Debug, Clone, Default)]
pub struct ClaimSettings {
    /// Names from `simple_jwt.extra_claims` (checked when the configuration loads).
    pub extra: Vec<String>,
    pub check_revoke_token: bool,
}

impl ClaimSettings {
    /// The claims for `user` as stored now.
    pub fn for_user(&self, user: &User) -> Map<String, Value> {
        let mut claims = Map::new();
        for name in &self.extra {
            let value = match name.as_str() {
                "email" => json!(user.email),
                "username" => json!(user.username),
                "first_name" => json!(user.first_name),
                "last_name" => json!(user.last_name),
                "full_name" => json!(format!("{} {}", user.first_name, user.last_name).trim()),
                "is_staff" => json!(user.is_staff),
                "is_superuser" => json!(user.is_superuser),
                _ => continue,
            };
            claims.insert(name.clone(), value);
        }
        if self.check_revoke_token {
            claims.insert(REVOKE_CLAIM.into(), json!(password_fingerprint(&user.password)));
        }
        claims
    }
}

/// Upper-case hex MD5 of the stored hash string, as SimpleJWT computes it.
pub fn password_fingerprint(stored_hash: &str) -> String {
    Md5::digest(stored_hash.as_bytes())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_simplejwts() {
        // hashlib.md5(b"pbkdf2_sha256$1$a$b").hexdigest().upper()
        assert_eq!(
            password_fingerprint("pbkdf2_sha256$1$a$b"),
            "D189514B36275B5C49334DB961F35162"
        );
    }
}
