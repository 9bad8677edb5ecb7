//! TOTP (RFC 6238) the way authenticator apps speak it: HMAC-SHA-1, six digits, 30-second steps,
//! a 160-bit seed, one step of clock drift either way. Codes come from `totp-rs`; which step a code
//! was for is found here, so the caller can refuse a step that was already used.

use qrcode::QrCode;
use qrcode::render::svg;
use totp_rs::{Algorithm, Builder, Totp};

/// Seconds per step.
const STEP_SECONDS: u64 = 30;

/// RFC 4226 recommends 160 bits.
const SEED_BYTES: usize = 20;

/// Steps of drift accepted either side of the current one (RFC 6238 §5.2 recommends one).
const SKEW: u16 = 1;

/// What apps show.
const DIGITS: u8 = 6;

/// A fresh random seed.
pub fn new_seed() -> Result<Vec<u8>, getrandom::Error> {
    let mut seed = vec![0u8; SEED_BYTES];
    getrandom::fill(&mut seed)?;
    Ok(seed)
}

/// The seed as authenticator apps take it by hand: base32, no padding.
pub fn base32(seed: &[u8]) -> String {
    app_totp(seed, "", "account").secret().to_base32()
}

/// `otpauth://totp/Issuer:account?secret=...&issuer=Issuer`, what the QR code holds (empty if
/// `totp-rs` refuses the label, which the replacements in [`app_totp`] prevent).
pub fn otpauth_url(seed: &[u8], issuer: &str, account: &str) -> String {
    app_totp(seed, issuer, account).to_url().unwrap_or_else(|error| {
        tracing::warn!(%error, "no otpauth URL for this account");
        String::new()
    })
}

/// `text` as a QR code in an SVG document (dark modules on white, with the quiet zone).
pub fn qr_svg(text: &str) -> String {
    match QrCode::new(text.as_bytes()) {
        Ok(code) => code.render::<svg::Color<'_>>().min_dimensions(200, 200).build(),
        // An otpauth URL is far below a QR code's capacity (2953 bytes); only absurd input fails.
        Err(error) => {
            tracing::warn!(%error, "the otpauth URL does not fit a QR code");
            String::new()
        }
    }
}

/// The time step `code` is right for at Unix time `now` (the current step or one either side), or
/// `None`; `totp-rs` compares in constant time.
pub fn matching_step(seed: &[u8], code: &str, now: i64) -> Option<i64> {
    let now = u64::try_from(now).ok()?;
    let step = app_totp(seed, "", "account").check(code, now)?;
    i64::try_from(step).ok()
}

/// The apps' parameters. `:` separates issuer and account in the URL's label, so neither may hold one.
fn app_totp(seed: &[u8], issuer: &str, account: &str) -> Totp {
    let issuer = issuer.replace(':', " ");
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(SKEW)
        .with_step_duration(STEP_SECONDS)
        .with_secret(seed.to_vec())
        .with_issuer((!issuer.trim().is_empty()).then_some(issuer))
        .with_account_name(account.replace(':', " "))
        .build_noncompliant()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1: the seed is the ASCII "12345678901234567890". The RFC's codes
    /// have eight digits; a six-digit code is the same number modulo 10^6, its last six digits.
    #[test]
    fn codes_are_rfc_6238s() {
        let seed = b"12345678901234567890";
        let totp = Builder::new()
            .with_secret(seed.to_vec())
            .with_digits(8)
            .with_account_name("account")
            .build_noncompliant();
        let app = app_totp(seed, "", "account");
        for (time, eight_digits) in [
            (59_u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(totp.generate(time).to_string(), eight_digits, "T = {time}");
            assert_eq!(app.generate(time).to_string(), eight_digits[2..], "T = {time}");
            let step = i64::try_from(time / STEP_SECONDS).unwrap();
            assert_eq!(
                matching_step(seed, &eight_digits[2..], time as i64),
                Some(step),
                "T = {time}"
            );
        }
    }

    #[test]
    fn a_code_matches_its_step_and_its_neighbours_only() {
        let seed = new_seed().unwrap();
        let totp = app_totp(&seed, "", "account");
        let now = 1_700_000_000;
        let step = now / 30;
        let code = totp.generate(now as u64).to_string();
        assert_eq!(matching_step(&seed, &code, now), Some(step));
        assert_eq!(matching_step(&seed, &code, now + 30), Some(step), "one step late");
        assert_eq!(matching_step(&seed, &code, now - 30), Some(step), "one step early");
        let far = matching_step(&seed, &code, now + 90);
        assert!(far.is_none() || far != Some(step), "three steps late");
        assert_eq!(matching_step(&seed, "12345", now), None);
    }

    #[test]
    fn the_url_and_qr_code_carry_the_seed() {
        let seed = b"12345678901234567890";
        assert_eq!(base32(seed), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let url = otpauth_url(seed, "Imhotep: Test", "ada@example.com");
        assert!(url.starts_with("otpauth://totp/"), "{url}");
        assert!(url.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"), "{url}");
        assert!(url.contains("ada%40example.com"), "{url}");
        let svg = qr_svg(&url);
        assert!(
            svg.starts_with("<?xml") && svg.contains("<svg"),
            "{}",
            &svg[..80.min(svg.len())]
        );
    }
}
