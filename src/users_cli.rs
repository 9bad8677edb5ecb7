//! `imhotep users ...`: staff tooling for operators without an admin UI. Every action names one
//! user by id (all digits) or by e-mail (any case), prints what it did, and fails with a non-zero
//! exit when the user does not exist or the action is refused.

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Subcommand;

use crate::app::connect_store;
use crate::auth::email::key_for;
use crate::config::Settings;
use crate::store::Store;
use crate::store::models::{Revocation, User};

/// What `imhotep users` does.
#[derive(Debug, Subcommand)]
pub enum UsersAction {
    /// List every user: id, e-mail, flags, date joined, last login.
    List,
    /// Show one user's fields (never the password hash).
    Show {
        /// The user's id, or their e-mail (any case).
        user: String,
    },
    /// Let the user log in (sets is_active).
    Activate {
        /// The user's id, or their e-mail (any case).
        user: String,
    },
    /// Stop the user logging in; their sessions are revoked and their access tokens stop working too
    /// (clears is_active).
    Deactivate {
        /// The user's id, or their e-mail (any case).
        user: String,
    },
    /// Make the user staff (sets is_staff), or no longer staff with --off.
    SetStaff {
        /// The user's id, or their e-mail (any case).
        user: String,
        /// Clear is_staff instead of setting it.
        #[arg(long)]
        off: bool,
    },
    /// Delete the user and their token rows. Refuses without --yes.
    Delete {
        /// The user's id, or their e-mail (any case).
        user: String,
        /// Confirm the deletion (there is no prompt).
        #[arg(long)]
        yes: bool,
    },
}

/// Runs one `imhotep users` action against the configured database.
pub async fn run(settings: &Settings, action: UsersAction) -> anyhow::Result<()> {
    let store = connect_store(settings).await?;
    match action {
        UsersAction::List => list(&store).await,
        UsersAction::Show { user } => {
            let user = find(&store, &user).await?;
            print!("{}", details(&user));
            Ok(())
        }
        UsersAction::Activate { user } => set_flag(&store, &user, Flag::Active, true).await,
        UsersAction::Deactivate { user } => set_flag(&store, &user, Flag::Active, false).await,
        UsersAction::SetStaff { user, off } => set_flag(&store, &user, Flag::Staff, !off).await,
        UsersAction::Delete { user, yes } => delete(&store, &user, yes).await,
    }
}

/// Looks a user up by id (an argument of digits only) or by case-folded e-mail.
pub(crate) async fn find(store: &Store, reference: &str) -> anyhow::Result<User> {
    let reference = reference.trim();
    if reference.is_empty() {
        bail!("name a user by id or e-mail");
    }
    let found = if reference.bytes().all(|b| b.is_ascii_digit()) {
        match reference.parse::<i64>() {
            Ok(id) => store.user_by_id(id).await?,
            Err(_) => None,
        }
    } else {
        store.user_by_email(&key_for(reference)).await?
    };
    found.with_context(|| format!("no user with {} {reference}", kind_of(reference)))
}

fn kind_of(reference: &str) -> &'static str {
    if reference.bytes().all(|b| b.is_ascii_digit()) {
        "id"
    } else {
        "e-mail"
    }
}

async fn list(store: &Store) -> anyhow::Result<()> {
    let users = store.list_users().await?;
    let width = users.iter().map(|u| u.email.chars().count()).max().unwrap_or(0).max(5);
    println!(
        "{:>8}  {:<width$}  {:<6}  {:<5}  {:<9}  {:<19}  last login",
        "id", "email", "active", "staff", "superuser", "date joined"
    );
    for user in &users {
        println!(
            "{:>8}  {:<width$}  {:<6}  {:<5}  {:<9}  {:<19}  {}",
            user.id,
            user.email,
            yes_no(user.is_active),
            yes_no(user.is_staff),
            yes_no(user.is_superuser),
            timestamp(&user.date_joined),
            user.last_login.as_ref().map_or_else(|| "never".to_owned(), timestamp)
        );
    }
    println!("{} user(s)", users.len());
    Ok(())
}

/// One user's fields, one per line; the password only as usable or unusable.
fn details(user: &User) -> String {
    let usable = !user.password.is_empty() && !user.password.starts_with('!');
    let rows = [
        ("id", user.id.to_string()),
        ("email", user.email.clone()),
        ("username", user.username.clone()),
        ("first name", user.first_name.clone()),
        ("last name", user.last_name.clone()),
        ("active", yes_no(user.is_active).to_owned()),
        ("staff", yes_no(user.is_staff).to_owned()),
        ("superuser", yes_no(user.is_superuser).to_owned()),
        ("password", if usable { "usable" } else { "unusable" }.to_owned()),
        ("date joined", timestamp(&user.date_joined)),
        (
            "last login",
            user.last_login.as_ref().map_or_else(|| "never".to_owned(), timestamp),
        ),
    ];
    rows.iter()
        .map(|(name, value)| format!("{:<12} {value}", format!("{name}:")).trim_end().to_owned() + "\n")
        .collect()
}

#[derive(Debug, Clone, Copy)]
enum Flag {
    Active,
    Staff,
}

async fn set_flag(store: &Store, reference: &str, flag: Flag, value: bool) -> anyhow::Result<()> {
    let user = find(store, reference).await?;
    let (name, before) = match flag {
        Flag::Active => ("is_active", user.is_active),
        Flag::Staff => ("is_staff", user.is_staff),
    };
    if before == value {
        println!(
            "user {} ({}): {name} is already {value}; nothing changed",
            user.id, user.email
        );
        return Ok(());
    }
    let (is_active, is_staff) = match flag {
        Flag::Active => (Some(value), None),
        Flag::Staff => (None, Some(value)),
    };
    if !store.set_flags(user.id, is_active, is_staff).await? {
        bail!("user {} ({}) was deleted meanwhile", user.id, user.email);
    }
    println!("user {} ({}): {name} {before} -> {value}", user.id, user.email);
    if is_active == Some(false) {
        let revoked = store
            .revoke_sessions(Revocation::User {
                user_id: user.id,
                keep: None,
            })
            .await?;
        println!("user {} ({}): {revoked} session(s) revoked", user.id, user.email);
    }
    Ok(())
}

async fn delete(store: &Store, reference: &str, confirmed: bool) -> anyhow::Result<()> {
    let user = find(store, reference).await?;
    if !confirmed {
        bail!(
            "not deleting user {} ({}) without confirmation: pass --yes to delete the user and their tokens",
            user.id,
            user.email
        );
    }
    if !store.delete_user(user.id, true).await? {
        bail!("user {} ({}) was already deleted", user.id, user.email);
    }
    println!("user {} ({}) deleted, with their tokens", user.id, user.email);
    Ok(())
}

fn yes_no(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}

fn timestamp(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}
