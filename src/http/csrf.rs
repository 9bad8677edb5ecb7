//! Django's CSRF origin check, for the requests a browser sends cross-site without asking.
//!
//! A page on any site can make a visitor's browser `POST` a form (form-encoded, multipart or
//! `text/plain`, the CORS "simple" requests) without a preflight: enough to register accounts
//! and send reset mail from thousands of browsers. Such a request that carries an `Origin` other
//! than the server's own or one of `cors.allowed_origins` is answered 403 with Django's wording,
//! before any handler runs. JSON requests (a browser preflights them, and CORS decides) and
//! requests without `Origin` (mobile apps, curl, servers) are untouched.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::AppState;

/// The content types a browser sends cross-site without a preflight (the Fetch standard's
/// CORS-safelisted `Content-Type` values); a request without a body type is simple too.
const SIMPLE_TYPES: [&str; 3] = ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"];

/// The middleware: refuses a cross-site simple `POST` from an untrusted origin.
pub async fn reject_untrusted_simple_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() == Method::POST && is_simple(request.headers()) {
        let headers = request.headers();
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = String::from_utf8_lossy(origin.as_bytes());
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .or_else(|| request.uri().authority().map(|a| a.as_str()));
            if !trusted_origin(&origin, host, &state.settings.cors.allowed_origins) {
                return origin_failure(&origin).into_response();
            }
        }
    }
    next.run(request).await
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
