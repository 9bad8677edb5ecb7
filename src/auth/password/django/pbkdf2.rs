//! Django's `PBKDF2PasswordHasher` (`pbkdf2_sha256$<iterations>$<salt>$<base64>`, the default) and
//! `PBKDF2SHA1PasswordHasher` (`pbkdf2_sha1$...`, same layout, SHA-1 and a 20-byte output).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha1::Sha1;
use sha2::Sha256;

use super::{canonical_number, constant_time_eq};

/// Refuse iteration counts above this: one corrupt row must not pin a thread for minutes.
/// Django 5.2 uses 1 000 000 and Django 6.1 1 500 000.
const MAX_ITERATIONS: u64 = 10_000_000;

/// `fields` is what follows `pbkdf2_sha256$`. `None` when malformed or over-costly.
pub(super) fn verify_sha256(password: &str, fields: &str) -> Option<bool> {
    verify(password, fields, |password, salt, rounds| {
        pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password, salt, rounds).to_vec()
    })
}

/// `fields` is what follows `pbkdf2_sha1$`. `None` when malformed or over-costly.
pub(super) fn verify_sha1(password: &str, fields: &str) -> Option<bool> {
    verify(password, fields, |password, salt, rounds| {
        pbkdf2::pbkdf2_hmac_array::<Sha1, 20>(password, salt, rounds).to_vec()
    })
}

/// `fields` is `<iterations>$<salt>$<base64 hash>`; `derive(password, salt, rounds)` returns as
/// many bytes as its digest (Django's `dklen=None`).
fn verify(password: &str, fields: &str, derive: impl Fn(&[u8], &[u8], u32) -> Vec<u8>) -> Option<bool> {
    let mut fields = fields.splitn(3, '$');
    let (iterations, salt, expected) = (fields.next()?, fields.next()?, fields.next()?);
    let rounds = canonical_number(iterations)?;
    if rounds == 0 || rounds > MAX_ITERATIONS || salt.is_empty() {
        return None;
    }
    let derived = derive(password.as_bytes(), salt.as_bytes(), u32::try_from(rounds).ok()?);
    Some(constant_time_eq(
        STANDARD.encode(derived).as_bytes(),
        expected.as_bytes(),
    ))
}
