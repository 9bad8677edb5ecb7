//! Passwords: hashing and verification (imhotep's Argon2id plus the formats a Django user table
//! holds) and the password policy (Django's four default validators, messages included).
//!
//! Callers hash through [`PasswordHasher`], which keeps the expensive work off the async runtime,
//! and validate through [`PasswordPolicy`] before hashing anything new.

mod argon2id;
mod common_passwords;
mod django;
mod hasher;
mod plaintext;
mod python_chars;
mod similarity;
mod validators;
mod work_area;

pub use hasher::{HashError, PasswordHasher, Verification};
pub use plaintext::Password;
pub use similarity::UserAttributes;
pub use validators::PasswordPolicy;
