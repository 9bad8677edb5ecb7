//! Django's `BCryptSHA256PasswordHasher` (`bcrypt_sha256$$2b$<cost>$<salt+hash>`: bcrypt over the
//! hex SHA-256 of the password, so long passwords are not truncated) and `BCryptPasswordHasher`
//! (`bcrypt$$2b$...`: bcrypt over the password itself, truncated to 72 bytes as bcrypt does).

use sha2::{Digest, Sha256};

use super::hex;

/// Refuse costs above this: each step doubles the work, and cost 14 already takes about a second.
/// Django's default is 12.
const MAX_COST: u32 = 14;

/// What bcrypt is fed.
#[derive(Debug, Clone, Copy)]
pub(super) enum Input {
    /// The password's SHA-256 as lower-case hex (`bcrypt_sha256`).
    Sha256Hex,
    /// The password's UTF-8 bytes (`bcrypt`).
    Raw,
}

/// `fields` is what follows `bcrypt_sha256$` or `bcrypt$`: a modular-crypt bcrypt string
/// (`$2b$12$...`, also `$2a$`/`$2y$`). `None` when malformed or over-costly.
pub(super) fn verify(password: &str, fields: &str, input: Input) -> Option<bool> {
    let mut parts = fields.split('$');
    let (empty, variant, cost) = (parts.next()?, parts.next()?, parts.next()?);
    let cost: u32 = cost.parse().ok()?;
    if !empty.is_empty() || !["2a", "2b", "2y"].contains(&variant) || !(4..=MAX_COST).contains(&cost) {
        return None;
    }
    let result = match input {
        Input::Sha256Hex => bcrypt::verify(hex(&Sha256::digest(password.as_bytes())), fields),
        Input::Raw => bcrypt::verify(password.as_bytes(), fields),
    };
    result.ok()
}
