//! Django's `ScryptPasswordHasher`: `scrypt$<n>$<salt>$<r>$<p>$<base64 of 64 bytes>`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{canonical_number, constant_time_eq};

/// Django's output length.
const OUTPUT_LEN: usize = 64;
/// Refuse memory above 32 MiB (`128 * r * n` bytes): Django's default needs 16 MiB, and Python's
/// `hashlib.scrypt` with Django's `maxmem=0` refuses more than 32 MiB anyway.
const MAX_MEMORY: u64 = 32 * 1024 * 1024;
/// Refuse more than four times the work of Django's default (n=2^14, r=8, p=5): `n * r * p`.
const MAX_WORK: u64 = 4 * (1 << 14) * 8 * 5;

/// `fields` is what follows `scrypt$`. `None` when malformed or over-costly.
pub(super) fn verify(password: &str, fields: &str) -> Option<bool> {
    let mut fields = fields.splitn(5, '$');
    let (n, salt, r, p, expected) = (
        canonical_number(fields.next()?)?,
        fields.next()?,
        canonical_number(fields.next()?)?,
        canonical_number(fields.next()?)?,
        fields.next()?,
    );
    if n < 2 || !n.is_power_of_two() || r == 0 || p == 0 || salt.is_empty() {
        return None;
    }
    if 128u64.checked_mul(r)?.checked_mul(n)? > MAX_MEMORY || n.checked_mul(r)?.checked_mul(p)? > MAX_WORK {
        return None;
    }
    let log_n = u8::try_from(n.trailing_zeros()).ok()?;
    let params = scrypt::Params::new(log_n, u32::try_from(r).ok()?, u32::try_from(p).ok()?, OUTPUT_LEN).ok()?;
    let mut derived = [0u8; OUTPUT_LEN];
    scrypt::scrypt(password.as_bytes(), salt.as_bytes(), &params, &mut derived).ok()?;
    Some(constant_time_eq(
        STANDARD.encode(derived).as_bytes(),
        expected.as_bytes(),
    ))
}
