//! Claims computed from the user: SimpleJWT recipes' custom claims and `CHECK_REVOKE_TOKEN`'s
//! `hash_password`. They inform other services; authorization here always reads the database.

use md5::{Digest, Md5};
use serde_json::{Map, Value, json};

use crate::config::ExtraClaim;
use crate::store::models::User;

/// SimpleJWT's `REVOKE_TOKEN_CLAIM`.
pub const REVOKE_CLAIM: &str = "hash_password";

/// Which user attributes go into tokens.
#[derive(Debug, Clone, Default)]
pub struct ClaimSettings {
    /// `simple_jwt.extra_claims`.
    pub extra: Vec<ExtraClaim>,
    pub check_revoke_token: bool,
}

impl ClaimSettings {
    /// The claims for `user` as stored now.
    pub fn for_user(&self, user: &User) -> Map<String, Value> {
        let mut claims = Map::new();
        for claim in &self.extra {
            let value = match claim {
                ExtraClaim::Email => json!(user.email),
                ExtraClaim::Username => json!(user.username),
                ExtraClaim::FirstName => json!(user.first_name),
                ExtraClaim::LastName => json!(user.last_name),
                ExtraClaim::FullName => json!(format!("{} {}", user.first_name, user.last_name).trim()),
                ExtraClaim::IsStaff => json!(user.is_staff),
                ExtraClaim::IsSuperuser => json!(user.is_superuser),
            };
            claims.insert(claim.name().to_owned(), value);
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
