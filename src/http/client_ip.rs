//! Who the client is: the socket peer address, or the one header an operator said to trust
//! (`throttle.client_ip_header`). Rate limits key on [`ClientIp::key`], which groups IPv6 clients by
//! their /64 (one subscriber usually owns a whole /64); anything that records a client's address
//! (sessions, logs) uses [`ClientIp::addr`].
//!
//! A header is never trusted unless configured: a spoofed `X-Forwarded-For` changes nothing by
//! default. A configured header that is missing or unparsable falls back to the peer address.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderName};

use super::state::AppState;
use crate::config::ThrottleSettings;

/// The client's address as far as imhotep can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

/// How to find the client: which header, if any, and how many proxies append to it.
#[derive(Debug, Clone)]
pub struct ClientIpSource {
    header: Option<HeaderName>,
    trusted_proxies: usize,
}

impl ClientIpSource {
    /// From `[throttle]` (`client_ip_header`, `trusted_proxies`); the header name was checked at start-up.
    pub fn new(settings: &ThrottleSettings) -> Self {
        Self {
            header: settings
                .client_ip_header
                .as_deref()
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .and_then(|name| HeaderName::from_bytes(name.as_bytes()).ok()),
            trusted_proxies: settings.trusted_proxies.max(1),
        }
    }

    /// The client of a request: the configured header when it holds an address, else the peer address
    /// (from axum's `ConnectInfo`; `0.0.0.0` when the server runs without it, as in router unit tests).
    pub fn client(&self, headers: &HeaderMap, extensions: &Extensions) -> ClientIp {
        let from_header = self.header.as_ref().and_then(|name| self.read_header(headers, name));
        ClientIp(from_header.unwrap_or_else(|| peer(extensions)))
    }

    fn read_header(&self, headers: &HeaderMap, name: &HeaderName) -> Option<IpAddr> {
        let mut values = headers.get_all(name).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            // Missing, or sent twice (a client may have added its own copy): not trusted.
            return None;
        };
        let text = value.to_str().ok()?;
        // X-Forwarded-For-style lists: each proxy appends the address it saw, so the client is
        // `trusted_proxies` entries from the right. A single-address header has one entry.
        let entries: Vec<&str> = text.split(',').map(str::trim).collect();
        let index = entries.len().checked_sub(self.trusted_proxies.min(entries.len()))?;
        parse_address(entries.get(index)?)
    }
}

impl ClientIp {
    /// The address itself.
    pub fn addr(self) -> IpAddr {
        self.0
    }

    /// What limits key on: IPv4 addresses as they are, IPv6 addresses cut to their /64, and an
    /// IPv4-mapped IPv6 address as the IPv4 address it is.
    pub fn key(self) -> IpAddr {
        match self.0 {
            IpAddr::V4(v4) => IpAddr::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let mut segments = v6.segments();
                    segments[4..].fill(0);
                    IpAddr::V6(Ipv6Addr::from(segments))
                }
            },
        }
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(state.client_ip.client(&parts.headers, &parts.extensions))
    }
}

fn peer(extensions: &Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(address)| address.ip())
}

/// `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443`, `203.0.113.7:5000` (some proxies add the port).
fn parse_address(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|address| address.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(header: Option<&str>, trusted_proxies: usize) -> ClientIpSource {
        ClientIpSource::new(&ThrottleSettings {
            client_ip_header: header.map(str::to_owned),
            trusted_proxies,
            ..ThrottleSettings::default()
        })
    }

    fn request(headers: &[(&str, &str)], peer: &str) -> (HeaderMap, Extensions) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        let mut extensions = Extensions::new();
        extensions.insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        (map, extensions)
    }

    fn client(source: &ClientIpSource, headers: &[(&str, &str)]) -> String {
        let (headers, extensions) = request(headers, "192.0.2.1:40000");
        source.client(&headers, &extensions).addr().to_string()
    }

    #[test]
    fn headers_are_ignored_unless_configured() {
        let default = source(None, 1);
        assert_eq!(client(&default, &[("x-forwarded-for", "203.0.113.9")]), "192.0.2.1");
        assert_eq!(client(&default, &[("fly-client-ip", "203.0.113.9")]), "192.0.2.1");
    }

    #[test]
    fn a_configured_header_is_read_from_the_right() {
        let fly = source(Some("Fly-Client-IP"), 1);
        assert_eq!(client(&fly, &[("fly-client-ip", "203.0.113.9")]), "203.0.113.9");
        let one_proxy = source(Some("X-Forwarded-For"), 1);
        assert_eq!(
            client(&one_proxy, &[("x-forwarded-for", "6.6.6.6, 203.0.113.9")]),
            "203.0.113.9"
        );
        let two_proxies = source(Some("X-Forwarded-For"), 2);
        assert_eq!(
            client(&two_proxies, &[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.2")]),
            "203.0.113.9"
        );
        assert_eq!(
            client(&two_proxies, &[("x-forwarded-for", "203.0.113.9")]),
            "203.0.113.9"
        );
        assert_eq!(client(&fly, &[("fly-client-ip", "[2001:db8::5]:443")]), "2001:db8::5");
    }

    #[test]
    fn a_missing_garbled_or_repeated_header_falls_back_to_the_peer() {
        let fly = source(Some("Fly-Client-IP"), 1);
        assert_eq!(client(&fly, &[]), "192.0.2.1");
        assert_eq!(client(&fly, &[("fly-client-ip", "not-an-address")]), "192.0.2.1");
        assert_eq!(
            client(&fly, &[("fly-client-ip", "203.0.113.9"), ("fly-client-ip", "6.6.6.6")]),
            "192.0.2.1"
        );
    }

    #[test]
    fn ipv6_clients_are_grouped_by_their_64() {
        let a = ClientIp("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = ClientIp("2001:db8:1:2:bbbb::9".parse().unwrap());
        let other = ClientIp("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a.key(), b.key());
        assert_ne!(a.key(), other.key());
        assert_eq!(a.key().to_string(), "2001:db8:1:2::");
        let mapped = ClientIp("::ffff:203.0.113.9".parse().unwrap());
        assert_eq!(mapped.key().to_string(), "203.0.113.9");
    }
}
