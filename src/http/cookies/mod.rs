//! Browser mode (`[cookies]`): the refresh token, and optionally the access token, travel in
//! cookies that JavaScript cannot read. The handlers are unchanged: [`endpoints`] wraps the
//! endpoints that issue, read or end tokens, moving tokens between bodies and cookies, and
//! [`crate::http::bearer`] falls back to the access cookie.
//!
//! Every request that a cookie authenticates passes the CSRF rule of [`super::csrf::cookie_request`].

mod endpoints;

use std::borrow::Cow;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::Cookie;

pub use endpoints::wrap;

use crate::config::{CookieSettings, Settings};

/// The endpoints whose paths the refresh cookie must reach.
const READS_REFRESH_COOKIE: [&str; 3] = ["jwt_refresh", "jwt_logout", "jwt_blacklist"];

/// The cookie attributes, resolved once at start-up.
#[derive(Debug, Clone)]
pub struct BrowserMode {
    access: Option<String>,
    refresh: String,
    refresh_path: String,
    domain: Option<String>,
    secure: bool,
    http_only: bool,
    same_site: cookie::SameSite,
    access_lifetime: Duration,
    refresh_lifetime: Duration,
    return_expiration: bool,
    body_limit: usize,
}

impl BrowserMode {
    /// `None` when browser mode is off; `aliases` are the checked `[routes]` aliases, which move the
    /// default refresh-cookie path.
    pub fn new(settings: &Settings, aliases: &[(String, String)]) -> Option<BrowserMode> {
        let cookies = &settings.cookies;
        let refresh = cookies.jwt_auth_refresh_cookie.as_deref()?;
        Some(BrowserMode {
            access: cookies
                .jwt_auth_cookie
                .as_deref()
                .map(|name| prefixed(cookies, name).into_owned()),
            refresh: prefixed(cookies, refresh).into_owned(),
            refresh_path: refresh_cookie_path(cookies, aliases),
            domain: cookies.jwt_auth_cookie_domain.clone(),
            secure: cookies.secure(settings.debug),
            http_only: cookies.jwt_auth_httponly,
            same_site: match cookies.jwt_auth_samesite {
                crate::config::SameSite::Lax => cookie::SameSite::Lax,
                crate::config::SameSite::Strict => cookie::SameSite::Strict,
                crate::config::SameSite::None => cookie::SameSite::None,
            },
            access_lifetime: settings.simple_jwt.access_token_lifetime,
            refresh_lifetime: settings.simple_jwt.refresh_token_lifetime,
            return_expiration: cookies.jwt_auth_return_expiration,
            body_limit: settings.server.body_limit,
        })
    }

    /// The refresh token from the request's cookies.
    fn refresh_from(&self, headers: &HeaderMap) -> Option<String> {
        read(headers, &self.refresh)
    }

    /// `Set-Cookie` for a new access token (path `/`).
    fn set_access(&self, headers: &mut HeaderMap, token: &str) {
        if let Some(name) = &self.access {
            self.append(headers, name, token, "/", self.access_lifetime);
        }
    }

    /// `Set-Cookie` for a new refresh token.
    fn set_refresh(&self, headers: &mut HeaderMap, token: &str) {
        self.append(headers, &self.refresh, token, &self.refresh_path, self.refresh_lifetime);
    }

    /// `Set-Cookie` headers that delete both cookies (`Max-Age=0`, same path and domain).
    fn clear(&self, headers: &mut HeaderMap) {
        if let Some(name) = &self.access {
            self.append(headers, name, "", "/", Duration::ZERO);
        }
        self.append(headers, &self.refresh, "", &self.refresh_path, Duration::ZERO);
    }

    fn append(&self, headers: &mut HeaderMap, name: &str, value: &str, path: &str, max_age: Duration) {
        let mut builder = Cookie::build((name, value))
            .path(path)
            .secure(self.secure)
            .http_only(self.http_only)
            .same_site(self.same_site)
            .max_age(cookie::time::Duration::seconds(
                i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
            ));
        if let Some(domain) = &self.domain {
            builder = builder.domain(domain.as_str());
        }
        // Names and attributes were checked at start-up and tokens are base64url: always a valid value.
        if let Ok(value) = HeaderValue::from_str(&builder.build().to_string()) {
            headers.append(header::SET_COOKIE, value);
        }
    }
}

/// The name a cookie is sent under: `__Host-<name>` with `cookies.host_prefix`.
pub fn prefixed<'a>(cookies: &CookieSettings, name: &'a str) -> Cow<'a, str> {
    if cookies.host_prefix {
        Cow::Owned(format!("__Host-{name}"))
    } else {
        Cow::Borrowed(name)
    }
}

/// The value of cookie `name` in the request's `Cookie` headers, if any (the first one wins, as in
/// Django, when a browser sends two cookies of one name from different paths).
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_owned())
}

/// `cookies.jwt_auth_refresh_cookie_path`, or else the longest path prefix (whole segments) shared by
/// every path serving an endpoint that reads the refresh cookie: `/api/auth/jwt/` unless aliases
/// move one of them elsewhere, `/` at worst.
pub fn refresh_cookie_path(cookies: &CookieSettings, aliases: &[(String, String)]) -> String {
    if let Some(path) = &cookies.jwt_auth_refresh_cookie_path {
        return path.clone();
    }
    let builtin = READS_REFRESH_COOKIE
        .iter()
        .filter_map(|name| super::routes::path_of(name));
    let aliased = aliases
        .iter()
        .filter(|(_, name)| READS_REFRESH_COOKIE.contains(&name.as_str()))
        .map(|(path, _)| path.as_str());
    let mut paths = builtin.chain(aliased);
    let Some(first) = paths.next() else {
        return "/".into();
    };
    let mut shared: Vec<&str> = first.split_terminator('/').collect();
    for path in paths {
        let common = shared
            .iter()
            .zip(path.split_terminator('/'))
            .take_while(|(a, b)| *a == b)
            .count();
        shared.truncate(common);
    }
    format!("{}/", shared.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alias(path: &str, name: &str) -> (String, String) {
        (path.into(), name.into())
    }

    #[test]
    fn the_default_path_covers_every_path_that_reads_the_cookie() {
        let cookies = CookieSettings::default();
        assert_eq!(refresh_cookie_path(&cookies, &[]), "/api/auth/jwt/");
        let unrelated = [alias("/api/token/", "jwt_create"), alias("/me/", "users_me")];
        assert_eq!(refresh_cookie_path(&cookies, &unrelated), "/api/auth/jwt/");
        let preset = [alias("/api/token/refresh/", "jwt_refresh")];
        assert_eq!(refresh_cookie_path(&cookies, &preset), "/api/");
        let elsewhere = [alias("/auth/logout/", "jwt_logout")];
        assert_eq!(refresh_cookie_path(&cookies, &elsewhere), "/");
        let explicit = CookieSettings {
            jwt_auth_refresh_cookie_path: Some("/".into()),
            ..CookieSettings::default()
        };
        assert_eq!(refresh_cookie_path(&explicit, &preset), "/");
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; refresh_x=2; refresh=abc.def"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("refresh=later"));
        assert_eq!(read(&headers, "refresh").as_deref(), Some("abc.def"));
        assert_eq!(read(&headers, "a").as_deref(), Some("1"));
        assert_eq!(read(&headers, "missing"), None);
    }

    #[test]
    fn set_and_clear_carry_every_attribute() {
        let mut settings = Settings::default();
        settings.cookies.jwt_auth_refresh_cookie = Some("refresh".into());
        settings.cookies.jwt_auth_cookie = Some("access".into());
        settings.cookies.host_prefix = true;
        settings.cookies.jwt_auth_refresh_cookie_path = Some("/".into());
        settings.cookies.jwt_auth_secure = Some(true);
        let mode = BrowserMode::new(&settings, &[]).unwrap();
        let mut headers = HeaderMap::new();
        mode.set_refresh(&mut headers, "r.t");
        mode.set_access(&mut headers, "a.t");
        mode.clear(&mut headers);
        let lines: Vec<&str> = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(
            lines,
            [
                "__Host-refresh=r.t; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=604800",
                "__Host-access=a.t; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=3600",
                "__Host-access=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0",
                "__Host-refresh=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0",
            ]
        );
    }
}
