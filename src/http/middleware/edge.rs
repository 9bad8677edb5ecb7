//! The outermost middleware: every request's id and its count in the request metrics.

use std::ops::ControlFlow;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::response::Response;

use super::around::Around;
use crate::metrics::Metrics;

/// The request id's header, read from the client, sent back and logged.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Gives each request an id (the client's `X-Request-Id` when it is safe, else a new UUID) and sends
/// it back on the response; counts the request by route template (which routing leaves on the
/// response, see [`super::RouteName`]), method and status, and times it. Being outermost, it counts
/// the panic catcher's 500s, the timeout's 503s and every refusal too.
#[derive(Clone)]
pub struct Edge {
    pub metrics: Metrics,
}

/// What [`Edge`] remembers of a request until its answer.
pub struct Started {
    method: Method,
    at: Instant,
    id: HeaderValue,
}

impl Around for Edge {
    type Carry = Started;

    fn before(&self, request: &mut Request) -> ControlFlow<Response, Started> {
        ControlFlow::Continue(Started {
            method: request.method().clone(),
            at: Instant::now(),
            id: request_id(request.headers_mut()),
        })
    }

    fn after(&self, started: Started, response: &mut Response) {
        self.metrics.record_request(
            response.extensions().get::<MatchedPath>().map(MatchedPath::as_str),
            started.method.as_str(),
            response.status().as_u16(),
            started.at.elapsed(),
        );
        if !response.headers().contains_key(REQUEST_ID) {
            response.headers_mut().insert(REQUEST_ID, started.id);
        }
    }
}

/// The request's id, now also its one `X-Request-Id` header: the client's when it sent exactly one
/// of 1–64 characters of `[A-Za-z0-9._-]`; otherwise a fresh UUID replaces what it sent, so that no
/// client can forge log fields or lines with it.
fn request_id(headers: &mut HeaderMap) -> HeaderValue {
    let mut values = headers.get_all(REQUEST_ID).iter();
    if let (Some(value), None) = (values.next(), values.next())
        && is_safe_request_id(value.as_bytes())
    {
        return value.clone();
    }
    let fresh = HeaderValue::from_maybe_shared(Bytes::from(uuid::Uuid::new_v4().to_string()))
        .expect("a UUID is a valid header value");
    headers.insert(REQUEST_ID, fresh.clone());
    fresh
}

fn is_safe_request_id(id: &[u8]) -> bool {
    (1..=64).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_request_ids_are_kept() {
        for id in [
            "a",
            "req-1.2_3",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            &"x".repeat(64),
        ] {
            assert!(is_safe_request_id(id.as_bytes()), "{id}");
        }
        for id in ["", "a b", "x\" user_id=1", "a\nb", "é", &"x".repeat(65)] {
            assert!(!is_safe_request_id(id.as_bytes()), "{id:?}");
        }
    }

    #[test]
    fn a_request_keeps_one_safe_id_and_any_other_is_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID, HeaderValue::from_static("req-7"));
        assert_eq!(request_id(&mut headers), "req-7");
        assert_eq!(headers.get_all(REQUEST_ID).iter().count(), 1);

        for sent in [vec!["a b"], vec!["req-1", "req-2"], vec![]] {
            let mut headers = HeaderMap::new();
            for value in &sent {
                headers.append(REQUEST_ID, HeaderValue::from_str(value).unwrap());
            }
            let id = request_id(&mut headers);
            assert!(uuid::Uuid::parse_str(id.to_str().unwrap()).is_ok(), "{sent:?} → {id:?}");
            let kept: Vec<_> = headers.get_all(REQUEST_ID).iter().collect();
            assert_eq!(kept, [&id], "{sent:?}");
        }
    }
}
