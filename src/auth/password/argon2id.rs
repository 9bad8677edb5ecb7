//! Argon2 PHC strings: hashing with imhotep's pinned parameters, verifying any stored Argon2 hash.
//!
//! Everything here is CPU- and memory-heavy and synchronous; callers run it through
//! [`super::PasswordHasher`], which keeps it off the async runtime and lends each running hash a
//! [`WorkArea`] that is reused from one hash to the next.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::password_hash::{self, try_generate_salt};
use argon2::{Algorithm, Argon2, Params, Version};

use super::Verification;
use super::work_area::WorkArea;

/// Memory cost in KiB (OWASP's first Argon2id recommendation).
const M_COST: u32 = 19_456;
/// Number of passes.
const T_COST: u32 = 2;
/// Degree of parallelism.
const P_COST: u32 = 1;
/// Tag length in bytes.
const OUTPUT_LEN: usize = 32;

/// Refuse to verify stored hashes costlier than this: a corrupt or hostile row must not make one
/// login allocate gigabytes (an allocation failure aborts the process) or spin for minutes.
/// Django's own Argon2 parameters (m=102400, t=2, p=8) are well inside these bounds.
const MAX_M_COST: u32 = 256 * 1024;
const MAX_T_COST: u32 = 32;
const MAX_P_COST: u32 = 64;

/// The parameters every new hash is made with: Argon2id v19, m=19456 KiB, t=2, p=1, 32-byte tag.
pub(super) const PARAMS: Params = match Params::new(M_COST, T_COST, P_COST, Some(OUTPUT_LEN)) {
    Ok(params) => params,
    Err(_) => panic!("the pinned Argon2 parameters are invalid"),
};

/// A hash with exactly the current parameters, of a password nobody knows. Verifying against it
/// costs the same as verifying a real user's hash.
pub(super) const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$\
    BBs6LiiWl1TseusYOV4SQg$AP2uzHMm/oXrGhvRNEzd5V8mHso3NCtvyUXzs/VoVNY";

/// Hashes `password` with a fresh 16-byte random salt into a `$argon2id$v=19$m=19456,t=2,p=1$...`
/// PHC string. Fails only if the system RNG does.
pub(super) fn hash(password: &str, area: &mut WorkArea) -> Result<String, password_hash::Error> {
    let salt = try_generate_salt()?;
    let mut tag = [0u8; OUTPUT_LEN];
    area.hash_into(
        &Argon2::new(Algorithm::Argon2id, Version::V0x13, PARAMS),
        password,
        &salt,
        &mut tag,
    )?;
    let encoded = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&PARAMS)?,
        salt: Some(Salt::new(&salt)?),
        hash: Some(Output::new(&tag)?),
    };
    Ok(encoded.to_string())
}

/// Verifies `password` against a PHC string `$argon2id$...`, `$argon2i$...` or `$argon2d$...`
/// made with any parameters. `None` when the string is malformed or over-costly (nothing was
/// computed); `Some(Mismatch)` when the hash was computed and differs.
pub(super) fn verify(password: &str, phc: &str, area: &mut WorkArea) -> Option<Verification> {
    let parsed = PasswordHash::new(phc).ok()?;
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return None;
    };
    let params = Params::try_from(&parsed).ok()?;
    if params.m_cost() > MAX_M_COST || params.t_cost() > MAX_T_COST || params.p_cost() > MAX_P_COST {
        return None;
    }
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
    let version = match parsed.version {
        Some(number) => Version::try_from(number).ok()?,
        None => Version::default(),
    };
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let computed = buffer.get_mut(..expected.len())?;
    let argon2 = Argon2::new(algorithm, version, params.clone());
    area.hash_into(&argon2, password, salt.as_ref(), computed).ok()?;
    // `Output`'s equality is constant-time.
    Some(if Output::new(computed).ok()? == *expected {
        Verification::Match {
            needs_rehash: !is_current(&parsed, &params),
        }
    } else {
        Verification::Mismatch
    })
}

/// Whether a verified hash was made exactly the way [`hash`] makes new ones.
fn is_current(parsed: &PasswordHash, params: &Params) -> bool {
    parsed.algorithm.as_str() == Algorithm::Argon2id.as_str()
        && parsed.version == Some(Version::V0x13 as u32)
        && params.m_cost() == M_COST
        && params.t_cost() == T_COST
        && params.p_cost() == P_COST
        && params.output_len() == Some(OUTPUT_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str = "Tr1cky-Horse-Battery-9";

    fn hash(password: &str) -> Result<String, password_hash::Error> {
        super::hash(password, &mut WorkArea::new())
    }

    fn verify(password: &str, phc: &str) -> Option<Verification> {
        super::verify(password, phc, &mut WorkArea::new())
    }

    #[test]
    fn new_hashes_use_the_pinned_parameters_and_verify_without_rehash() {
        let encoded = hash(PASSWORD).expect("hashing works");
        assert!(encoded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{encoded}");
        let salt = encoded.split('$').nth(4).expect("salt field");
        assert_eq!(salt.len(), 22, "16 salt bytes are 22 unpadded base64 chars");
        assert_eq!(
            verify(PASSWORD, &encoded),
            Some(Verification::Match { needs_rehash: false })
        );
        assert_eq!(verify("Tr1cky-Horse-Battery-8", &encoded), Some(Verification::Mismatch));
    }

    #[test]
    fn two_hashes_of_one_password_have_different_salts() {
        assert_ne!(hash(PASSWORD).ok(), hash(PASSWORD).ok());
    }

    #[test]
    fn dummy_hash_has_the_current_cost() {
        let parsed = PasswordHash::new(DUMMY_HASH).expect("dummy hash parses");
        let params = Params::try_from(&parsed).expect("dummy params are valid");
        assert!(is_current(&parsed, &params));
    }

    #[test]
    fn hashes_from_argon2_cffi_verify_and_flag_outdated_parameters() {
        let cases = [
            (
                "$argon2id$v=19$m=19456,t=2,p=1$nGgS5Z9R1IzWMkjk8/JOFQ$1B5OsYPqsYdxFdavzjp/q0N44k5mUo3L1QQsQbIeNQ4",
                false,
            ),
            (
                "$argon2id$v=19$m=4096,t=3,p=1$YqwDzVRbByciLxLxisCzew$XYkKTw93LvZ5lg2wIn7SdqfP0DHsIlANgiTEgRpIHYU",
                true,
            ),
            (
                "$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$swo+O+3f8VCZ4gfqCjkkXI2WbFGn1R0ycidAMV3jhhQ",
                true,
            ),
        ];
        for (encoded, needs_rehash) in cases {
            let expected = Some(Verification::Match { needs_rehash });
            assert_eq!(verify(PASSWORD, encoded), expected, "{encoded}");
            assert_eq!(verify("tr1cky-horse-battery-9", encoded), Some(Verification::Mismatch));
        }
    }

    #[test]
    fn one_work_area_serves_hashes_of_any_size_in_turn() {
        let mut area = WorkArea::new();
        let larger = Params::new(2 * M_COST, 1, 2, Some(OUTPUT_LEN)).expect("valid parameters");
        let larger = Argon2::new(Algorithm::Argon2id, Version::V0x13, larger);
        let mut tag = [0u8; OUTPUT_LEN];
        larger
            .hash_password_into(PASSWORD.as_bytes(), b"saltsaltsalt", &mut tag)
            .expect("hashing works");
        let encoded = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(larger.params()).expect("params"),
            salt: Some(Salt::new(b"saltsaltsalt").expect("salt")),
            hash: Some(Output::new(&tag).expect("tag")),
        }
        .to_string();
        let small = "$argon2id$v=19$m=4096,t=3,p=1$YqwDzVRbByciLxLxisCzew$XYkKTw93LvZ5lg2wIn7SdqfP0DHsIlANgiTEgRpIHYU";
        let own = super::hash(PASSWORD, &mut area).expect("hashing works");
        for _ in 0..2 {
            for (phc, needs_rehash) in [(own.as_str(), false), (small, true), (encoded.as_str(), true)] {
                let expected = Some(Verification::Match { needs_rehash });
                assert_eq!(super::verify(PASSWORD, phc, &mut area), expected, "{phc}");
                assert_eq!(super::verify("wrong", phc, &mut area), Some(Verification::Mismatch));
            }
        }
    }

    #[test]
    fn over_costly_or_malformed_strings_compute_nothing() {
        let cases = [
            "$argon2id$v=19$m=4194304,t=2,p=1$nGgS5Z9R1IzWMkjk8/JOFQ$1B5OsYPqsYdxFdavzjp/q0N44k5mUo3L1QQsQbIeNQ4",
            "$argon2id$v=19$m=19456,t=1000,p=1$nGgS5Z9R1IzWMkjk8/JOFQ$1B5OsYPqsYdxFdavzjp/q0N44k5mUo3L1QQsQbIeNQ4",
            "$argon2id$v=19$m=19456,t=2,p=1$nGgS5Z9R1IzWMkjk8/JOFQ$",
            "$argon2id$v=19$m=19456,t=2,p=1$nGgS5Z9R1IzWMkjk8/JOFQ",
            "$argon2id$v=19$m=19456,t=0,p=1$nGgS5Z9R1IzWMkjk8/JOFQ$1B5OsYPqsYdxFdavzjp/q0N44k5mUo3L1QQsQbIeNQ4",
            "$argon2id$v=99$m=19456,t=2,p=1$nGgS5Z9R1IzWMkjk8/JOFQ$1B5OsYPqsYdxFdavzjp/q0N44k5mUo3L1QQsQbIeNQ4",
            "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
            "$argon2id$",
            "$",
        ];
        for encoded in cases {
            assert_eq!(verify(PASSWORD, encoded), None, "{encoded}");
        }
    }
}
