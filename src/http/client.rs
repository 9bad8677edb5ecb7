//! Where a request comes from: its User-Agent and the client's address, as kept with a session.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;

use crate::auth::sessions::Client;

/// The requesting client (never a rejection: both parts are optional).
pub struct RequestClient(pub Client);

impl<S: Send + Sync> FromRequestParts<S> for RequestClient {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        Ok(RequestClient(Client {
            user_agent,
            ip: client_ip(parts),
        }))
    }
}

/// The client's address: the TCP peer. (The one place to change when a trusted proxy header rule
/// decides the client's identity instead.)
fn client_ip(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_string())
}
