//! Django's CSRF origin check, for the requests a browser sends cross-site without asking.
//!
//! A page on any site can make a visitor's browser `POST` a form (form-encoded, multipart or
//! `text/plain`, the CORS "simple" requests) without a preflight: enough to register accounts
//! and send reset mail from thousands of browsers. Such a request that carries an `Origin` other
//! than the server's own or one of `cors.allowed_origins` is answered 403 with Django's wording,
//! before any handler runs. JSON requests (a browser preflights them, and CORS decides) and
//! requests without `Origin` (mobile apps, curl, servers) are untouched.
//!
//! A request that a cookie authenticates (browser mode, [`super::cookies`]) is held to more:
//! [`cookie_request`].

use std::ops::ControlFlow;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::middleware::Around;

/// The content types a browser sends cross-site without a preflight (the Fetch standard's
/// CORS-safelisted `Content-Type` values); a request without a body type is simple too.
const SIMPLE_TYPES: [&str; 3] = ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"];

/// The check every request passes before its handler: refuses a cross-site simple `POST` from an
/// origin that is neither the server's own nor one of `cors.allowed_origins`.
#[derive(Clone)]
pub struct SimpleRequests {
    pub allowed_origins: Arc<[String]>,
}

impl Around for SimpleRequests {
    type Carry = ();

    fn before(&self, request: &mut Request) -> ControlFlow<Response> {
        if request.method() == Method::POST && is_simple(request.headers()) {
            let headers = request.headers();
            if let Some(origin) = headers.get(header::ORIGIN) {
                let origin = String::from_utf8_lossy(origin.as_bytes());
                if !trusted_origin(&origin, host(headers, request.uri()), &self.allowed_origins) {
                    return ControlFlow::Break(origin_failure(&origin).into_response());
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// The CSRF rule for a request authenticated by a cookie (browser mode): it must not be a CORS
/// "simple" request (so a browser preflights it when cross-origin: `Content-Type: application/json`
/// or an `X-Requested-With` header), and its `Origin`, or failing that its `Referer`, must be the
/// server's own origin or one of `allowed`. Requests that carry a bearer header never get here.
pub fn cookie_request(headers: &HeaderMap, uri: &Uri, allowed: &[String]) -> Result<(), ApiError> {
    if is_simple(headers) && !headers.contains_key(X_REQUESTED_WITH) {
        return Err(ApiError::detail(
            StatusCode::FORBIDDEN,
            "CSRF Failed: a request authenticated by a cookie must be sent as application/json or with \
             an X-Requested-With header.",
        ));
    }
    let host = host(headers, uri);
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = String::from_utf8_lossy(origin.as_bytes());
        return if trusted_origin(&origin, host, allowed) {
            Ok(())
        } else {
            Err(origin_failure(&origin))
        };
    }
    let Some(referer) = headers.get(header::REFERER) else {
        return Err(ApiError::detail(
            StatusCode::FORBIDDEN,
            "CSRF Failed: Referer checking failed - no Referer.",
        ));
    };
    let referer = String::from_utf8_lossy(referer.as_bytes());
    if origin_of(&referer).is_some_and(|origin| trusted_origin(origin, host, allowed)) {
        Ok(())
    } else {
        Err(ApiError::detail(
            StatusCode::FORBIDDEN,
            format!("CSRF Failed: Referer checking failed - {referer} does not match any trusted origins."),
        ))
    }
}

/// `X-Requested-With`, which no form can send: a cross-origin `fetch` carrying it is preflighted.
const X_REQUESTED_WITH: &str = "x-requested-with";

/// The host and port the request addressed.
fn host<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<&'a str> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
}

/// `scheme://host[:port]` of an absolute URL (a `Referer`).
fn origin_of(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let end = url.len() - rest.len() + rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&url[..end])
}

/// Whether a request from `origin` may change state here: the server's own origin (its host and
/// port as the request addressed them, over `http` or `https`: TLS usually ends at a proxy) or
/// an origin listed in `allowed` (`*` trusts every origin, as it already does for CORS). `null`
/// (sandboxed frames, local files) is never the server's own.
pub fn trusted_origin(origin: &str, host: Option<&str>, allowed: &[String]) -> bool {
    let own = host.is_some_and(|host| {
        ["http://", "https://"].iter().any(|scheme| {
            origin
                .strip_prefix(scheme)
                .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
        })
    });
    own || allowed.iter().any(|allowed| allowed == "*" || allowed == origin)
}

/// Django's answer (`REASON_BAD_ORIGIN` through DRF's `PermissionDenied`).
pub fn origin_failure(origin: &str) -> ApiError {
    ApiError::detail(
        StatusCode::FORBIDDEN,
        format!("CSRF Failed: Origin checking failed - {origin} does not match any trusted origins."),
    )
}

fn is_simple(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    let media_type = String::from_utf8_lossy(value.as_bytes());
    let media_type = media_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    SIMPLE_TYPES.contains(&media_type.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_own_origin_and_listed_origins_are_trusted() {
        let allowed = vec!["https://app.example.test".to_owned()];
        for (origin, host) in [
            ("http://127.0.0.1:8000", Some("127.0.0.1:8000")),
            ("https://auth.example.test", Some("AUTH.example.test")),
            ("https://app.example.test", Some("auth.example.test")),
            ("https://app.example.test", None),
        ] {
            assert!(trusted_origin(origin, host, &allowed), "{origin} {host:?}");
        }
        for (origin, host) in [
            ("https://evil.test", Some("auth.example.test")),
            ("null", Some("auth.example.test")),
            ("https://app.example.test.evil.test", Some("auth.example.test")),
            ("http://app.example.test", Some("auth.example.test")),
            ("https://auth.example.test:8443", Some("auth.example.test")),
            ("ftp://auth.example.test", Some("auth.example.test")),
            ("https://evil.test", None),
        ] {
            assert!(!trusted_origin(origin, host, &allowed), "{origin} {host:?}");
        }
        assert!(trusted_origin("https://evil.test", None, &["*".to_owned()]));
    }

    #[test]
    fn a_cookie_request_needs_a_preflighted_shape_and_a_trusted_origin_or_referer() {
        let allowed = vec!["http://localhost:3000".to_owned()];
        let uri: Uri = "/api/auth/jwt/refresh/".parse().unwrap();
        let check = |pairs: &[(&str, &str)]| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, "127.0.0.1:8000".parse().unwrap());
            for (name, value) in pairs {
                let name = header::HeaderName::from_bytes(name.as_bytes()).unwrap();
                headers.insert(name, value.parse().unwrap());
            }
            match cookie_request(&headers, &uri, &allowed) {
                Ok(()) => "ok".to_owned(),
                Err(ApiError::Detail(StatusCode::FORBIDDEN, detail)) => detail.to_string(),
                Err(other) => panic!("{other:?}"),
            }
        };
        let json = ("content-type", "application/json");
        assert_eq!(check(&[json, ("origin", "http://127.0.0.1:8000")]), "ok");
        assert_eq!(check(&[json, ("origin", "http://localhost:3000")]), "ok");
        assert_eq!(
            check(&[
                ("x-requested-with", "fetch"),
                ("referer", "http://127.0.0.1:8000/api/auth/demo/")
            ]),
            "ok"
        );
        assert_eq!(check(&[json, ("referer", "http://localhost:3000?x=1")]), "ok");
        assert_eq!(
            check(&[json, ("origin", "http://127.0.0.1:9000")]),
            "CSRF Failed: Origin checking failed - http://127.0.0.1:9000 does not match any trusted origins."
        );
        // Origin decides even when Referer would pass.
        assert!(check(&[json, ("origin", "null"), ("referer", "http://127.0.0.1:8000/")]).contains("null"));
        assert_eq!(
            check(&[json, ("referer", "http://127.0.0.1:8000.evil.test/")]),
            "CSRF Failed: Referer checking failed - http://127.0.0.1:8000.evil.test/ does not match any trusted origins."
        );
        assert_eq!(check(&[json]), "CSRF Failed: Referer checking failed - no Referer.");
        for simple in ["text/plain", "application/x-www-form-urlencoded"] {
            let answer = check(&[("content-type", simple), ("origin", "http://127.0.0.1:8000")]);
            assert!(answer.contains("X-Requested-With"), "{answer}");
        }
        assert!(check(&[("origin", "http://127.0.0.1:8000")]).contains("X-Requested-With"));
    }

    #[test]
    fn only_body_types_a_form_can_send_are_simple() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            is_simple(&headers)
        };
        assert!(is_simple(&HeaderMap::new()));
        assert!(with("application/x-www-form-urlencoded"));
        assert!(with("text/plain;charset=UTF-8"));
        assert!(with("Multipart/Form-Data; boundary=x"));
        assert!(!with("application/json"));
        assert!(!with("application/json; charset=utf-8"));
    }
}
