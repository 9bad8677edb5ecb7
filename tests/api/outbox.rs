//! The durable outbox: e-mail survives an SMTP outage, 4xx replies and a crashed worker, is given
//! up on when refused for good, and is delivered once by any number of instances.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::helpers::{Backend, PASSWORD, eventually, serve, spawn_app_with, test_settings};
use crate::smtp::{Behaviour, SmtpSink};

async fn mail_queued_while_smtp_is_down_arrives_once_it_is_back(db: Backend) {
    let port = SmtpSink::free_port();
    let Some(app) = spawn_app_with(db, |s| s.email.port = port).await else {
        return;
    };
    let started = Instant::now();
    app.register("alice@example.com", PASSWORD)
        .await
        .assert(201, r#"{"email":"alice@example.com","id":1}"#);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "registration must not wait for SMTP"
    );
    let pending = "SELECT count(*) FROM email_outbox WHERE status IN ('pending', 'sending') AND kind = 'activation'";
    assert_eq!(app.scalar(pending).await, 1, "the mail was committed with the user");
    eventually("a delivery attempt", || async {
        app.scalar("SELECT count(*) FROM email_outbox WHERE attempts >= 1")
            .await
            == 1
    })
    .await;

    let sink = SmtpSink::start_on(port, Behaviour::Accept).await;
    let delivered = sink.drain(Duration::from_secs(3)).await;
    assert_eq!(delivered.len(), 1, "delivered exactly once");
    assert!(delivered[0].data.contains("/activate/MQ/"));
    assert_eq!(
        app.scalar("SELECT count(*) FROM email_outbox WHERE status = 'sent'")
            .await,
        1
    );
}

async fn a_deferring_smtp_server_gets_the_mail_once(db: Backend) {
    let sink = SmtpSink::start_on(0, Behaviour::DeferFirst(2)).await;
    let Some(app) = spawn_app_with(db, |s| s.email.port = sink.port).await else {
        return;
    };
    app.register("alice@example.com", PASSWORD).await;
    let delivered = sink.drain(Duration::from_secs(3)).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        app.scalar("SELECT count(*) FROM email_outbox WHERE status = 'sent' AND attempts = 3")
            .await,
        1
    );
}

async fn refused_mail_is_marked_failed_and_can_be_retried(db: Backend) {
    let sink = SmtpSink::start_on(0, Behaviour::Reject).await;
    let Some(app) = spawn_app_with(db, |s| s.email.port = sink.port).await else {
        return;
    };
    app.register("alice@example.com", PASSWORD).await;
    wait_for(&app, "SELECT count(*) FROM email_outbox WHERE status = 'failed'", 1).await;
    let listed = outbox_cli(&app.database_url, &["list", "--status", "failed"]);
    assert!(
        listed.contains("activation") && listed.contains("a***@example.com") && listed.contains("550"),
        "{listed}"
    );
    assert!(!listed.contains("alice@example.com"), "recipients are masked: {listed}");
    let unknown = run_outbox_cli(&app.database_url, &["list", "--status", "bounced"]);
    let error = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        unknown.status.code() == Some(2)
            && error.contains("unknown status \"bounced\": use pending, sending, sent or failed"),
        "{error}"
    );
    let retried = outbox_cli(&app.database_url, &["retry", "1"]);
    assert!(retried.contains("queued again"), "{retried}");
    wait_for(
        &app,
        "SELECT count(*) FROM email_outbox WHERE status = 'failed' AND attempts = 1",
        1,
    )
    .await;
}

async fn transient_failures_give_up_after_the_configured_attempts(db: Backend) {
    let sink = SmtpSink::start_on(0, Behaviour::DeferFirst(usize::MAX)).await;
    let Some(app) = spawn_app_with(db, |s| {
        s.email.port = sink.port;
        s.outbox.max_attempts = 3;
    })
    .await
    else {
        return;
    };
    app.register("alice@example.com", PASSWORD).await;
    wait_for(
        &app,
        "SELECT count(*) FROM email_outbox WHERE status = 'failed' AND attempts = 3",
        1,
    )
    .await;
}

async fn a_claim_left_by_a_crashed_worker_is_delivered(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| s.djoser.send_activation_email = false).await else {
        return;
    };
    app.register("alice@example.com", PASSWORD).await;
    app.mail.next().await;
    // A worker that died after claiming leaves the row 'sending' until its lease lapses.
    app.execute(
        "INSERT INTO email_outbox (kind, user_id, recipient, status, attempts, next_attempt_at, created_at) \
         VALUES ('password_reset', 1, 'alice@example.com', 'sending', 1, '2001-01-01T00:00:00+00:00', '2001-01-01T00:00:00+00:00')",
    )
    .await;
    let mail = app.mail.next().await;
    assert_eq!(mail.header("Subject").as_deref(), Some("Password reset on imhotep"));
}

async fn two_instances_deliver_a_burst_once(db: Backend) {
    let Some(app) = spawn_app_with(db, |_| {}).await else {
        return;
    };
    let (_second, _stop) = serve(test_settings(&app.database_url, app.mail.port)).await;
    const BURST: i64 = 200;
    let users: Vec<String> = (1..=BURST)
        .map(|n| {
            format!(
                "('user{n}@example.com', 'user{n}@example.com', '!', true, false, false, '2001-01-01T00:00:00+00:00')"
            )
        })
        .collect();
    app.execute(&format!(
        "INSERT INTO users (email, email_key, password, is_active, is_staff, is_superuser, date_joined) VALUES {}",
        users.join(", ")
    ))
    .await;
    let started = Instant::now();
    app.execute(
        "INSERT INTO email_outbox (kind, user_id, recipient, status, next_attempt_at, created_at) \
         SELECT 'confirmation', id, email, 'pending', '2001-01-01T00:00:00+00:00', '2001-01-01T00:00:00+00:00' FROM users",
    )
    .await;
    let delivered = app.mail.drain(Duration::from_secs(3)).await;
    let elapsed = started.elapsed().saturating_sub(Duration::from_secs(3));
    let recipients: HashSet<String> = delivered.iter().map(|m| m.header("To").unwrap_or_default()).collect();
    assert_eq!(delivered.len() as i64, BURST, "no duplicate, no loss");
    assert_eq!(recipients.len() as i64, BURST);
    assert_eq!(
        app.scalar("SELECT count(*) FROM email_outbox WHERE status = 'sent'")
            .await,
        BURST
    );
    eprintln!(
        "outbox: {BURST} mails by two instances in {elapsed:?} ({:.0}/s)",
        BURST as f64 / elapsed.as_secs_f64()
    );
}

async fn wait_for(app: &crate::helpers::TestApp, query: &str, expected: i64) {
    for _ in 0..100 {
        if app.scalar(query).await == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{query} never reached {expected}");
}

/// Runs `imhotep outbox ...` (the real binary) against the test database.
fn outbox_cli(database_url: &str, args: &[&str]) -> String {
    let output = run_outbox_cli(database_url, args);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn run_outbox_cli(database_url: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_imhotep"))
        .arg("outbox")
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("DEBUG", "true")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run imhotep outbox")
}

crate::on_both_databases!(
    mail_queued_while_smtp_is_down_arrives_once_it_is_back,
    a_deferring_smtp_server_gets_the_mail_once,
    refused_mail_is_marked_failed_and_can_be_retried,
    transient_failures_give_up_after_the_configured_attempts,
    a_claim_left_by_a_crashed_worker_is_delivered,
    two_instances_deliver_a_burst_once,
);

/// At shutdown, a delivery stuck on an SMTP server that never answers holds the stop up for
/// `outbox.drain_timeout`, not for the SMTP timeout; the message's lease brings it back later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_delivery_holds_shutdown_up_for_the_drain_timeout_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = crate::binary::sqlite_url(&dir, "drain.db");
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let mut settings = test_settings(&url, silent.local_addr().expect("bound").port());
    settings.email.timeout = Duration::from_secs(60);
    settings.outbox.drain_timeout = Duration::from_millis(500);
    settings.server.shutdown_timeout = Duration::from_secs(1);
    let app = imhotep::app::Application::build(settings)
        .await
        .expect("the application builds");
    let address = format!("http://{}", app.local_addr().expect("bound address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let body = serde_json::json!({ "email": "ada@example.com", "password": PASSWORD, "re_password": PASSWORD });
    let registered = reqwest::Client::new()
        .post(format!("{address}/api/auth/users/"))
        .json(&body)
        .send()
        .await
        .expect("registration sent");
    assert_eq!(registered.status(), 201);
    // The worker connects for the activation e-mail and waits for a greeting that never comes.
    let (_connection, _) = tokio::time::timeout(Duration::from_secs(10), silent.accept())
        .await
        .expect("the worker connects")
        .expect("accepted");
    let asked = Instant::now();
    drop(stop);
    tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .expect("the server stopped before the SMTP timeout")
        .expect("the server task joins")
        .expect("the server ran");
    let took = asked.elapsed();
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
}
