//! Hash formats found in a Django user table, one module per family: PBKDF2 (`pbkdf2_sha256`,
//! Django's default, and `pbkdf2_sha1`), `argon2`, bcrypt (`bcrypt_sha256`, `bcrypt`), `scrypt`,
//! and the legacy digests of old databases (`md5`, `sha1`, `unsalted_md5`, `unsalted_sha1`).
//!
//! Each verifies like Django's hasher does (recompute the encoded string, compare in constant
//! time) and always asks for a rehash into imhotep's own format. Cost parameters read from a stored
//! hash are bounded, so a corrupt or hostile row cannot make one login take seconds.

mod bcrypt;
mod legacy;
mod pbkdf2;
mod scrypt;

use super::Verification;
use super::argon2id;
use super::work_area::WorkArea;

/// Verifies `password` against a Django-encoded hash. `None` when `encoded` is not one of the
/// Django formats or is malformed or over-costly (nothing was computed); `Some(Mismatch)` when
/// the hash was computed and differs.
pub(super) fn verify(password: &str, encoded: &str, area: &mut WorkArea) -> Option<Verification> {
    let matched = if let Some(digest) = legacy::unsalted_md5_digest(encoded) {
        legacy::verify_unsalted_md5(password, digest)
    } else if let Some(digest) = legacy::unsalted_sha1_digest(encoded) {
        legacy::verify_unsalted_sha1(password, digest)
    } else {
        let (algorithm, fields) = encoded.split_once('$')?;
        match algorithm {
            "argon2" => argon2id::verify(password, &format!("${fields}"), area)? != Verification::Mismatch,
            "pbkdf2_sha256" => pbkdf2::verify_sha256(password, fields)?,
            "pbkdf2_sha1" => pbkdf2::verify_sha1(password, fields)?,
            "bcrypt_sha256" => bcrypt::verify(password, fields, bcrypt::Input::Sha256Hex)?,
            "bcrypt" => bcrypt::verify(password, fields, bcrypt::Input::Raw)?,
            "scrypt" => scrypt::verify(password, fields)?,
            "md5" => legacy::verify_salted_md5(password, fields)?,
            "sha1" => legacy::verify_salted_sha1(password, fields)?,
            _ => return None,
        }
    };
    Some(if matched {
        Verification::Match { needs_rehash: true }
    } else {
        Verification::Mismatch
    })
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    a.len() == b.len() && std::hint::black_box(difference) == 0
}

/// Lower-case hex, as Python's `hexdigest()`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Parses a decimal number the way Django prints it with `%d`: Django recomputes the whole encoded
/// string and compares it, so a non-canonical number (`01000`, `+1000`) can never match.
fn canonical_number(text: &str) -> Option<u64> {
    let number: u64 = text.parse().ok()?;
    (number.to_string() == text).then_some(number)
}

#[cfg(test)]
mod tests;
