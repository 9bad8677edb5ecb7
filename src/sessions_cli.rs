//! `imhotep sessions ...`: operators list sessions and end them (one by id, or all of a user's).
//! Ending a session blacklists its refresh tokens; its access tokens stop working at once on
//! imhotep's own endpoints (with `sessions.check_access_token_session`).

use anyhow::bail;
use chrono::{DateTime, Utc};
use clap::Subcommand;

use crate::app::connect_store;
use crate::config::Settings;
use crate::store::Store;
use crate::store::models::Revocation;
use crate::users_cli::find;

/// What `imhotep sessions` does.
#[derive(Debug, Subcommand)]
pub enum SessionsAction {
    /// List live sessions (neither revoked nor expired), newest first.
    List {
        /// Only this user's (id, or e-mail in any case).
        #[arg(long)]
        user: Option<String>,
    },
    /// End one session by id, or every session of a user with --user.
    Revoke {
        /// The session id shown by `sessions list`.
        #[arg(required_unless_present = "user", conflicts_with = "user")]
        id: Option<String>,
        /// End all of this user's sessions (id, or e-mail in any case).
        #[arg(long)]
        user: Option<String>,
    },
}

/// Runs one `imhotep sessions` action against the configured database.
pub async fn run(settings: &Settings, action: SessionsAction) -> anyhow::Result<()> {
    let store = connect_store(settings).await?;
    match action {
        SessionsAction::List { user } => list(&store, user.as_deref()).await,
        SessionsAction::Revoke { id: Some(id), .. } => {
            if store
                .revoke_sessions(Revocation::Session { id: &id, owner: None })
                .await?
                == 0
            {
                bail!("no live session with id {id}");
            }
            println!("session {id} revoked");
            Ok(())
        }
        SessionsAction::Revoke { user: Some(user), .. } => {
            let user = find(&store, &user).await?;
            let revoked = store
                .revoke_sessions(Revocation::User {
                    user_id: user.id,
                    keep: None,
                })
                .await?;
            println!(
                "user {} ({}): {revoked} session(s) revoked, every refresh token blacklisted",
                user.id, user.email
            );
            Ok(())
        }
        SessionsAction::Revoke { .. } => bail!("name a session id or --user"),
    }
}

async fn list(store: &Store, user: Option<&str>) -> anyhow::Result<()> {
    let user_id = match user {
        Some(reference) => Some(find(store, reference).await?.id),
        None => None,
    };
    let sessions = store.list_sessions(user_id, Utc::now()).await?;
    println!(
        "{:<32}  {:>8}  {:<19}  {:<19}  {:<19}  {:<15}  user agent",
        "id", "user", "created", "last used", "expires", "ip"
    );
    for session in &sessions {
        println!(
            "{:<32}  {:>8}  {:<19}  {:<19}  {:<19}  {:<15}  {}",
            session.id,
            session.user_id.map_or_else(String::new, |id| id.to_string()),
            timestamp(&session.created_at),
            timestamp(&session.last_used_at),
            timestamp(&session.expires_at),
            session.ip.as_deref().unwrap_or("-"),
            session.user_agent.as_deref().unwrap_or("-")
        );
    }
    println!("{} session(s)", sessions.len());
    Ok(())
}

fn timestamp(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}
