//! The digests of old Django databases, verified so their users can log in once and be upgraded:
//! salted `md5$<salt>$<hex>` and `sha1$<salt>$<hex>` (digest of salt + password), and the unsalted
//! `<32 hex>` / `md5$$<hex>` (MD5) and `sha1$$<hex>` (SHA-1) that Django recognises by length.

use md5::Md5;
use sha1::{Digest, Sha1};

use super::{constant_time_eq, hex};

/// The hex digest of an unsalted MD5 hash, recognised as Django's `identify_hasher` does: 32
/// characters without `$`, or 37 starting with `md5$$`.
pub(super) fn unsalted_md5_digest(encoded: &str) -> Option<&str> {
    if encoded.len() == 32 && !encoded.contains('$') {
        Some(encoded)
    } else if encoded.len() == 37 {
        encoded.strip_prefix("md5$$")
    } else {
        None
    }
}

/// The hex digest of an unsalted SHA-1 hash: 46 characters starting with `sha1$$`.
pub(super) fn unsalted_sha1_digest(encoded: &str) -> Option<&str> {
    if encoded.len() == 46 {
        encoded.strip_prefix("sha1$$")
    } else {
        None
    }
}

pub(super) fn verify_unsalted_md5(password: &str, digest: &str) -> bool {
    constant_time_eq(hex(&Md5::digest(password.as_bytes())).as_bytes(), digest.as_bytes())
}

pub(super) fn verify_unsalted_sha1(password: &str, digest: &str) -> bool {
    constant_time_eq(hex(&Sha1::digest(password.as_bytes())).as_bytes(), digest.as_bytes())
}

/// `fields` is what follows `md5$`: `<salt>$<hex md5(salt + password)>`.
pub(super) fn verify_salted_md5(password: &str, fields: &str) -> Option<bool> {
    let (salt, expected) = fields.split_once('$')?;
    let digest = Md5::new().chain_update(salt).chain_update(password).finalize();
    Some(constant_time_eq(hex(&digest).as_bytes(), expected.as_bytes()))
}

/// `fields` is what follows `sha1$`: `<salt>$<hex sha1(salt + password)>`.
pub(super) fn verify_salted_sha1(password: &str, fields: &str) -> Option<bool> {
    let (salt, expected) = fields.split_once('$')?;
    let digest = Sha1::new().chain_update(salt).chain_update(password).finalize();
    Some(constant_time_eq(hex(&digest).as_bytes(), expected.as_bytes()))
}
