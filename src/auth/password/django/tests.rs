//! Django's hashers against hashes made by Django itself: the committed vectors of
//! `tests/fixtures/django_hashes.json` (how to regenerate them is in `tests/fixtures/django_hashes.py`)
//! and hand-picked malformed and over-costly strings.
use super::*;

const PASSWORD: &str = "Tr1cky-Horse-Battery-9";
const UNICODE_PASSWORD: &str = "pässwörd ✓ 密码";
const MATCH: Option<Verification> = Some(Verification::Match { needs_rehash: true });
const MISMATCH: Option<Verification> = Some(Verification::Mismatch);

fn verify(password: &str, encoded: &str) -> Option<Verification> {
    super::verify(password, encoded, &mut WorkArea::new())
}

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
        "bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuv",
        "argon2$",
        "argon2$argon2id$v=19$m=102400,t=2,p=8$REw2NXJPWmJQUHExRWRWZlRSUGxvOA",
        "unknown$salt$hash",
        "crypt$$ab1234567890",
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

/// One vector of `tests/fixtures/django_hashes.json`.
#[derive(serde::Deserialize)]
struct Vector {
    hasher: String,
    parameters: String,
    password: String,
    encoded: String,
}

fn vectors() -> Vec<Vector> {
    serde_json::from_str(include_str!("../../../../tests/fixtures/django_hashes.json")).expect("fixture parses")
}

#[test]
fn every_django_hasher_verifies_its_own_hashes_and_asks_for_a_rehash() {
    let vectors = vectors();
    let hashers: std::collections::BTreeSet<&str> = vectors.iter().map(|v| v.hasher.as_str()).collect();
    let expected = [
        "argon2",
        "bcrypt",
        "bcrypt_sha256",
        "md5",
        "pbkdf2_sha1",
        "pbkdf2_sha256",
        "scrypt",
        "sha1",
        "unsalted_md5",
        "unsalted_sha1",
    ];
    assert_eq!(hashers.into_iter().collect::<Vec<_>>(), expected);
    // Django's default of 1 000 000 PBKDF2 iterations takes seconds in unoptimised test builds:
    // one such vector per hasher is enough.
    let affordable =
        |v: &&Vector| !(v.hasher.starts_with("pbkdf2") && v.parameters == "default" && v.password != PASSWORD);
    for vector in vectors.iter().filter(affordable) {
        let what = format!("{} ({}) {:?}", vector.hasher, vector.parameters, vector.password);
        assert_eq!(verify(&vector.password, &vector.encoded), MATCH, "{what}");
    }
}

#[test]
fn django_hashes_refuse_other_passwords() {
    for vector in vectors()
        .iter()
        .filter(|v| !v.parameters.contains("default") || v.hasher.contains("md5"))
    {
        let wrong = format!("{}x", vector.password);
        assert_eq!(
            verify(&wrong, &vector.encoded),
            MISMATCH,
            "{} {}",
            vector.hasher,
            vector.parameters
        );
        assert_eq!(
            verify("", &vector.encoded),
            MISMATCH,
            "{} {}",
            vector.hasher,
            vector.parameters
        );
    }
}

#[test]
fn over_costly_or_non_canonical_parameters_compute_nothing() {
    let cases = [
        // bcrypt cost 15 and 31: double and 2^17 times the bound's work.
        "bcrypt_sha256$$2b$15$mqlqfPdcUj9WWdAZMrecH.ILvdeoAyX/Duq26EU49GyhAsrZ0KvL6",
        "bcrypt$$2b$31$Lz0cKrcUn1QPFymHLLnSMePsZst/fGylBQuiaAZx3gNlwetZrLEba",
        "bcrypt$$2b$3$Lz0cKrcUn1QPFymHLLnSMePsZst/fGylBQuiaAZx3gNlwetZrLEba",
        "bcrypt$$2c$04$Lz0cKrcUn1QPFymHLLnSMePsZst/fGylBQuiaAZx3gNlwetZrLEba",
        "bcrypt$$2b$04$short",
        // scrypt: 64 MiB of memory, p=1000, n not a power of two, non-canonical numbers.
        "scrypt$65536$sInEZt791ux2dgT4uoSWa7$8$1$N6bONFqwYzrtF6UUmbkx8+uSLomyxDuZz3mI/L3VHK0y13NDgdgoN2aMbEXL6mGX42SOquO22ta35hTvg1TGJQ==",
        "scrypt$16384$sInEZt791ux2dgT4uoSWa7$8$1000$N6bONFqwYzrtF6UUmbkx8+uSLomyxDuZz3mI/L3VHK0y13NDgdgoN2aMbEXL6mGX42SOquO22ta35hTvg1TGJQ==",
        "scrypt$1000$sInEZt791ux2dgT4uoSWa7$8$1$N6bONFqwYzrtF6UUmbkx8+uSLomyxDuZz3mI/L3VHK0y13NDgdgoN2aMbEXL6mGX42SOquO22ta35hTvg1TGJQ==",
        "scrypt$01024$sInEZt791ux2dgT4uoSWa7$8$1$N6bONFqwYzrtF6UUmbkx8+uSLomyxDuZz3mI/L3VHK0y13NDgdgoN2aMbEXL6mGX42SOquO22ta35hTvg1TGJQ==",
        "scrypt$1024$$8$1$N6bONFqwYzrtF6UUmbkx8+uSLomyxDuZz3mI/L3VHK0y13NDgdgoN2aMbEXL6mGX42SOquO22ta35hTvg1TGJQ==",
        "scrypt$1024$sInEZt791ux2dgT4uoSWa7$0$1$N6bONFqwYzrtF6UUmbkx8+uSLomyxDuZz3mI/L3VHK0y13NDgdgoN2aMbEXL6mGX42SOquO22ta35hTvg1TGJQ==",
        "scrypt$1024$sInEZt791ux2dgT4uoSWa7$8$1",
        // pbkdf2_sha1 above the iteration bound, or without a salt.
        "pbkdf2_sha1$99999999$qsTR7KT6DmSLrMjO2KXOg2$HM0BmoZpshF4ectdnEp8nuo27/w=",
        "pbkdf2_sha1$1000$$HM0BmoZpshF4ectdnEp8nuo27/w=",
        // Salted digests without their hash field.
        "md5$xtxjSnJQLjraE9jcHJYFNs",
        "sha1$salt",
    ];
    for encoded in cases {
        assert_eq!(verify(PASSWORD, encoded), None, "{encoded:?}");
    }
}

#[test]
fn unsalted_formats_are_recognised_by_length_like_django() {
    // 32 characters without `$` are unsalted MD5 even when they are not hex: they simply never match.
    assert_eq!(verify(PASSWORD, &"z".repeat(32)), MISMATCH);
    assert_eq!(verify(PASSWORD, &format!("md5$${}", "0".repeat(32))), MISMATCH);
    assert_eq!(verify(PASSWORD, &format!("sha1$${}", "0".repeat(40))), MISMATCH);
    assert_eq!(verify(PASSWORD, &"z".repeat(31)), None);
}
