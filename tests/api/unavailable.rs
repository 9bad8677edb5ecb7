//! The 503 answers: a request that outlives `server.request_timeout`, and a database that goes away
//! under a running server. Both say so in a JSON `detail` with a `Retry-After`, never a 500. And the
//! pool's recovery: connections the database ended while they sat idle are replaced unseen.

use std::time::Duration;

use imhotep::config::Secret;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::helpers::{Backend, PASSWORD, spawn_app_with};

/// The timeout's 503 is JSON with `Retry-After`, like the other 503s.
async fn a_request_past_the_timeout_is_answered_503_with_a_detail_and_retry_after(db: Backend) {
    // Every login verifies a password (a dummy one for an unknown address), far longer than 1 ms.
    let Some(app) = spawn_app_with(db, |s| s.server.request_timeout = Duration::from_millis(1)).await else {
        return;
    };

    let answer = app.login("nobody@example.com", PASSWORD).await;

    answer.assert(503, r#"{"detail":"The request took too long; try again later."}"#);
    assert_eq!(answer.header("retry-after"), Some("5"));
    assert_eq!(answer.header("content-type"), Some("application/json"));
}

/// A TCP relay between the server and PostgreSQL that can be cut: every relayed connection is
/// closed and new ones are refused, as when the database host goes away.
struct Relay {
    port: u16,
    tasks: JoinSet<()>,
}

impl Relay {
    async fn start(target: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let port = listener.local_addr().expect("relay address").port();
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                connections.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Relay { port, tasks }
    }

    /// Closes the listener and every relayed connection (aborting the accept task drops its
    /// `JoinSet`, which aborts the connections).
    async fn cut(mut self) {
        self.tasks.shutdown().await;
    }
}

/// PostgreSQL only: SQLite is a file inside the server's process and cannot go away like this.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_goes_away_gives_503_not_500() {
    let admin = crate::helpers::postgres_admin_url();
    let host_port = admin
        .split_once('@')
        .map_or(admin.as_str(), |(_, rest)| rest)
        .split('/')
        .next()
        .expect("host:port")
        .to_owned();
    let relay = Relay::start(host_port.clone()).await;
    let relay_port = relay.port;
    let Some(app) = spawn_app_with(Backend::Postgres, |s| {
        let url = s
            .database
            .url
            .expose()
            .replacen(&host_port, &format!("127.0.0.1:{relay_port}"), 1);
        s.database.url = Secret::new(url);
        s.database.acquire_timeout = Duration::from_millis(500);
    })
    .await
    else {
        return;
    };
    app.login("nobody@example.com", PASSWORD).await.assert(
        401,
        r#"{"detail":"No active account found with the given credentials"}"#,
    );

    relay.cut().await;

    let login = app.login("nobody@example.com", PASSWORD).await;
    login.assert(503, r#"{"detail":"Service temporarily unavailable, try again later."}"#);
    assert_eq!(login.header("retry-after"), Some("5"));
    let ready = app.send(|c| c.get(format!("{}/readyz", app.address))).await;
    assert_eq!(ready.status, 503, "{}", ready.text);
}

/// PostgreSQL only. The pool lends a connection in steady use without pinging it (a round trip per
/// query saved), but one that sat idle for a second or more is pinged first and replaced when the
/// database ended it meanwhile (restart, failover, a proxy's idle timeout): the request succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_the_database_ended_while_idle_are_replaced() {
    // No background work that would find the ended connections before the request does: the outbox
    // worker wakes only when mail is queued, housekeeping is off.
    let Some(app) = spawn_app_with(Backend::Postgres, |s| {
        s.outbox.poll_interval = Duration::from_secs(3600);
        s.housekeeping.enabled = false;
    })
    .await
    else {
        return;
    };
    let (access, _) = app.tokens_for("idle@example.com").await;
    assert_eq!(app.me(&access).await.status, 200);

    let ended = app
        .scalar(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()) AS ended",
        )
        .await;
    assert!(ended > 0, "the server held no connection to end");
    // Idle past the pool's ping threshold (1 s): the ended connections must be noticed, not used.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    for _ in 0..3 {
        let me = app.me(&access).await;
        assert_eq!(me.status, 200, "{}", me.text);
    }
}

crate::on_both_databases!(a_request_past_the_timeout_is_answered_503_with_a_detail_and_retry_after);
