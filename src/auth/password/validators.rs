//! The password policy: Django's four default `AUTH_PASSWORD_VALIDATORS`, run in Django's order
//! with Django's messages, every failure reported together.

use super::common_passwords::is_common;
use super::python_chars::is_digit;
use super::similarity::{UserAttributes, too_similar_attribute};

/// Which of Django's default validators run, and with what settings. The default is what
/// `django-admin startproject` writes into `settings.py`.
#[derive(Clone, Debug)]
pub struct PasswordPolicy {
    /// `MinimumLengthValidator`: fewest code points allowed; 0 disables the check.
    pub min_length: usize,
    /// `UserAttributeSimilarityValidator` threshold (difflib `quick_ratio`). Django refuses
    /// values below 0.1 at startup; configuration should too.
    pub max_similarity: f64,
    /// Run `UserAttributeSimilarityValidator`.
    pub check_similarity: bool,
    /// Run `CommonPasswordValidator` (Django's list of 19 640 passwords).
    pub check_common: bool,
    /// Run `NumericPasswordValidator`.
    pub check_numeric: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_similarity: 0.7,
            check_similarity: true,
            check_common: true,
            check_numeric: true,
        }
    }
}

impl PasswordPolicy {
    /// Returns every failing message (empty = acceptable). `user` is None where Django validates
    /// against an anonymous user (similarity skipped). `password` is taken as the client sent it
    /// after DRF's whitespace trimming; nothing here normalises it.
    pub fn validate(&self, password: &str, user: Option<&UserAttributes<'_>>) -> Vec<String> {
        let mut errors = Vec::new();
        if let Some(user) = user.filter(|_| self.check_similarity)
            && let Some(verbose_name) = too_similar_attribute(password, user, self.max_similarity)
        {
            errors.push(format!("The password is too similar to the {verbose_name}."));
        }
        if password.chars().count() < self.min_length {
            errors.push(too_short_message(self.min_length));
        }
        if self.check_common && is_common(password) {
            errors.push("This password is too common.".to_owned());
        }
        if self.check_numeric && is_entirely_numeric(password) {
            errors.push("This password is entirely numeric.".to_owned());
        }
        errors
    }
}

/// Django's `ngettext` message: English has a singular only for exactly one.
fn too_short_message(min_length: usize) -> String {
    let noun = if min_length == 1 { "character" } else { "characters" };
    format!("This password is too short. It must contain at least {min_length} {noun}.")
}

/// Python's `password.isdigit()`: false for the empty string.
fn is_entirely_numeric(password: &str) -> bool {
    !password.is_empty() && password.chars().all(is_digit)
}

#[cfg(test)]
mod tests;
