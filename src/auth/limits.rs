//! Abuse limits that every instance shares through the store: the per-account backoff after failed
//! password checks (logins and `current_password`) and failed second-factor codes, and the per-recipient spacing and global cap of
//! link e-mails. Decisions only; the counting is one atomic statement in the store per counter.
//!
//! Accounts and recipients are keyed by the lower-cased address the client sent, whether or not an
//! account has it, so known and unknown addresses get the same answers.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::Utc;
use sha2::{Digest, Sha256};

use super::AuthError;
use super::email::key_for;
use crate::config::{Rate, ThrottleSettings};
use crate::mail::mask_address;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::store::throttle::Hit;

/// How often the "global e-mail cap reached" warning may be logged.
const GLOBAL_WARNING_EVERY: Duration = Duration::from_secs(60);

/// Prefix of an account's login counter; the address key follows.
pub const LOGIN_PREFIX: &str = "login:";
/// Prefix of an account + client failure counter: `login_client:<address key>|<client>`.
pub const LOGIN_CLIENT_PREFIX: &str = "login_client:";
/// Prefix of an account's second-factor code counter; the address key follows.
pub const MFA_PREFIX: &str = "mfa:";
/// Prefix of a per-recipient, per-kind spacing counter: `mail:<kind>:<address key>`.
pub const MAIL_PREFIX: &str = "mail:";
/// Prefix of a per-recipient counter: `mail_address:<address key>`.
pub const MAIL_ADDRESS_PREFIX: &str = "mail_address:";
/// The deployment-wide e-mail counter.
pub const MAIL_GLOBAL: &str = "mail_global";

/// Whether a requested e-mail may be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailPermit {
    /// Queue it.
    Queue,
    /// The deployment-wide cap is reached: answer as usual, queue nothing.
    Capped,
}

/// An attempt to count on an account's backoff counter: its key, now, and the backoff's
/// `(window, attempts before it, longest wait)`, all in ms, as `Store::throttle_attempt` takes them.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub key: String,
    pub now_ms: i64,
    pub limits: (i64, i64, i64),
}

/// The counters a right password forgets: the account's, and the account + client's failures.
/// None when throttling is off.
#[derive(Debug, Clone)]
pub struct PasswordCounters(Option<(String, String)>);

impl PasswordCounters {
    /// Their keys, as `Store::throttle_clear` takes them.
    pub fn keys(&self) -> Option<(&str, &str)> {
        self.0.as_ref().map(|(account, pair)| (account.as_str(), pair.as_str()))
    }
}

/// The shared limits (cheap to clone).
#[derive(Clone)]
pub struct Limits {
    store: Store,
    settings: Arc<ThrottleSettings>,
    global_warned: Arc<Mutex<Option<Instant>>>,
    metrics: Metrics,
}

impl Limits {
    /// The limits of `settings`, counting refusals in `metrics`.
    pub fn new(store: Store, settings: &ThrottleSettings, metrics: Metrics) -> Self {
        Self {
            store,
            settings: Arc::new(settings.clone()),
            global_warned: Arc::new(Mutex::new(None)),
            metrics,
        }
    }

    /// Before checking a password of the account with address `account` (as sent): counts the
    /// attempt, or refuses it while the account's backoff runs. A refused attempt must not be
    /// checked at all, so a right and a wrong password get the same answer during the wait.
    pub async fn begin_password_check(&self, account: &str, client: IpAddr) -> Result<(), AuthError> {
        self.begin_check(LOGIN_PREFIX, account, client).await
    }

    /// After a password check that [`Limits::begin_password_check`] let through: a success forgets
    /// the account's failures ([`Limits::forget`]), a failure is also counted for the account + client.
    pub async fn end_password_check(&self, account: &str, client: IpAddr, succeeded: bool) -> Result<(), AuthError> {
        if succeeded {
            return self.forget(&self.password_counters(account, client)).await;
        }
        if self.settings.enabled {
            let pair = pair_key(&address_key(account), client);
            let window = millis(self.settings.failure_window);
            self.store.throttle_hit(&pair, i64::MAX, window, now_ms()).await?;
        }
        Ok(())
    }

    /// The counters a right password of the account with address `account` from `client` forgets.
    pub fn password_counters(&self, account: &str, client: IpAddr) -> PasswordCounters {
        if !self.settings.enabled {
            return PasswordCounters(None);
        }
        let account_key = address_key(account);
        PasswordCounters(Some((
            format!("{LOGIN_PREFIX}{account_key}"),
            pair_key(&account_key, client),
        )))
    }

    /// Forgets `counters` (a right password; a login forgets them as it starts its session instead).
    pub async fn forget(&self, counters: &PasswordCounters) -> Result<(), AuthError> {
        if let Some((account, pair)) = counters.keys() {
            self.store.throttle_clear(account, pair).await?;
        }
        Ok(())
    }

    /// Before checking a second-factor code of the account with address `account`: the same
    /// backoff as passwords, on a counter of its own, so that a right password (which clears the
    /// password counter) does not also forget the wrong codes sent after it.
    pub async fn begin_code_check(&self, account: &str, client: IpAddr) -> Result<(), AuthError> {
        self.begin_check(MFA_PREFIX, account, client).await
    }

    /// After a code check that [`Limits::begin_code_check`] let through: a right code forgets the
    /// account's wrong ones (a wrong one stays counted by the attempt itself).
    pub async fn end_code_check(&self, account: &str, succeeded: bool) -> Result<(), AuthError> {
        if self.settings.enabled && succeeded {
            let key = format!("{MFA_PREFIX}{}", address_key(account));
            self.store.throttle_clear(&key, &key).await?;
        }
        Ok(())
    }

    /// The attempt [`Limits::begin_password_check`] counts, for a caller that counts it together
    /// with another read (`Store::throttle_attempt_reading_user`); `None` when throttling is off.
    /// Its outcome then goes to [`Limits::admit_password_check`].
    pub fn password_attempt(&self, account: &str) -> Option<Attempt> {
        self.attempt(LOGIN_PREFIX, account)
    }

    /// Whether a counted password attempt ([`Limits::password_attempt`]) may go on: as
    /// [`Limits::begin_password_check`] answers.
    pub fn admit_password_check(&self, hit: Hit, account: &str, client: IpAddr) -> Result<(), AuthError> {
        self.admit(LOGIN_PREFIX, hit, account, client)
    }

    async fn begin_check(&self, prefix: &str, account: &str, client: IpAddr) -> Result<(), AuthError> {
        let Some(attempt) = self.attempt(prefix, account) else {
            return Ok(());
        };
        let hit = self
            .store
            .throttle_attempt(&attempt.key, attempt.now_ms, attempt.limits)
            .await?;
        self.admit(prefix, hit, account, client)
    }

    fn attempt(&self, prefix: &str, account: &str) -> Option<Attempt> {
        let settings = &self.settings;
        settings.enabled.then(|| Attempt {
            key: format!("{prefix}{}", address_key(account)),
            now_ms: now_ms(),
            limits: (
                millis(settings.failure_window),
                i64::from(settings.failures_before_backoff),
                millis(settings.max_lockout),
            ),
        })
    }

    fn admit(&self, prefix: &str, hit: Hit, account: &str, client: IpAddr) -> Result<(), AuthError> {
        match hit {
            Hit::Allowed { .. } => Ok(()),
            Hit::Refused { until_ms } => {
                self.metrics.login_backoff();
                let wait = wait_until(until_ms);
                tracing::warn!(
                    group = "login_backoff",
                    client = %mask_client(client),
                    account = %mask_address(account),
                    retry_after = wait.as_secs(),
                    "{} check refused: the account's backoff is running",
                    if prefix == MFA_PREFIX { "code" } else { "password" }
                );
                Err(AuthError::Throttled(wait))
            }
        }
    }

    /// Before queueing a `kind` e-mail to `address` (as sent, lower-cased): at most one per kind per
    /// `email_min_interval` and `email_per_address` per address (else 429), and `email_global` in all.
    pub async fn before_mail(&self, kind: &str, address: &str, client: IpAddr) -> Result<MailPermit, AuthError> {
        let settings = &self.settings;
        if !settings.enabled {
            return Ok(MailPermit::Queue);
        }
        let key = address_key(address);
        let now = now_ms();
        let spacing = (!settings.email_min_interval.is_zero()).then(|| {
            (
                format!("{MAIL_PREFIX}{kind}:{key}"),
                Rate {
                    count: 1,
                    period: settings.email_min_interval,
                },
            )
        });
        let per_address = settings
            .email_per_address
            .map(|rate| (format!("{MAIL_ADDRESS_PREFIX}{key}"), rate));
        for (counter, rate) in spacing.into_iter().chain(per_address) {
            if let Hit::Refused { until_ms } = self.hit(&counter, rate, now).await? {
                self.metrics.throttled("email_recipient");
                let wait = wait_until(until_ms);
                tracing::warn!(
                    group = "email_recipient",
                    client = %mask_client(client),
                    account = %mask_address(address),
                    retry_after = wait.as_secs(),
                    "e-mail request refused: too many for this address"
                );
                return Err(AuthError::Throttled(wait));
            }
        }
        if let Some(rate) = settings.email_global
            && let Hit::Refused { .. } = self.hit(MAIL_GLOBAL, rate, now).await?
        {
            self.metrics.throttled("email_global");
            self.warn_global_cap(rate);
            return Ok(MailPermit::Capped);
        }
        Ok(MailPermit::Queue)
    }

    async fn hit(&self, key: &str, rate: Rate, now: i64) -> Result<Hit, AuthError> {
        Ok(self
            .store
            .throttle_hit(key, i64::from(rate.count), millis(rate.period), now)
            .await?)
    }

    fn warn_global_cap(&self, rate: Rate) {
        let mut last = self.global_warned.lock().unwrap_or_else(PoisonError::into_inner);
        if last.is_none_or(|at| at.elapsed() >= GLOBAL_WARNING_EVERY) {
            *last = Some(Instant::now());
            tracing::warn!(
                limit = %rate,
                "throttle.email_global reached: e-mail requests are answered as usual but nothing is queued"
            );
        }
    }
}

/// The form an address takes in counter keys: its account lookup key (`email::key_for`, or the input
/// lower-cased when it can name no account), or the SHA-256 of that when longer than any real address
/// (only a login attempt can send one), so keys stay short.
pub fn address_key(address: &str) -> String {
    let lowered = key_for(address).unwrap_or_else(|| address.to_lowercase());
    if lowered.chars().count() <= 254 {
        lowered
    } else {
        format!("sha256:{:x}", Sha256::digest(lowered.as_bytes()))
    }
}

/// A client in counter keys: its address, IPv6 cut to the /64 by the caller's grouping.
pub fn client_key(client: IpAddr) -> String {
    client.to_string()
}

/// The account + client failure counter: `login_client:<address key>|<client>`.
fn pair_key(account_key: &str, client: IpAddr) -> String {
    format!("{LOGIN_CLIENT_PREFIX}{account_key}|{}", client_key(client))
}

/// A client address for logs: the network half only (`203.0.x.x`, `2001:db8:x:x::`).
pub fn mask_client(client: IpAddr) -> String {
    match client {
        IpAddr::V4(v4) => {
            let [a, b, _, _] = v4.octets();
            format!("{a}.{b}.x.x")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:x:x::", s[0], s[1])
        }
    }
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 4)
}

/// The wait until `until_ms`, at least 1 ms (the answer rounds it up to whole seconds).
fn wait_until(until_ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(until_ms - now_ms()).unwrap_or(0).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_lower_case_and_bounded() {
        assert_eq!(address_key("Alice@Example.COM"), "alice@example.com");
        let long = format!("{}@example.com", "a".repeat(300));
        let key = address_key(&long);
        assert!(key.starts_with("sha256:") && key.len() == 7 + 64, "{key}");
        assert_eq!(key, address_key(&long.to_uppercase()));
    }

    #[test]
    fn clients_are_masked_to_their_network() {
        assert_eq!(mask_client("203.0.113.7".parse().unwrap()), "203.0.x.x");
        assert_eq!(mask_client("2001:db8::1".parse().unwrap()), "2001:db8:x:x::");
    }
}
