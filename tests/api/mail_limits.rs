//! E-mail abuse limits: per-recipient spacing that answers known and unknown addresses alike, the
//! deployment-wide cap that queues nothing without changing answers, equal timing of the link
//! requests, the outbox and counter purge, and `imhotep throttle` for operators.

use std::time::{Duration, Instant};

use imhotep::config::Rate;
use serde_json::json;

use crate::helpers::{Answer, Backend, PASSWORD, TestApp, spawn_app_with};

async fn request(app: &TestApp, path: &str, email: &str) -> Answer {
    app.post(path, &json!({ "email": email }), None).await
}

/// Status, body and the headers a client could tell apart (not the request id or the date).
fn shape(answer: &Answer) -> (u16, String, Vec<(String, String)>) {
    let mut headers: Vec<(String, String)> = answer
        .headers
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "x-request-id" | "date"))
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or_default().to_owned()))
        .collect();
    headers.sort();
    (answer.status.as_u16(), answer.text.clone(), headers)
}

async fn a_repeat_within_the_interval_is_refused_alike_for_known_and_unknown(db: Backend) {
    let Some(app) = spawn_app_with(db, |_| {}).await else {
        return;
    };
    app.active_user("alice@example.com").await;
    for path in ["users/reset_password/", "users/reset_email/"] {
        let known = request(&app, path, "alice@example.com").await;
        let unknown = request(&app, path, "nobody@example.com").await;
        assert_eq!(shape(&known), shape(&unknown));
        assert_eq!(known.status, 204);
        let known = request(&app, path, "ALICE@example.com").await;
        let unknown = request(&app, path, "nobody@EXAMPLE.com").await;
        assert_eq!(shape(&known), shape(&unknown), "{path}");
        assert_eq!(known.status, 429);
        assert_eq!(known.header("retry-after"), Some("60"));
    }
    // One reset mail of each kind reached alice.
    let mut subjects: Vec<String> = Vec::new();
    for _ in 0..2 {
        subjects.push(app.mail.next().await.header("Subject").unwrap_or_default());
    }
    assert!(app.mail.drain(Duration::from_millis(500)).await.is_empty());
    assert_eq!(
        app.scalar("SELECT count(*) FROM email_outbox WHERE kind IN ('password_reset', 'username_reset')")
            .await,
        2
    );
}

async fn the_interval_passes_and_the_address_cap_holds(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| {
        s.throttle.email_min_interval = Duration::from_secs(1);
        s.throttle.email_per_address = Rate::parse("2/h").unwrap();
    })
    .await
    else {
        return;
    };
    assert_eq!(
        request(&app, "users/reset_password/", "nobody@example.com")
            .await
            .status,
        204
    );
    assert_eq!(
        request(&app, "users/reset_password/", "nobody@example.com")
            .await
            .status,
        429
    );
    let started = Instant::now();
    let second = loop {
        let answer = request(&app, "users/reset_password/", "nobody@example.com").await;
        if answer.status != 429 || started.elapsed() > Duration::from_secs(5) {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(second.status, 204, "{}", second.text);
    // Until the interval has passed again, refusals are the interval's (Retry-After 1); then the
    // address cap's.
    let started = Instant::now();
    let (third, wait) = loop {
        let answer = request(&app, "users/reset_email/", "nobody@example.com").await;
        let wait: u64 = answer.header("retry-after").map_or(0, |wait| wait.parse().unwrap());
        if answer.status != 429 || wait > 1 || started.elapsed() > Duration::from_secs(5) {
            break (answer, wait);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(third.status, 429, "two per hour for the address, whatever the kind");
    assert!(wait > 3000 && wait <= 3600, "{wait}");
}

async fn past_the_global_cap_answers_stay_the_same_and_nothing_is_queued(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| {
        s.throttle.email_global = Rate::parse("1/h").unwrap();
        // The refusal counter is read from /metrics, which the main port serves only when public.
        s.metrics.public = true;
    })
    .await
    else {
        return;
    };
    app.active_user("alice@example.com").await;
    app.active_user("bob@example.com").await;
    request(&app, "users/reset_password/", "alice@example.com")
        .await
        .assert(204, "");
    request(&app, "users/reset_password/", "bob@example.com")
        .await
        .assert(204, "");
    assert_eq!(app.mail.next().await.header("To").as_deref(), Some("alice@example.com"));
    assert!(
        app.mail.drain(Duration::from_millis(700)).await.is_empty(),
        "bob got mail past the cap"
    );
    assert_eq!(app.scalar("SELECT count(*) FROM mail_requests").await, 0);
    let metrics = app.send(|c| c.get(format!("{}/metrics", app.address))).await;
    let capped = metrics
        .text
        .lines()
        .find_map(|line| line.strip_prefix("imhotep_throttled_total{group=\"email_global\"} "))
        .and_then(|n| n.parse::<u64>().ok())
        .expect("the global cap metric");
    assert!(capped >= 1);
}

async fn resend_activation_reaches_only_inactive_accounts_through_the_worker(db: Backend) {
    let Some(app) = spawn_app_with(db, |_| {}).await else {
        return;
    };
    app.active_user("alice@example.com").await;
    app.register("carol@example.com", PASSWORD).await;
    app.mail.next().await;
    for email in ["alice@example.com", "carol@example.com", "nobody@example.com"] {
        request(&app, "users/resend_activation/", email).await.assert(204, "");
    }
    let mail = app.mail.next().await;
    assert_eq!(mail.header("To").as_deref(), Some("carol@example.com"));
    assert!(app.mail.drain(Duration::from_millis(500)).await.is_empty());
}

/// Median of 200 interleaved samples each (A, B, B, A, ...): an existing and an unknown address take
/// the same time (within 10 %) on every endpoint that mails a link. On the shared 2-core machine a
/// single comparison at ~2 ms per request is sometimes off by 10-15 % in either direction (two unknown
/// addresses show the same spread), so each endpoint gets up to three comparisons and must pass one;
/// a real difference (the extra outbox write this guards against made it 90 %) fails all three.
async fn link_requests_take_the_same_time_for_known_and_unknown_addresses(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| s.throttle.enabled = false).await else {
        return;
    };
    app.active_user("alice@example.com").await;
    app.register("carol@example.com", PASSWORD).await;
    for (path, known) in [
        ("users/reset_password/", "alice@example.com"),
        ("users/reset_email/", "alice@example.com"),
        ("users/resend_activation/", "carol@example.com"),
    ] {
        for _ in 0..10 {
            request(&app, path, known).await;
            request(&app, path, "nobody@example.com").await;
        }
        let mut ratios = Vec::new();
        for _ in 0..3 {
            let (known_median, unknown_median) = median_times(&app, path, known, "nobody@example.com").await;
            ratios.push(known_median.as_secs_f64() / unknown_median.as_secs_f64());
            if ratios.last().is_some_and(|ratio| (0.9..=1.1).contains(ratio)) {
                break;
            }
        }
        assert!(
            ratios.iter().any(|ratio| (0.9..=1.1).contains(ratio)),
            "{path}: known/unknown median ratios {ratios:?}"
        );
    }
}

/// The medians of 200 interleaved requests for each of two addresses.
async fn median_times(app: &TestApp, path: &str, first: &str, second: &str) -> (Duration, Duration) {
    let (mut first_times, mut second_times) = (Vec::new(), Vec::new());
    for round in 0..200 {
        // A, B then B, A: whatever one request leaves behind falls on both kinds alike.
        let mut pair = [(first, &mut first_times), (second, &mut second_times)];
        if round % 2 == 1 {
            pair.reverse();
        }
        for (email, times) in pair {
            let started = Instant::now();
            let answer = request(app, path, email).await;
            times.push(started.elapsed());
            assert_eq!(answer.status, 204);
        }
    }
    first_times.sort();
    second_times.sort();
    (first_times[100], second_times[100])
}

async fn housekeeping_purges_old_mail_and_spent_counters(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| {
        s.housekeeping.flush_interval = Duration::from_millis(300);
        s.outbox.retention = Duration::ZERO;
    })
    .await
    else {
        return;
    };
    app.active_user("alice@example.com").await;
    app.execute("INSERT INTO throttle_counters (key, hits, window_ends_ms, blocked_until_ms) VALUES ('mail:x:old@example.com', 1, 1, 0)")
        .await;
    let started = Instant::now();
    loop {
        let left = app.scalar("SELECT count(*) FROM email_outbox").await
            + app
                .scalar("SELECT count(*) FROM throttle_counters WHERE key = 'mail:x:old@example.com'")
                .await;
        if left == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{left} rows were not purged"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `imhotep throttle ...` against the app's database.
fn throttle_cli(app: &TestApp, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_imhotep"))
        .arg("throttle")
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("DEBUG", "true")
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run imhotep throttle");
    assert!(
        output.status.success(),
        "imhotep throttle {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn operators_list_and_clear_backoffs_and_holds(db: Backend) {
    let Some(app) = spawn_app_with(db, |_| {}).await else {
        return;
    };
    app.active_user("alice@example.com").await;
    for _ in 0..5 {
        app.login("alice@example.com", "wrong-password").await;
    }
    request(&app, "users/reset_password/", "nobody@example.com").await;
    let listed = throttle_cli(&app, &["list"]);
    assert!(
        listed.contains("login backoff") && listed.contains("alice@example.com"),
        "{listed}"
    );
    assert!(
        listed.contains("mail password_reset") && listed.contains("nobody@example.com"),
        "{listed}"
    );

    throttle_cli(&app, &["clear", "--email", "ALICE@example.com"]);
    assert_eq!(app.login("alice@example.com", PASSWORD).await.status, 200);
    throttle_cli(&app, &["clear", "--email", "nobody@example.com"]);
    assert_eq!(
        request(&app, "users/reset_password/", "nobody@example.com")
            .await
            .status,
        204
    );

    for _ in 0..5 {
        app.login("bob@example.com", "wrong-password").await;
    }
    assert_eq!(app.login("bob@example.com", "wrong-password").await.status, 429);
    throttle_cli(&app, &["clear", "--ip", "127.0.0.1"]);
    assert_eq!(app.login("bob@example.com", "wrong-password").await.status, 401);
}

async fn registration_can_hide_a_taken_address(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| s.djoser.registration_hides_existing = true).await else {
        return;
    };
    let alice = app.active_user("alice@example.com").await;
    let taken = app.register("Alice@Example.com", PASSWORD).await;
    let fresh = app.register("carol@example.com", PASSWORD).await;
    assert_eq!(
        (taken.status.as_u16(), fresh.status.as_u16()),
        (201, 201),
        "{} {}",
        taken.text,
        fresh.text
    );
    assert_eq!(taken.body["email"], "Alice@example.com");
    let keys = |a: &Answer| a.body.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
    assert_eq!(keys(&taken), keys(&fresh));
    let (taken_id, fresh_id) = (taken.body["id"].as_i64().unwrap(), fresh.body["id"].as_i64().unwrap());
    assert!(alice < taken_id && taken_id < fresh_id, "{alice} {taken_id} {fresh_id}");
    let mut mails = [app.mail.next().await, app.mail.next().await];
    mails.sort_by_key(|m| m.header("To"));
    assert_eq!(mails[0].header("To").as_deref(), Some("alice@example.com"));
    assert_eq!(
        mails[0].header("Subject").as_deref(),
        Some("imhotep - Someone tried to register with your address")
    );
    assert_eq!(mails[1].header("To").as_deref(), Some("carol@example.com"));
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 2);
}

/// A flood of reset e-mails at the limits (100 addresses, from as many clients) does not hold back
/// another user's activation e-mail by more than a few seconds.
async fn a_reset_flood_does_not_delay_an_activation_mail(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| {
        s.throttle.client_ip_header = Some("X-Forwarded-For".into());
    })
    .await
    else {
        return;
    };
    for n in 0..100 {
        app.execute(&format!(
            "INSERT INTO users (email, email_key, username, first_name, last_name, password, is_active, is_staff, \
             is_superuser, date_joined) VALUES ('flood{n}@example.com', 'flood{n}@example.com', '', '', '', \
             'pbkdf2_sha256$1$salt$hash', TRUE, FALSE, FALSE, '2026-01-01T00:00:00+00:00')"
        ))
        .await;
    }
    let app = &app;
    let flood = futures::future::join_all((0..100).map(|n| async move {
        app.send(|c| {
            c.post(app.url("users/reset_password/"))
                .header("X-Forwarded-For", format!("198.51.100.{n}"))
                .json(&json!({ "email": format!("flood{n}@example.com") }))
        })
        .await
    }))
    .await;
    assert!(flood.iter().all(|answer| answer.status == 204));
    let started = Instant::now();
    app.register("newcomer@example.com", PASSWORD).await;
    loop {
        let mail = app.mail.next().await;
        if mail.header("To").as_deref() == Some("newcomer@example.com") {
            break;
        }
    }
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(5), "the activation e-mail took {waited:?}");
}

crate::on_both_databases!(
    a_reset_flood_does_not_delay_an_activation_mail,
    registration_can_hide_a_taken_address,
    a_repeat_within_the_interval_is_refused_alike_for_known_and_unknown,
    the_interval_passes_and_the_address_cap_holds,
    past_the_global_cap_answers_stay_the_same_and_nothing_is_queued,
    resend_activation_reaches_only_inactive_accounts_through_the_worker,
    housekeeping_purges_old_mail_and_spent_counters,
    operators_list_and_clear_backoffs_and_holds,
    link_requests_take_the_same_time_for_known_and_unknown_addresses,
);
