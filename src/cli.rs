//! The command line: `serve` (the default), `migrate`, `createsuperuser`, `check`, `flushexpiredtokens`,
//! `import-django` and the operator tools (`outbox`, `users`, `sessions`, `keys`).

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::Utc;
use clap::{Parser, Subcommand};

use crate::app::{Application, build_state, connect_store};
use crate::auth::AuthError;
use crate::auth::email::Email;
use crate::auth::password::Password;
use crate::config::{Settings, mask_url};
use crate::mail::mask_address;
use crate::store::models::OutboxStatus;
use crate::telemetry;
use crate::terminal::escaped;

/// A fast, self-hosted authentication server that speaks Djoser + SimpleJWT.
#[derive(Debug, Parser)]
#[command(name = "imhotep", version, about, long_about = None)]
pub struct Cli {
    /// A TOML file layered over config/default.toml and config/$IMHOTEP_ENV.toml (the environment still wins).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API on HOST:PORT (the default command). Runs pending migrations first unless
    /// database.migrate_on_start is false.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create an active staff superuser.
    Createsuperuser {
        /// The superuser's e-mail (the login).
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Validate the configuration, connect to the database and print what `serve` would run with (secrets masked).
    Check {
        /// Instead, print what a cut-over from Django needs and verify what can be verified (exit 1 on a failure).
        #[arg(long)]
        django_compat: bool,
    },
    /// Delete expired outstanding refresh tokens and their blacklist entries (run it from cron).
    Flushexpiredtokens,
    /// Inspect the e-mail outbox, or queue a failed message again.
    Outbox {
        #[command(subcommand)]
        action: OutboxAction,
    },
    /// Copy a Django deployment's users and SimpleJWT tokens into this database (one transaction).
    ImportDjango(crate::import::ImportArgs),
    /// Inspect and manage users: list, show, activate, deactivate, set-staff, delete.
    Users {
        #[command(subcommand)]
        action: crate::users_cli::UsersAction,
    },
    /// Show active login backoffs and e-mail holds, or lift them.
    Throttle {
        #[command(subcommand)]
        action: crate::throttle_cli::ThrottleAction,
    },
    /// List sessions, or end one (by id) or all of a user's (--user).
    Sessions {
        #[command(subcommand)]
        action: crate::sessions_cli::SessionsAction,
    },
    /// Make JWT signing keys: `keys generate --algorithm EdDSA|ES256|RS256 [--kid K] [--public]`.
    Keys {
        #[command(subcommand)]
        action: crate::keys_cli::KeysAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum OutboxAction {
    /// List the newest messages (recipients masked).
    List {
        /// Only messages with this status: pending, sending, sent or failed.
        #[arg(long)]
        status: Option<OutboxStatus>,
        /// How many to show.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Queue a failed message again, with a fresh set of attempts.
    Retry {
        /// The message id shown by `outbox list`.
        id: i64,
    },
}

/// Runs one command to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(Command::Keys { action }) = cli.command {
        // Key generation needs no configuration: it must work before any is written.
        return crate::keys_cli::run(action);
    }
    let mut settings = Settings::load(cli.config.as_deref())?;
    telemetry::init(settings.log.json(settings.debug));
    let ignored = crate::config::ignored_environment();
    if !ignored.is_empty() {
        tracing::debug!(names = ?ignored, "ignoring IMHOTEP_* environment variables that are not IMHOTEP_<SECTION>__<KEY> settings");
    }
    let generated = settings.ensure_secret_key()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            if generated {
                tracing::warn!(
                    "SECRET_KEY is not set: using a random key (DEBUG=true); tokens and links will not survive a restart"
                );
            }
            let app = Application::build(settings).await?;
            tracing::info!(address = %app.local_addr()?, "imhotep is serving");
            app.run_until_stopped().await
        }
        Command::Migrate => {
            let store = connect_store(&settings).await?;
            store.migrate().await?;
            println!("migrations applied ({})", store.backend_name());
            Ok(())
        }
        Command::Createsuperuser { email, password_stdin } => create_superuser(settings, &email, password_stdin).await,
        Command::Check { django_compat: false } => check(settings, generated).await,
        Command::Check { django_compat: true } => {
            if !crate::import::compat::print(&crate::import::compat::findings(&settings, generated)) {
                bail!("the configuration is not ready for a cut-over from Django");
            }
            Ok(())
        }
        Command::ImportDjango(args) => crate::import::run(&settings, args).await,
        Command::Outbox { action } => outbox(&settings, action).await,
        Command::Users { action } => crate::users_cli::run(&settings, action).await,
        Command::Throttle { action } => crate::throttle_cli::run(&settings, action).await,
        Command::Sessions { action } => crate::sessions_cli::run(&settings, action).await,
        Command::Keys { action } => crate::keys_cli::run(action),
        Command::Flushexpiredtokens => {
            let store = connect_store(&settings).await?;
            let deleted = store.flush_expired_tokens(Utc::now()).await?;
            println!("deleted {deleted} expired outstanding token(s)");
            Ok(())
        }
    }
}

async fn create_superuser(settings: Settings, email: &str, password_stdin: bool) -> anyhow::Result<()> {
    let email = Email::parse(email.trim()).context("--email is not a valid e-mail address")?;
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Password (again): ")?;
        if first != again {
            bail!("the two passwords didn't match");
        }
        first
    };
    let password = Password::new(password.trim());
    if password.expose().is_empty() {
        bail!("the password may not be blank");
    }
    let store = connect_store(&settings).await?;
    store.migrate().await?;
    let (state, _) = build_state(settings, store)?;
    let problems = state.accounts.password_problems(&password, None);
    if !problems.is_empty() {
        bail!("password rejected: {}", problems.join(" "));
    }
    match state.accounts.create_superuser(&email, &password).await {
        Ok(user) => {
            println!("superuser {} created (id {})", escaped(&user.email), user.id);
            Ok(())
        }
        Err(AuthError::EmailTaken) => bail!("a user with the e-mail {} already exists", escaped(email.as_str())),
        Err(other) => Err(other.into()),
    }
}

async fn outbox(settings: &Settings, action: OutboxAction) -> anyhow::Result<()> {
    let store = connect_store(settings).await?;
    match action {
        OutboxAction::List { status, limit } => {
            let entries = store.list_mail(status, limit).await?;
            println!(
                "{:>8}  {:<30}  {:<28}  {:<8}  {:>8}  {:<20}  last error",
                "id", "kind", "recipient", "status", "attempts", "next attempt"
            );
            for entry in entries {
                println!(
                    "{:>8}  {:<30}  {:<28}  {:<8}  {:>8}  {:<20}  {}",
                    entry.id,
                    escaped(&entry.kind.to_string()),
                    mask_address(&entry.recipient),
                    entry.status,
                    entry.attempts,
                    entry.next_attempt_at.format("%Y-%m-%d %H:%M:%S"),
                    escaped(entry.last_error.as_deref().unwrap_or_default())
                );
            }
            Ok(())
        }
        OutboxAction::Retry { id } => {
            if !store.retry_mail(id).await? {
                bail!("message {id} is not a failed message");
            }
            println!("message {id} queued again; a running server delivers it within its poll interval");
            Ok(())
        }
    }
}

async fn check(settings: Settings, generated_key: bool) -> anyhow::Result<()> {
    let store = connect_store(&settings).await?;
    store.ping().await?;
    println!(
        "database: {} ({}, a pool of {}) reachable",
        mask_url(settings.database.url.expose()),
        store.backend_name(),
        settings.database.pool_size()
    );
    if generated_key {
        println!("SECRET_KEY: not set; serve would use a random key (DEBUG=true)");
    }
    let (state, _) = build_state(settings, store)?;
    let aliases = crate::http::routes::aliases(&state.settings.routes).map_err(anyhow::Error::msg)?;
    println!("{}", printable(&state.settings)?);
    println!("JWT keys (kid:use:algorithm): {}", state.keys.current().summary());
    println!("endpoints (names for [routes.aliases]):");
    for (name, path) in crate::http::routes::ENDPOINTS
        .iter()
        .chain(crate::http::routes::SERVICE_ENDPOINTS)
    {
        // `<id>`, not `{id}`: the settings above are the only braces in this output.
        println!("  {name:<30} {}", path.replace("{id}", "<id>"));
    }
    for (path, name) in &aliases {
        println!("  alias {path} -> {name}");
    }
    let cookies = &state.settings.cookies;
    match &cookies.jwt_auth_refresh_cookie {
        Some(name) => println!(
            "browser mode: refresh cookie {} on path {}",
            crate::http::prefixed_cookie_name(cookies, name),
            crate::http::refresh_cookie_path(cookies, &aliases)
        ),
        None => println!("browser mode: off (cookies.jwt_auth_refresh_cookie is not set)"),
    }
    println!("configuration OK");
    Ok(())
}

fn printable(settings: &Settings) -> anyhow::Result<String> {
    let value = serde_json::to_value(settings)?;
    Ok(serde_json::to_string_pretty(&value)?)
}
