//! Hash formats found in a Django user table: `pbkdf2_sha256$...` (Django's default hasher) and
//! `argon2$...` (Django's `Argon2PasswordHasher`). Both verify like Django does and always ask for
//! a rehash into imhotep's own format.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::Sha256;

use super::{Verification, argon2id};

/// Refuse iteration counts above this: one corrupt row must not pin a thread for minutes.
/// Django 5.2 uses 1 000 000 and Django 6.1 1 500 000.
const MAX_ITERATIONS: u32 = 10_000_000;

/// Length of Django's PBKDF2-SHA256 output in bytes.
const PBKDF2_OUTPUT_LEN: usize = 32;

/// Verifies `password` against a Django-encoded hash. `None` when `encoded` is not one of the
/// Django formats handled here or is malformed (nothing was computed); `Some(Mismatch)` when the
/// hash was computed and differs.
pub(super) fn verify(password: &str, encoded: &str) -> Option<Verification> {
    let verification = if let Some(phc_without_dollar) = encoded.strip_prefix("argon2$") {
        argon2id::verify(password, &format!("${phc_without_dollar}"))?
    } else {
        verify_pbkdf2_sha256(password, encoded.strip_prefix("pbkdf2_sha256$")?)?
    };
    Some(match verification {
        Verification::Match { .. } => Verification::Match { needs_rehash: true },
        Verification::Mismatch => Verification::Mismatch,
    })
}

/// `fields` is `<iterations>$<salt>$<base64 hash>`. Django recomputes the whole encoded string and
/// compares it, so only a canonical iteration count (as `%d` prints it) can ever match.
fn verify_pbkdf2_sha256(password: &str, fields: &str) -> Option<Verification> {
    let mut fields = fields.splitn(3, '$');
    let (iterations, salt, expected) = (fields.next()?, fields.next()?, fields.next()?);
    let rounds: u32 = iterations.parse().ok()?;
    if rounds == 0 || rounds > MAX_ITERATIONS || rounds.to_string() != iterations || salt.is_empty() {
        return None;
    }
    let mut derived = [0u8; PBKDF2_OUTPUT_LEN];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt.as_bytes(), rounds, &mut derived);
    let computed = STANDARD.encode(derived);
    Some(if constant_time_eq(computed.as_bytes(), expected.as_bytes()) {
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

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str = "Tr1cky-Horse-Battery-9";
    const UNICODE_PASSWORD: &str = "pässwörd ✓ 密码";
    const MATCH: Option<Verification> = Some(Verification::Match { needs_rehash: true });
    const MISMATCH: Option<Verification> = Some(Verification::Mismatch);

    /// Made by Django 5.2.19's `make_password` with its defaults (1 000 000 iterations). Checked
    /// once only: the generic PBKDF2 loop is compiled without optimisation in test builds, where
    /// one check takes seconds (a fraction of a second in release builds).
    const DJANGO_DEFAULT: &str =
        "pbkdf2_sha256$1000000$rD8PwKhzszEx9Db0DTYuPd$9dfaQkla9x/BJgBYHTbQ1z+MPMoTVpuIk7lExKGHnQo=";

    #[test]
    fn django_default_pbkdf2_hash_verifies() {
        assert_eq!(verify(PASSWORD, DJANGO_DEFAULT), MATCH);
    }

    #[test]
    fn django_pbkdf2_hashes_verify_like_django() {
        let cheap = "pbkdf2_sha256$1000$xQ9sT2bV7kLm4nPz0aRcDe$zLkF/OgpZIQ0+R0QLZyXGU+13jHwjnwa5NH0r6qqcCs=";
        let unicode = "pbkdf2_sha256$1200$QbKv0aHn3sLw8ZtY1mRcXp$w0OdPO5Wt63rQKY316CP//Ttolt5WDgUWiv2eu08kjQ=";
        let cases = [
            (PASSWORD, cheap, MATCH),
            (UNICODE_PASSWORD, unicode, MATCH),
            ("tr1cky-horse-battery-9", cheap, MISMATCH),
            (" Tr1cky-Horse-Battery-9", cheap, MISMATCH),
            ("", cheap, MISMATCH),
            ("passwörd ✓ 密码", unicode, MISMATCH),
            // The hash without its base64 padding: Django compares the whole string.
            (PASSWORD, cheap.trim_end_matches('='), MISMATCH),
        ];
        for (password, encoded, expected) in cases {
            assert_eq!(verify(password, encoded), expected, "{password:?} against {encoded}");
        }
    }

    #[test]
    fn django_argon2_hashes_verify_and_always_need_rehash() {
        let made_by_django = "argon2$argon2id$v=19$m=102400,t=2,p=8$REw2NXJPWmJQUHExRWRWZlRSUGxvOA$lKnzwJR2W2Xsw4eygZOBABMjR5gSeNF6SlF49Gy9ybM";
        let unicode = "argon2$argon2id$v=19$m=102400,t=2,p=8$dVNYdWtpQ29CYjV1eWFsU1dIMDZXSg$Ot55k13nqpNfTeTxlOJRqCS96nqeEmqKhFsIrEf4vFg";
        let current_params =
            "argon2$argon2id$v=19$m=19456,t=2,p=1$nGgS5Z9R1IzWMkjk8/JOFQ$1B5OsYPqsYdxFdavzjp/q0N44k5mUo3L1QQsQbIeNQ4";
        assert_eq!(verify(PASSWORD, made_by_django), MATCH);
        assert_eq!(verify(UNICODE_PASSWORD, unicode), MATCH);
        assert_eq!(verify(PASSWORD, current_params), MATCH);
        assert_eq!(verify("Tr1cky-Horse-Battery-8", made_by_django), MISMATCH);
    }

    #[test]
    fn malformed_or_foreign_strings_compute_nothing() {
        let cases = [
            "",
            "!",
            "!Jv2p0wGq3xZk6mYtLrN8sBcDfH1aE4uW7iO9pQ5",
            "pbkdf2_sha256$",
            "pbkdf2_sha256$1000$xQ9sT2bV7kLm4nPz0aRcDe",
            "pbkdf2_sha256$0$xQ9sT2bV7kLm4nPz0aRcDe$zLkF/OgpZIQ0+R0QLZyXGU+13jHwjnwa5NH0r6qqcCs=",
            "pbkdf2_sha256$01000$xQ9sT2bV7kLm4nPz0aRcDe$zLkF/OgpZIQ0+R0QLZyXGU+13jHwjnwa5NH0r6qqcCs=",
            "pbkdf2_sha256$+1000$xQ9sT2bV7kLm4nPz0aRcDe$zLkF/OgpZIQ0+R0QLZyXGU+13jHwjnwa5NH0r6qqcCs=",
            "pbkdf2_sha256$-1$xQ9sT2bV7kLm4nPz0aRcDe$zLkF/OgpZIQ0+R0QLZyXGU+13jHwjnwa5NH0r6qqcCs=",
            "pbkdf2_sha256$99999999999$xQ9sT2bV7kLm4nPz0aRcDe$zLkF/OgpZIQ0+R0QLZyXGU+13jHwjnwa5NH0r6qqcCs=",
            "pbkdf2_sha256$1000$$zLkF/OgpZIQ0+R0QLZyXGU+13jHwjnwa5NH0r6qqcCs=",
            "pbkdf2_sha1$1000$xQ9sT2bV7kLm4nPz0aRcDe$zLkF/OgpZIQ0+R0QLZyXGU+13jHw",
            "bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuv",
            "argon2$",
            "argon2$argon2id$v=19$m=102400,t=2,p=8$REw2NXJPWmJQUHExRWRWZlRSUGxvOA",
            "md5$salt$hash",
        ];
        for encoded in cases {
            assert_eq!(verify(PASSWORD, encoded), None, "{encoded:?}");
        }
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
