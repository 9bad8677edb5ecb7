//! Per-client rate limits per endpoint group (`[throttle]` `login`, `refresh`, `signup`, `email`,
//! `confirm`): a GCRA bucket per (group, client) from `governor`, in memory.
//!
//! The limits are per instance: they protect the instance they run on, and N instances behind a
//! load balancer let a client make up to N times the rate. (The per-account backoff and the e-mail
//! limits, which must hold across instances, are counted in the database by `auth::limits`.)
//!
//! Groups are chosen by endpoint name (`routes::ENDPOINTS`), so an alias of `jwt_create` is the
//! `login` group like `jwt/create/` itself. Only `POST` is limited; health, readiness, metrics, docs
//! and schema never are. The 429 passes through the CORS layer, so browsers can read it.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::Request;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use super::client_ip::{ClientIp, ClientIpSource};
use super::error::ApiError;
use super::middleware::{Around, AroundLayer};
use super::routes::endpoint_at;
use super::state::AppState;
use crate::auth::limits::mask_client;
use crate::config::{Rate, ThrottleSettings};
use crate::metrics::Metrics;

/// Checks between two sweeps of clients whose buckets are full again (forgotten to bound memory).
const SWEEP_EVERY: u64 = 8192;

type ClientLimiter = RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock>;

/// The endpoint groups sharing one rate per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Login,
    Refresh,
    Signup,
    Email,
    Confirm,
}

impl Group {
    /// The group of an endpoint name, if it has one.
    pub fn of(endpoint: &str) -> Option<Group> {
        Some(match endpoint {
            "jwt_create" | "jwt_create_mfa" => Group::Login,
            "jwt_refresh" | "jwt_verify" => Group::Refresh,
            // `users/` serves both; only its POST (registration) is limited.
            "users_create" | "users_list" => Group::Signup,
            "users_resend_activation" | "users_reset_password" | "users_reset_email" | "users_set_email" => {
                Group::Email
            }
            "users_activation"
            | "users_reset_password_confirm"
            | "users_reset_email_confirm"
            | "users_set_email_confirm"
            | "mfa_totp"
            | "mfa_totp_confirm"
            | "mfa_recovery_codes" => Group::Confirm,
            _ => return None,
        })
    }

    /// The setting's name, also the metric's and the log's `group`.
    pub fn name(self) -> &'static str {
        match self {
            Group::Login => "login",
            Group::Refresh => "refresh",
            Group::Signup => "signup",
            Group::Email => "email",
            Group::Confirm => "confirm",
        }
    }

    fn rate(self, settings: &ThrottleSettings) -> Option<Rate> {
        match self {
            Group::Login => settings.login,
            Group::Refresh => settings.refresh,
            Group::Signup => settings.signup,
            Group::Email => settings.email,
            Group::Confirm => settings.confirm,
        }
    }
}

/// The buckets of every enabled group, and how to tell clients apart.
pub struct Throttle {
    limiters: Vec<(Group, ClientLimiter)>,
    source: ClientIpSource,
    clock: DefaultClock,
    checks: AtomicU64,
    metrics: Metrics,
}

impl Throttle {
    /// One limiter per group with a rate; none at all when `throttle.enabled` is false. Refusals are
    /// counted in `metrics`.
    pub fn new(settings: &ThrottleSettings, metrics: Metrics) -> Self {
        let groups = [
            Group::Login,
            Group::Refresh,
            Group::Signup,
            Group::Email,
            Group::Confirm,
        ];
        let limiters = groups
            .into_iter()
            .filter(|_| settings.enabled)
            .filter_map(|group| Some((group, RateLimiter::keyed(quota(group.rate(settings)?)?))))
            .collect();
        Self {
            limiters,
            source: ClientIpSource::new(settings),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
            metrics,
        }
    }

    fn limiter(&self, group: Group) -> Option<&ClientLimiter> {
        self.limiters
            .iter()
            .find(|(g, _)| *g == group)
            .map(|(_, limiter)| limiter)
    }

    /// Takes one request from the client's bucket in `group`, or says how long until one is free.
    pub fn check(&self, group: Group, client: ClientIp) -> Result<(), Duration> {
        let Some(limiter) = self.limiter(group) else {
            return Ok(());
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            for (_, limiter) in &self.limiters {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        }
        limiter
            .check_key(&client.key())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// A group's rate as a GCRA quota: `count` at once, then one every `period / count`.
fn quota(rate: Rate) -> Option<Quota> {
    let burst = NonZeroU32::new(rate.count)?;
    Some(Quota::with_period(rate.period / rate.count)?.allow_burst(burst))
}

/// Wraps the handlers at a built-in `path` in their group's limit.
pub fn limit_builtin(throttle: &Arc<Throttle>, path: &str, methods: MethodRouter<AppState>) -> MethodRouter<AppState> {
    match endpoint_at(path) {
        Some(endpoint) => limit_endpoint(throttle, endpoint, methods),
        None => methods,
    }
}

/// Wraps an endpoint's handlers in its group's limit (untouched when the group has none).
pub fn limit_endpoint(
    throttle: &Arc<Throttle>,
    endpoint: &str,
    methods: MethodRouter<AppState>,
) -> MethodRouter<AppState> {
    match Group::of(endpoint).filter(|group| throttle.limiter(*group).is_some()) {
        Some(group) => methods.layer(AroundLayer(Guard {
            throttle: throttle.clone(),
            group,
        })),
        None => methods,
    }
}

/// Refuses a `POST` from a client over its group's rate.
#[derive(Clone)]
struct Guard {
    throttle: Arc<Throttle>,
    group: Group,
}

impl Around for Guard {
    type Carry = ();

    fn before(&self, request: &mut Request) -> ControlFlow<Response> {
        if request.method() != Method::POST {
            return ControlFlow::Continue(());
        }
        let client = self.throttle.source.client(request.headers(), request.extensions());
        let Err(wait) = self.throttle.check(self.group, client) else {
            return ControlFlow::Continue(());
        };
        self.throttle.metrics.throttled(self.group.name());
        tracing::warn!(
            group = self.group.name(),
            client = %mask_client(client.addr()),
            retry_after = wait.as_secs(),
            "request refused: client over its rate"
        );
        ControlFlow::Break(ApiError::Throttled(wait).into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::routes::ENDPOINTS;

    fn settings(login: &str) -> ThrottleSettings {
        ThrottleSettings {
            login: Rate::parse(login).unwrap(),
            ..ThrottleSettings::default()
        }
    }

    #[test]
    fn every_limited_endpoint_has_a_group_and_aliases_share_it() {
        let limited: Vec<&str> = ENDPOINTS
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| Group::of(name).is_some())
            .collect();
        assert_eq!(limited.len(), 13, "{limited:?}");
        assert_eq!(Group::of("users_me"), None);
        assert_eq!(Group::of("jwt_logout"), None);
        assert_eq!(
            endpoint_at("/api/auth/jwt/create/").and_then(Group::of),
            Some(Group::Login)
        );
    }

    #[test]
    fn a_client_gets_its_burst_then_waits_and_others_are_unaffected() {
        let throttle = Throttle::new(&settings("3/m"), Metrics::default());
        let a = ClientIp("192.0.2.1".parse().unwrap());
        let b = ClientIp("192.0.2.2".parse().unwrap());
        for _ in 0..3 {
            assert!(throttle.check(Group::Login, a).is_ok());
        }
        let wait = throttle.check(Group::Login, a).unwrap_err();
        assert!(
            wait > Duration::from_secs(15) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(throttle.check(Group::Login, b).is_ok());
        assert!(
            throttle.check(Group::Refresh, a).is_ok(),
            "groups have their own buckets"
        );
    }

    #[test]
    fn off_and_disabled_mean_no_limit() {
        let off = Throttle::new(&settings("off"), Metrics::default());
        assert!(off.limiter(Group::Login).is_none());
        assert!(off.limiter(Group::Refresh).is_some());
        let disabled = Throttle::new(
            &ThrottleSettings {
                enabled: false,
                ..ThrottleSettings::default()
            },
            Metrics::default(),
        );
        assert!(disabled.limiters.is_empty());
    }
}
