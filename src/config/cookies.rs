//! `[cookies]`: browser mode, with dj-rest-auth's `JWT_AUTH_*` setting names in lower case. Off
//! (no cookie at all) until `jwt_auth_refresh_cookie` names the refresh cookie.

use serde::{Deserialize, Serialize};

use super::{ConfigError, CorsSettings, lenient};

/// A cookie's `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SameSite {
    #[serde(alias = "lax", alias = "LAX")]
    Lax,
    #[serde(alias = "strict", alias = "STRICT")]
    Strict,
    #[serde(alias = "none", alias = "NONE")]
    None,
}

impl SameSite {
    /// The attribute's value as written in `Set-Cookie`.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        }
    }
}

/// `[cookies]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CookieSettings {
    /// `JWT_AUTH_COOKIE`: the access token's cookie (path `/`); unset = the access token stays in
    /// the body only.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub jwt_auth_cookie: Option<String>,
    /// `JWT_AUTH_REFRESH_COOKIE`: the refresh token's cookie; unset = browser mode off.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub jwt_auth_refresh_cookie: Option<String>,
    /// `JWT_AUTH_REFRESH_COOKIE_PATH`; unset = the longest path prefix shared by every path that
    /// serves `jwt_refresh`, `jwt_logout` and `jwt_blacklist` (`/api/auth/jwt/` without aliases).
    #[serde(deserialize_with = "lenient::opt_string")]
    pub jwt_auth_refresh_cookie_path: Option<String>,
    /// `JWT_AUTH_SECURE`; unset = `true` unless `DEBUG`.
    #[serde(deserialize_with = "lenient::opt_bool")]
    pub jwt_auth_secure: Option<bool>,
    /// `JWT_AUTH_HTTPONLY`: the cookies are out of JavaScript's reach, and `jwt/create` and
    /// `jwt/refresh` answer `"refresh": ""`.
    #[serde(deserialize_with = "lenient::bool")]
    pub jwt_auth_httponly: bool,
    /// `JWT_AUTH_SAMESITE`: `Lax`, `Strict` or `None` (which needs `secure`).
    pub jwt_auth_samesite: SameSite,
    /// `JWT_AUTH_COOKIE_DOMAIN`; unset = the host that answered.
    #[serde(deserialize_with = "lenient::opt_string")]
    pub jwt_auth_cookie_domain: Option<String>,
    /// `JWT_AUTH_RETURN_EXPIRATION`: add `access_expiration` and `refresh_expiration` (ISO 8601).
    #[serde(deserialize_with = "lenient::bool")]
    pub jwt_auth_return_expiration: bool,
    /// Name the cookies `__Host-<name>` (needs secure, path `/`, no domain).
    #[serde(deserialize_with = "lenient::bool")]
    pub host_prefix: bool,
    /// Serve the browser-mode demo page at `/api/auth/demo/`.
    #[serde(deserialize_with = "lenient::bool")]
    pub demo_page: bool,
}

impl Default for CookieSettings {
    fn default() -> Self {
        Self {
            jwt_auth_cookie: None,
            jwt_auth_refresh_cookie: None,
            jwt_auth_refresh_cookie_path: None,
            jwt_auth_secure: None,
            jwt_auth_httponly: true,
            jwt_auth_samesite: SameSite::Lax,
            jwt_auth_cookie_domain: None,
            jwt_auth_return_expiration: false,
            host_prefix: false,
            demo_page: false,
        }
    }
}

impl CookieSettings {
    /// Whether browser mode is on.
    pub fn enabled(&self) -> bool {
        self.jwt_auth_refresh_cookie.is_some()
    }

    /// `jwt_auth_secure`, or its default for `debug`.
    pub fn secure(&self, debug: bool) -> bool {
        self.jwt_auth_secure.unwrap_or(!debug)
    }

    /// The start-up checks: combinations a browser would silently refuse, or that would let any
    /// site use the cookies.
    pub fn check(&self, debug: bool, cors: &CorsSettings) -> Result<(), ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid(message));
        let Some(refresh) = &self.jwt_auth_refresh_cookie else {
            if self.jwt_auth_cookie.is_some() {
                return invalid("cookies.jwt_auth_cookie needs cookies.jwt_auth_refresh_cookie (browser mode)".into());
            }
            if self.demo_page {
                return invalid("cookies.demo_page needs cookies.jwt_auth_refresh_cookie (browser mode)".into());
            }
            return Ok(());
        };
        for (setting, name) in [
            ("cookies.jwt_auth_refresh_cookie", Some(refresh)),
            ("cookies.jwt_auth_cookie", self.jwt_auth_cookie.as_ref()),
        ] {
            if let Some(name) = name.filter(|name| !is_token(name)) {
                return invalid(format!(
                    "{setting}: {name:?} is not a cookie name (letters, digits and !#$%&'*+-.^_`|~ only)"
                ));
            }
        }
        if self.demo_page && self.jwt_auth_cookie.is_none() {
            return invalid(
                "cookies.demo_page needs cookies.jwt_auth_cookie: the page never holds a token, so the access \
                 token must travel in a cookie too"
                    .into(),
            );
        }
        if self.jwt_auth_cookie.as_ref() == Some(refresh) {
            return invalid("cookies.jwt_auth_cookie and cookies.jwt_auth_refresh_cookie must differ".into());
        }
        if let Some(path) = &self.jwt_auth_refresh_cookie_path
            && (!path.starts_with('/') || !path.chars().all(|c| c.is_ascii_graphic() && c != ';'))
        {
            return invalid(format!(
                "cookies.jwt_auth_refresh_cookie_path: {path:?} must be an absolute path without spaces or ';'"
            ));
        }
        if let Some(domain) = &self.jwt_auth_cookie_domain
            && !domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return invalid(format!("cookies.jwt_auth_cookie_domain: {domain:?} is not a host name"));
        }
        let secure = self.secure(debug);
        if self.jwt_auth_samesite == SameSite::None && !secure {
            return invalid(
                "cookies.jwt_auth_samesite = \"None\" needs cookies.jwt_auth_secure = true (browsers drop \
                 SameSite=None cookies that are not Secure)"
                    .into(),
            );
        }
        if self.host_prefix {
            if !secure {
                return invalid("cookies.host_prefix needs cookies.jwt_auth_secure = true".into());
            }
            if self.jwt_auth_cookie_domain.is_some() {
                return invalid("cookies.host_prefix forbids cookies.jwt_auth_cookie_domain".into());
            }
            if self.jwt_auth_refresh_cookie_path.as_deref() != Some("/") {
                return invalid("cookies.host_prefix needs cookies.jwt_auth_refresh_cookie_path = \"/\"".into());
            }
        }
        if cors.allowed_origins.iter().any(|origin| origin == "*") {
            return Err(ConfigError::Insecure(
                "cors.allowed_origins = [\"*\"] cannot be combined with cookies.jwt_auth_refresh_cookie: the \
                 cookie CSRF check trusts the listed origins, so list the exact ones"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// RFC 6265's cookie-name: an RFC 7230 token.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on() -> CookieSettings {
        CookieSettings {
            jwt_auth_refresh_cookie: Some("refresh".into()),
            ..CookieSettings::default()
        }
    }

    fn problem(settings: CookieSettings, debug: bool, cors: &CorsSettings) -> String {
        settings.check(debug, cors).unwrap_err().to_string()
    }

    #[test]
    fn off_by_default_and_on_with_a_refresh_cookie() {
        let cors = CorsSettings::default();
        assert!(!CookieSettings::default().enabled());
        assert!(CookieSettings::default().check(false, &cors).is_ok());
        assert!(on().enabled());
        assert!(on().check(false, &cors).is_ok());
        assert!(on().secure(false) && !on().secure(true));
    }

    #[test]
    fn unusable_combinations_are_refused_naming_the_setting() {
        let cors = CorsSettings::default();
        let cases = [
            (
                CookieSettings {
                    jwt_auth_cookie: Some("access".into()),
                    ..CookieSettings::default()
                },
                "cookies.jwt_auth_cookie needs",
            ),
            (
                CookieSettings {
                    demo_page: true,
                    ..CookieSettings::default()
                },
                "cookies.demo_page needs",
            ),
            (
                CookieSettings {
                    demo_page: true,
                    ..on()
                },
                "cookies.demo_page needs cookies.jwt_auth_cookie",
            ),
            (
                CookieSettings {
                    jwt_auth_refresh_cookie: Some("re fresh".into()),
                    ..CookieSettings::default()
                },
                "cookies.jwt_auth_refresh_cookie: \"re fresh\"",
            ),
            (
                CookieSettings {
                    jwt_auth_cookie: Some("refresh".into()),
                    ..on()
                },
                "must differ",
            ),
            (
                CookieSettings {
                    jwt_auth_refresh_cookie_path: Some("api/".into()),
                    ..on()
                },
                "cookies.jwt_auth_refresh_cookie_path",
            ),
            (
                CookieSettings {
                    jwt_auth_cookie_domain: Some("a.test; x".into()),
                    ..on()
                },
                "cookies.jwt_auth_cookie_domain",
            ),
            (
                CookieSettings {
                    jwt_auth_samesite: SameSite::None,
                    jwt_auth_secure: Some(false),
                    ..on()
                },
                "cookies.jwt_auth_samesite",
            ),
            (
                CookieSettings {
                    host_prefix: true,
                    jwt_auth_secure: Some(false),
                    jwt_auth_refresh_cookie_path: Some("/".into()),
                    ..on()
                },
                "cookies.host_prefix needs cookies.jwt_auth_secure",
            ),
            (
                CookieSettings {
                    host_prefix: true,
                    jwt_auth_refresh_cookie_path: Some("/".into()),
                    jwt_auth_cookie_domain: Some("example.test".into()),
                    ..on()
                },
                "cookies.host_prefix forbids",
            ),
            (
                CookieSettings {
                    host_prefix: true,
                    ..on()
                },
                "cookies.host_prefix needs cookies.jwt_auth_refresh_cookie_path",
            ),
        ];
        for (settings, expected) in cases {
            let message = problem(settings, false, &cors);
            assert!(message.contains(expected), "{expected}: {message}");
        }
        // SameSite=None is fine once secure, even in debug mode.
        let none = CookieSettings {
            jwt_auth_samesite: SameSite::None,
            jwt_auth_secure: Some(true),
            ..on()
        };
        assert!(none.check(true, &cors).is_ok());
        let host = CookieSettings {
            host_prefix: true,
            jwt_auth_refresh_cookie_path: Some("/".into()),
            ..on()
        };
        assert!(host.check(false, &cors).is_ok());
        let wildcard = CorsSettings {
            allowed_origins: vec!["*".into()],
            ..CorsSettings::default()
        };
        assert!(problem(on(), false, &wildcard).contains("cookies.jwt_auth_refresh_cookie"));
    }
}
