//! [`Password`]: a plaintext password as a client or an operator typed it, on its way to the
//! validators and the hasher. Its `Debug` and `Display` never show it, so it cannot reach a log line
//! or an error message by accident, and a function taking one cannot be handed a hash, a token or an
//! e-mail address by a swapped argument.

use std::fmt;

/// A plaintext password. Any string is one (the validators judge it, with the user in view);
/// [`Password::expose`] is the only way to the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The text, for the validators and the hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(\"********\")")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_password() {
        let password = Password::new("Tr0ub4dor&3-horse");
        for shown in [
            format!("{password}"),
            format!("{password:?}"),
            format!("{:#?}", Some(&password)),
        ] {
            assert!(!shown.contains("Tr0ub4dor"), "{shown}");
        }
        assert_eq!(password.expose(), "Tr0ub4dor&3-horse");
    }
}
