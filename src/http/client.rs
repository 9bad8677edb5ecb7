//! Where a request comes from: its User-Agent and the client's address (the trusted-header rule of
//! `throttle.client_ip_header`, else the peer), as kept with a session.

use axum::extract::FromRequestParts;
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;

use super::state::AppState;
use crate::auth::sessions::Client;

/// The requesting client (never a rejection: both parts are optional).
pub struct RequestClient(pub Client);

impl FromRequestParts<AppState> for RequestClient {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        Ok(RequestClient(Client {
            user_agent,
            ip: Some(
                state
                    .client_ip
                    .client(&parts.headers, &parts.extensions)
                    .addr()
                    .to_string(),
            ),
        }))
    }
}
