//! `imhotep users ...`: staff tooling for operators without an admin UI. Every action names one
//! user by id (all digits) or by e-mail (any case), prints what it did, and fails with a non-zero
//! exit when the user does not exist or the action is refused. Whatever users wrote (addresses,
//! names) is printed with control characters escaped.

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Subcommand;

use crate::app::connect_store;
use crate::auth::email::key_for;
use crate::auth::notify::queued;
use crate::config::Settings;
use crate::mail::EmailKind;
use crate::store::models::User;
use crate::store::{Store, StoreError};
use crate::terminal::escaped;

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
    /// Let the user log in (sets is_active) and lift a suspension.
    #[command(visible_alias = "unsuspend")]
    Activate {
        /// The user's id, or their e-mail (any case).
        user: String,
    },
    /// Suspend the user: no login, refresh, bearer use, activation link or password reset until
    /// `users activate` (clears is_active, sets suspended, revokes every session).
    #[command(visible_alias = "suspend")]
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
    /// Recompute every user's e-mail key with the current rules (once, after upgrading from a
    /// version with other rules). Exits 1 if an address needs the operator: it has no key under
    /// the new rules (look-alike characters), or its new key belongs to another account.
    Rekey,
    /// Remove every second factor, recovery code and pending MFA ticket of the user (they lost their
    /// device and their codes), so that they log in with the password alone; they are e-mailed.
    MfaReset {
        /// The user's id, or their e-mail (any case).
        user: String,
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
            let mfa = mfa_summary(&store, &user).await?;
            print!("{}", details(&user, mfa));
            Ok(())
        }
        UsersAction::MfaReset { user } => mfa_reset(&store, &user).await,
        UsersAction::Activate { user } => set_flag(&store, &user, Flag::Active, true).await,
        UsersAction::Deactivate { user } => suspend(&store, &user).await,
        UsersAction::SetStaff { user, off } => set_flag(&store, &user, Flag::Staff, !off).await,
        UsersAction::Delete { user, yes } => delete(&store, &user, yes).await,
        UsersAction::Rekey => rekey(&store).await,
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
    } else if let Some(key) = key_for(reference) {
        store.user_by_email(&key).await?
    } else {
        None
    };
    found.with_context(|| format!("no user with {} {}", kind_of(reference), escaped(reference)))
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
    let width = users
        .iter()
        .map(|u| escaped(&u.email).chars().count())
        .max()
        .unwrap_or(0)
        .max(5);
    println!(
        "{:>8}  {:<width$}  {:<6}  {:<5}  {:<9}  {:<19}  last login",
        "id", "email", "active", "staff", "superuser", "date joined"
    );
    for user in &users {
        println!(
            "{:>8}  {:<width$}  {:<6}  {:<5}  {:<9}  {:<19}  {}",
            user.id,
            escaped(&user.email),
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

/// Whether the user logs in with a second factor: `off`, or `on (N factor(s), M recovery code(s) left)`.
async fn mfa_summary(store: &Store, user: &User) -> anyhow::Result<String> {
    let factors = store.mfa_active_factors(user.id).await?;
    if factors == 0 {
        return Ok("off".to_owned());
    }
    let codes = store.mfa_codes_left(user.id).await?;
    Ok(format!("on ({factors} factor(s), {codes} recovery code(s) left)"))
}

/// `users mfa-reset`: one transaction removes the factors, codes and tickets and queues the notice.
async fn mfa_reset(store: &Store, reference: &str) -> anyhow::Result<()> {
    let user = find(store, reference).await?;
    let notice = [queued(EmailKind::MfaFactorRemoved, &user.email)];
    let removed = store.mfa_reset(user.id, &notice).await?;
    if removed == 0 {
        println!(
            "user {} ({}): no second factor; nothing changed",
            user.id,
            escaped(&user.email)
        );
        return Ok(());
    }
    tracing::warn!(
        user_id = user.id,
        factors = removed,
        "second factors reset by an operator"
    );
    println!(
        "user {} ({}): {removed} second factor(s) and the recovery codes removed; the password alone logs in now",
        user.id,
        escaped(&user.email)
    );
    Ok(())
}

/// One user's fields, one per line; the password only as usable or unusable.
fn details(user: &User, mfa: String) -> String {
    let usable = !user.password.is_empty() && !user.password.starts_with('!');
    let rows = [
        ("id", user.id.to_string()),
        ("email", escaped(&user.email).into_owned()),
        ("username", escaped(&user.username).into_owned()),
        ("first name", escaped(&user.first_name).into_owned()),
        ("last name", escaped(&user.last_name).into_owned()),
        ("active", yes_no(user.is_active).to_owned()),
        (
            "suspended",
            user.suspended_at
                .as_ref()
                .map_or_else(|| "no".to_owned(), |at| format!("since {}", timestamp(at))),
        ),
        ("staff", yes_no(user.is_staff).to_owned()),
        ("superuser", yes_no(user.is_superuser).to_owned()),
        ("password", if usable { "usable" } else { "unusable" }.to_owned()),
        ("mfa", mfa),
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
    let lifts_suspension = matches!(flag, Flag::Active) && user.is_suspended();
    if before == value && !lifts_suspension {
        println!(
            "user {} ({}): {name} is already {value}; nothing changed",
            user.id,
            escaped(&user.email)
        );
        return Ok(());
    }
    let (is_active, is_staff) = match flag {
        Flag::Active => (Some(value), None),
        Flag::Staff => (None, Some(value)),
    };
    if !store.set_flags(user.id, is_active, is_staff).await? {
        bail!("user {} ({}) was deleted meanwhile", user.id, escaped(&user.email));
    }
    let lifted = if lifts_suspension { "; suspension lifted" } else { "" };
    println!(
        "user {} ({}): {name} {before} -> {value}{lifted}",
        user.id,
        escaped(&user.email)
    );
    Ok(())
}

/// `users deactivate` / `users suspend`: one transaction that clears `is_active`, marks the
/// suspension and revokes every refresh token (access tokens are refused from the next request).
async fn suspend(store: &Store, reference: &str) -> anyhow::Result<()> {
    let user = find(store, reference).await?;
    if user.is_suspended() {
        println!(
            "user {} ({}): already suspended; nothing changed",
            user.id,
            escaped(&user.email)
        );
        return Ok(());
    }
    if !store.suspend_user(user.id).await? {
        bail!("user {} ({}) was deleted meanwhile", user.id, escaped(&user.email));
    }
    println!(
        "user {} ({}): is_active {} -> false; suspended, refresh tokens revoked",
        user.id,
        escaped(&user.email),
        user.is_active
    );
    Ok(())
}

async fn delete(store: &Store, reference: &str, confirmed: bool) -> anyhow::Result<()> {
    let user = find(store, reference).await?;
    if !confirmed {
        bail!(
            "not deleting user {} ({}) without confirmation: pass --yes to delete the user and their tokens",
            user.id,
            escaped(&user.email)
        );
    }
    if !store.delete_user(user.id, true).await? {
        bail!("user {} ({}) was already deleted", user.id, escaped(&user.email));
    }
    println!("user {} ({}) deleted, with their tokens", user.id, escaped(&user.email));
    Ok(())
}

/// `users rekey`: each user's key as `key_for` gives it now. An address without a key keeps its
/// old one (the account goes on working) and is reported, like a key another account holds.
async fn rekey(store: &Store) -> anyhow::Result<()> {
    let (mut changed, mut problems) = (0, 0);
    for user in store.list_users().await? {
        let Some(key) = key_for(&user.email) else {
            problems += 1;
            println!(
                "user {} ({}): the address has characters that fold onto ASCII and no key under the current rules; \
                 its old key is kept: have the user change it, or suspend or delete the account",
                user.id,
                escaped(&user.email)
            );
            continue;
        };
        match store.set_email_key(user.id, &key).await {
            Ok(true) => {
                changed += 1;
                println!(
                    "user {} ({}): key is now {}",
                    user.id,
                    escaped(&user.email),
                    escaped(&key)
                );
            }
            Ok(false) => {}
            Err(StoreError::EmailTaken) => {
                problems += 1;
                println!(
                    "user {} ({}): its key {} belongs to another account (one mailbox, two accounts); \
                     its old key is kept: keep one of the two",
                    user.id,
                    escaped(&user.email),
                    escaped(&key)
                );
            }
            Err(other) => return Err(other.into()),
        }
    }
    println!("{changed} key(s) changed, {problems} address(es) need attention");
    if problems > 0 {
        bail!("{problems} address(es) need attention (see above)");
    }
    Ok(())
}

fn yes_no(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}

fn timestamp(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}
