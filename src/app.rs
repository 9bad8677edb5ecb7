//! Start-up: settings → store → services → router → a bound listener.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;

use crate::auth::jwt::TokenService;
use crate::auth::keys::KeyRing;
use crate::auth::limits::Limits;
use crate::auth::links::LinkTokens;
use crate::auth::mfa::MfaOptions;
use crate::auth::notify::MailRenderer;
use crate::auth::outbox::Outbox;
use crate::auth::password::PasswordHasher;
use crate::auth::{Accounts, Mfa, Sessions};
use crate::background::Background;
use crate::config::{EmailBackendKind, Settings};
use crate::http::client_ip::ClientIpSource;
use crate::http::connections::{self, ConnectionLimits};
use crate::http::state::Shared;
use crate::http::{self, AppState};
use crate::mail::{Backend, Mailer, SmtpSettings, Templates};
use crate::metrics::Metrics;
use crate::store::{Store, StoreOptions};

/// A configured server bound to its port, not yet serving.
pub struct Application {
    listener: TcpListener,
    router: Router,
    store: Store,
    outbox: Outbox,
    background: Background,
    shutdown_timeout: Duration,
    outbox_drain: Duration,
    limits: ConnectionLimits,
}

impl Application {
    /// Connects the database (migrating it if configured), builds every service and binds the port.
    /// `settings.secret_key` must already be set (see [`Settings::ensure_secret_key`]).
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let store = connect_store(&settings).await?;
        if settings.database.migrate_on_start {
            store.migrate().await.context("running database migrations")?;
        }
        let (state, outbox) = build_state(settings, store.clone())?;
        let address = format!("{}:{}", state.settings.server.host, state.settings.server.port);
        let listener = TcpListener::bind(&address)
            .await
            .with_context(|| format!("binding {address}"))?;
        let background = Background::prepare(&state).await?;
        Ok(Application {
            listener,
            shutdown_timeout: state.settings.server.shutdown_timeout,
            outbox_drain: state.settings.outbox.drain_timeout,
            limits: connection_limits(&state.settings),
            router: http::router(state).map_err(anyhow::Error::msg)?,
            store,
            outbox,
            background,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until SIGTERM or Ctrl-C, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `signal` completes, then drains in-flight requests for at most the shutdown
    /// timeout. The outbox worker runs alongside and stops after the server, between batches; the
    /// batch in flight gets `outbox.drain_timeout`, then is dropped (its leases bring it back).
    pub async fn run_until(self, signal: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let (stop_workers, workers_stopped) = tokio::sync::watch::channel(());
        let background = self.background.spawn(workers_stopped.clone());
        let mut outbox = tokio::spawn(self.outbox.run_until(async move {
            let mut stopped = workers_stopped;
            // Resolves when the sender is dropped, after the server has stopped.
            let _ = stopped.changed().await;
        }));
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let server = connections::serve(self.listener, self.router, self.limits, async move {
            signal.await;
            let _ = started_tx.send(());
        });
        let grace = self.shutdown_timeout;
        let drained = async move {
            let _ = started_rx.await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            () = server => {},
            () = drained => tracing::warn!("shutdown grace period over; dropping remaining connections"),
        }
        drop(stop_workers);
        if tokio::time::timeout(self.outbox_drain, &mut outbox).await.is_err() {
            tracing::warn!(
                drain_timeout = ?self.outbox_drain,
                "outbox: messages still being sent at the drain deadline; they are sent again after their lease"
            );
            outbox.abort();
        }
        for task in background {
            let _ = task.await;
        }
        self.store.close().await;
        Ok(())
    }
}

/// The `[server]` limits on client connections, for the main listener and the metrics one.
pub fn connection_limits(settings: &Settings) -> ConnectionLimits {
    let server = &settings.server;
    ConnectionLimits {
        header_read_timeout: server.header_read_timeout,
        keep_alive_timeout: server.keep_alive_timeout,
        max_connections: server.max_connections,
    }
}

/// Opens the database named by `DATABASE_URL`.
pub async fn connect_store(settings: &Settings) -> anyhow::Result<Store> {
    let options = StoreOptions {
        max_connections: settings.database.pool_size(),
        acquire_timeout: settings.database.acquire_timeout,
    };
    Store::connect(settings.database.url.expose(), &options)
        .await
        .context("connecting to the database")
}

/// Builds the services the handlers use, and the outbox worker that delivers their e-mail. Refuses an
/// empty `SECRET_KEY`: links (and by default tokens) would be signed with a key anyone knows.
pub fn build_state(settings: Settings, store: Store) -> anyhow::Result<(AppState, Outbox)> {
    anyhow::ensure!(
        !settings.secret_key.expose().is_empty(),
        "SECRET_KEY is empty: set it (with DEBUG=true a random one is made at start-up)"
    );
    let keys = KeyRing::load(&settings).map_err(anyhow::Error::msg)?;
    let tokens = TokenService::new(&settings.simple_jwt, keys.clone()).map_err(anyhow::Error::msg)?;
    let links = LinkTokens::new(
        settings.secret_key.expose(),
        settings.djoser.password_reset_timeout,
        settings.djoser.accept_django_links,
    );
    let mailer = Mailer::new(mail_backend(&settings), &settings.email.default_from_email)
        .context("configuring e-mail (DEFAULT_FROM_EMAIL)")?;
    let templates = Templates::load(settings.email.templates_dir.as_deref()).context("loading e-mail templates")?;
    let renderer = MailRenderer::new(templates, links.clone(), &settings.djoser);
    let metrics = Metrics::default();
    let outbox = Outbox::new(
        store.clone(),
        renderer,
        mailer,
        settings.outbox.clone(),
        metrics.clone(),
    );
    let concurrency = match settings.server.hash_concurrency {
        0 => std::thread::available_parallelism().map_or(2, usize::from),
        n => n,
    };
    let queue_limit = match settings.server.hash_queue_limit {
        0 => concurrency.saturating_mul(4),
        n => n,
    };
    let accounts = Accounts::new(
        store.clone(),
        PasswordHasher::new(concurrency)
            .with_queue_limit(queue_limit)
            .with_metrics(metrics.clone()),
        links,
        (&settings.djoser, &settings.sessions),
        outbox.bell(),
        Limits::new(store.clone(), &settings.throttle, metrics.clone()),
        metrics.clone(),
    );
    let mfa = Mfa::new(
        store.clone(),
        &mfa_options(&settings),
        Limits::new(store.clone(), &settings.throttle, metrics.clone()),
        outbox.bell(),
        metrics.clone(),
    );
    let sessions = Sessions::new(
        store.clone(),
        tokens,
        (&settings.simple_jwt, &settings.sessions),
        metrics.clone(),
    );
    let client_ip = Arc::new(ClientIpSource::new(&settings.throttle));
    let state = AppState::new(Shared {
        settings: Arc::new(settings),
        accounts: Arc::new(accounts),
        sessions: Arc::new(sessions),
        mfa: Arc::new(mfa),
        store,
        metrics,
        client_ip,
        keys,
    });
    Ok((state, outbox))
}

/// Two-factor login's part of the settings.
fn mfa_options(settings: &Settings) -> MfaOptions {
    let issuer = match settings.mfa.issuer.as_str() {
        "" => settings.djoser.email_frontend_site_name.clone(),
        issuer => issuer.to_owned(),
    };
    MfaOptions {
        key_material: settings.mfa.key_material(&settings.secret_key).to_vec(),
        issuer,
        ticket_lifetime: settings.mfa.ticket_lifetime,
        required_for_staff: settings.djoser.mfa_required_for_staff,
    }
}

fn mail_backend(settings: &Settings) -> Backend {
    let email = &settings.email;
    match email.backend {
        EmailBackendKind::Console => Backend::Console,
        EmailBackendKind::Smtp => Backend::Smtp(SmtpSettings {
            host: email.host.clone(),
            port: email.port,
            username: email.host_user.clone(),
            password: Some(email.host_password.expose().to_owned()).filter(|p| !p.is_empty()),
            use_tls: email.use_tls,
            use_ssl: email.use_ssl,
            timeout: email.timeout,
        }),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
