//! `imhotep throttle ...`: what the shared abuse limits are holding back right now (login backoffs,
//! failure counts by client, e-mail holds), and how to lift them. The per-client request rates are
//! kept in each server's memory and refill by themselves within their period; they are not here.

use std::net::IpAddr;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Subcommand;

use crate::app::connect_store;
use crate::auth::limits::{
    LOGIN_CLIENT_PREFIX, LOGIN_PREFIX, MAIL_ADDRESS_PREFIX, MAIL_GLOBAL, MAIL_PREFIX, MFA_PREFIX, address_key,
    client_key,
};
use crate::config::Settings;
use crate::http::client_ip::ClientIp;
use crate::mail::EmailKind;
use crate::store::Store;
use crate::store::throttle::CounterRow;

/// What `imhotep throttle` does.
#[derive(Debug, Subcommand)]
pub enum ThrottleAction {
    /// List active login backoffs, failure counts and e-mail holds (shared by every instance).
    List,
    /// Lift the limits on an address (`--email`) or a client (`--ip`).
    Clear {
        /// Forget the account's login failures and backoff and the address's e-mail holds.
        #[arg(long, conflicts_with = "ip", required_unless_present = "ip")]
        email: Option<String>,
        /// Forget this client's login failures and lift the backoff of every account it failed on.
        #[arg(long)]
        ip: Option<IpAddr>,
    },
}

/// Runs one `imhotep throttle` action against the configured database.
pub async fn run(settings: &Settings, action: ThrottleAction) -> anyhow::Result<()> {
    let store = connect_store(settings).await?;
    match action {
        ThrottleAction::List => list(&store).await,
        ThrottleAction::Clear { email: Some(email), .. } => clear_email(&store, &email).await,
        ThrottleAction::Clear { ip: Some(ip), .. } => clear_client(&store, ip).await,
        ThrottleAction::Clear { .. } => anyhow::bail!("give --email or --ip"),
    }
}

async fn list(store: &Store) -> anyhow::Result<()> {
    let now = Utc::now().timestamp_millis();
    let rows = store.throttle_active(now).await?;
    println!("{:<16} {:<48} {:>6}  {:<20}", "KIND", "SUBJECT", "COUNT", "HELD UNTIL");
    for row in &rows {
        let (kind, subject) = describe(&row.key);
        let until = if row.blocked_until_ms > now {
            time(row.blocked_until_ms)
        } else {
            "-".to_owned()
        };
        println!("{kind:<16} {subject:<48} {:>6}  {until:<20}", row.hits);
    }
    println!("{} active counter(s)", rows.len());
    Ok(())
}

/// A counter key as `(kind, subject)` for the table.
fn describe(key: &str) -> (String, String) {
    if let Some(pair) = key.strip_prefix(LOGIN_CLIENT_PREFIX) {
        return ("login failures".into(), pair.replace('|', " from "));
    }
    if let Some(account) = key.strip_prefix(LOGIN_PREFIX) {
        return ("login backoff".into(), account.into());
    }
    if let Some(address) = key.strip_prefix(MAIL_ADDRESS_PREFIX) {
        return ("mail per address".into(), address.into());
    }
    if let Some(account) = key.strip_prefix(MFA_PREFIX) {
        return ("code backoff".into(), account.into());
    }
    if let Some((kind, address)) = key.strip_prefix(MAIL_PREFIX).and_then(|rest| rest.split_once(':')) {
        return (format!("mail {kind}"), address.into());
    }
    if key == MAIL_GLOBAL {
        return ("mail global".into(), "(all instances)".into());
    }
    ("other".into(), key.into())
}

fn time(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map_or_else(|| ms.to_string(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

async fn clear_email(store: &Store, email: &str) -> anyhow::Result<()> {
    let key = address_key(email.trim());
    let pairs = format!("{LOGIN_CLIENT_PREFIX}{key}|");
    let mut deleted = store
        .throttle_clear_matching(&format!("{LOGIN_PREFIX}{key}"), Some(&pairs))
        .await?;
    deleted += store
        .throttle_clear_matching(&format!("{MAIL_ADDRESS_PREFIX}{key}"), None)
        .await?;
    deleted += store
        .throttle_clear_matching(&format!("{MFA_PREFIX}{key}"), None)
        .await?;
    for kind in EmailKind::ALL {
        deleted += store
            .throttle_clear_matching(&format!("{MAIL_PREFIX}{}:{key}", kind.name()), None)
            .await?;
    }
    println!("cleared {deleted} counter(s) for {key}");
    Ok(())
}

async fn clear_client(store: &Store, ip: IpAddr) -> anyhow::Result<()> {
    let client = client_key(ClientIp(ip).key());
    let suffix = format!("|{client}");
    let rows: Vec<CounterRow> = store.throttle_active(i64::MIN).await.context("reading the counters")?;
    let mut deleted = 0;
    for row in rows
        .iter()
        .filter(|row| row.key.starts_with(LOGIN_CLIENT_PREFIX) && row.key.ends_with(&suffix))
    {
        let account = &row.key[LOGIN_CLIENT_PREFIX.len()..row.key.len() - suffix.len()];
        deleted += store.throttle_clear_matching(&row.key, None).await?;
        deleted += store
            .throttle_clear_matching(&format!("{LOGIN_PREFIX}{account}"), None)
            .await?;
    }
    println!("cleared {deleted} counter(s) for client {client}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn keys_are_described_for_operators() {
        assert_eq!(
            describe("login_client:a@example.com|192.0.2.1"),
            ("login failures".into(), "a@example.com from 192.0.2.1".into())
        );
        assert_eq!(
            describe("login:a@example.com"),
            ("login backoff".into(), "a@example.com".into())
        );
        assert_eq!(
            describe("mail:password_reset:a@example.com"),
            ("mail password_reset".into(), "a@example.com".into())
        );
        assert_eq!(describe("mail_global").0, "mail global");
    }
}
