//! A string that never shows itself in logs, `Debug` output or `imhotep check`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A configuration secret (keys, passwords, URLs with credentials).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is used, never to print.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"********\"" })
    }
}

impl Serialize for Secret {
    /// Serializes masked: the only serialization of settings is for display.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(if self.0.is_empty() { "" } else { "********" })
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::lenient::string(deserializer).map(Secret)
    }
}

/// Masks the password in a URL like `postgres://user:pw@host/db`.
pub fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:********@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_serialize_never_show_the_value() {
        let secret = Secret::new("hunter2-hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(!serde_json::to_string(&secret).unwrap().contains("hunter2"));
    }

    #[test]
    fn url_passwords_are_masked() {
        assert_eq!(mask_url("postgres://u:pw@h:5432/db"), "postgres://u:********@h:5432/db");
        assert_eq!(mask_url("sqlite://imhotep.db?mode=rwc"), "sqlite://imhotep.db?mode=rwc");
        assert_eq!(mask_url("postgres://u@h/db"), "postgres://u@h/db");
    }
}
