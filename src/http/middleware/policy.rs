//! What every answer gets, inside the panic catcher: SimpleJWT's `WWW-Authenticate` on every 401,
//! and the security headers.

use std::ops::ControlFlow;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::around::Around;

/// Headers every answer carries unless its handler set them.
static SECURITY_HEADERS: [(HeaderName, HeaderValue); 5] = [
    (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    (header::REFERRER_POLICY, HeaderValue::from_static("same-origin")),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    ),
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    (header::VARY, HeaderValue::from_static("Accept")),
];

/// The challenge and the headers.
#[derive(Clone)]
pub struct Policy {
    /// `<first of simple_jwt.auth_header_types> realm="api"`, SimpleJWT's challenge.
    challenge: Option<HeaderValue>,
}

impl Policy {
    /// With the challenge for `simple_jwt.auth_header_types`.
    pub fn new(auth_header_types: &[String]) -> Self {
        let scheme = auth_header_types.first().map_or("Bearer", String::as_str);
        Self {
            challenge: HeaderValue::from_str(&format!("{scheme} realm=\"api\"")).ok(),
        }
    }
}

impl Around for Policy {
    type Carry = ();

    fn before(&self, _: &mut Request) -> ControlFlow<Response> {
        ControlFlow::Continue(())
    }

    /// The challenge on a 401 and the security headers, each unless the handler set it.
    fn after(&self, (): (), response: &mut Response) {
        if response.status() == StatusCode::UNAUTHORIZED
            && let Some(challenge) = &self.challenge
        {
            response
                .headers_mut()
                .entry(header::WWW_AUTHENTICATE)
                .or_insert_with(|| challenge.clone());
        }
        let headers = response.headers_mut();
        for (name, value) in &SECURITY_HEADERS {
            headers.entry(name).or_insert_with(|| value.clone());
        }
    }
}
