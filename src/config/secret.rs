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

/// Masks the passwords in a URL: in the userinfo (`postgres://user:pw@host/db`) and in query
/// parameters whose name contains `password` (`?password=pw`, `&sslpassword=pw`), which sqlx reads too.
pub fn mask_url(url: &str) -> String {
    // The query starts after the userinfo, whose password may itself contain `?`.
    let after_userinfo = url.rfind('@').unwrap_or(0);
    let (address, query) = match url[after_userinfo..].find('?') {
        Some(at) => (&url[..after_userinfo + at], Some(&url[after_userinfo + at + 1..])),
        None => (url, None),
    };
    let mut masked = mask_userinfo(address);
    if let Some(query) = query {
        masked.push('?');
        let parameters: Vec<String> = query
            .split('&')
            .map(|parameter| match parameter.split_once('=') {
                Some((name, _)) if name.to_ascii_lowercase().contains("password") => format!("{name}=********"),
                _ => parameter.to_owned(),
            })
            .collect();
        masked.push_str(&parameters.join("&"));
    }
    masked
}

fn mask_userinfo(address: &str) -> String {
    let Some((scheme, rest)) = address.split_once("://") else {
        return address.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return address.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:********@{host}"),
        None => address.to_owned(),
    }
}

/// Serializes an optional credential that is not a secret to the program but should not be shown
/// either (`EMAIL_HOST_USER` is often an API token, as with Postmark): present or absent, never its value.
pub fn serialize_masked<S: Serializer>(value: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(_) => serializer.serialize_some("********"),
        None => serializer.serialize_none(),
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
        assert_eq!(
            mask_url("postgres://u@h/db?sslmode=require&password=hunter2&SSLPassword=x"),
            "postgres://u@h/db?sslmode=require&password=********&SSLPassword=********"
        );
        assert_eq!(
            mask_url("postgres://u:pw@h/db?password=hunter2"),
            "postgres://u:********@h/db?password=********"
        );
        assert_eq!(mask_url("postgres://u:p?w@h/db"), "postgres://u:********@h/db");
    }
}
