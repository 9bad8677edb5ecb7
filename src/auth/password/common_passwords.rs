//! Django's list of 19 640 common passwords (`django/contrib/auth/common-passwords.txt.gz` from
//! Django 5.2, already lower-cased), embedded in the binary and unpacked on first use.

use std::collections::HashSet;
use std::io::Read as _;
use std::sync::LazyLock;

use flate2::read::GzDecoder;

use super::python_chars::is_space;

static GZIPPED: &[u8] = include_bytes!("../../../assets/common-passwords.txt.gz");

static PASSWORDS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let mut text = String::new();
    // The input is a constant embedded at build time and checked by the tests below, so a
    // failure here is a build defect rather than something a request can cause.
    GzDecoder::new(GZIPPED)
        .read_to_string(&mut text)
        .expect("the embedded common-password list is valid gzipped UTF-8");
    text.lines()
        .map(|line| line.trim_matches(is_space).to_owned())
        .collect()
});

/// Whether Django's `CommonPasswordValidator` rejects `password`: its lower-cased, stripped form
/// is on the list.
pub(super) fn is_common(password: &str) -> bool {
    PASSWORDS.contains(password.to_lowercase().trim_matches(is_space))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_list_is_loaded() {
        assert_eq!(PASSWORDS.len(), 19_640);
    }

    #[test]
    fn listed_passwords_match_whatever_their_case_and_surrounding_space() {
        let common = ["123456", "password", "PassWord", "  qwerty\t", "\u{1c}iloveyou\u{1f}"];
        for password in common {
            assert!(is_common(password), "{password:?}");
        }
        let uncommon = [
            "correct horse battery staple",
            "Tr1cky-Horse-Battery-9",
            "pass word",
            "",
        ];
        for password in uncommon {
            assert!(!is_common(password), "{password:?}");
        }
    }
}
