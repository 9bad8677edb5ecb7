//! Abuse protection at the HTTP surface: per-client rates per endpoint group (DRF's 429 and
//! `Retry-After`), who the client is (peer address unless a header is configured), the per-account
//! login backoff shared by instances, `current_password` guessing, and the bounded hashing queue.

use std::time::{Duration, Instant};

use futures::future::join_all;
use imhotep::config::{Rate, Settings};
use serde_json::json;

use crate::helpers::{Answer, Backend, PASSWORD, TestApp, serve, spawn_app_with, test_settings};

fn rate(text: &str) -> Option<Rate> {
    Rate::parse(text).expect("a valid rate")
}

/// Clients told apart by `X-Forwarded-For` (configured as trusted with one proxy).
fn trust_forwarded_for(settings: &mut Settings) {
    settings.throttle.client_ip_header = Some("X-Forwarded-For".into());
    settings.throttle.trusted_proxies = 1;
}

async fn login_from(app: &TestApp, client: &str, email: &str, password: &str) -> Answer {
    app.send(|c| {
        c.post(app.url("jwt/create/"))
            .header("X-Forwarded-For", client)
            .json(&json!({ "email": email, "password": password }))
    })
    .await
}

/// Polls `attempt` (at most every 200 ms, for up to `limit`) until it is not a 429.
async fn until_allowed<F, Fut>(limit: Duration, mut attempt: F) -> Answer
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Answer>,
{
    let started = Instant::now();
    loop {
        let answer = attempt().await;
        if answer.status != 429 || started.elapsed() > limit {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[track_caller]
fn assert_throttled(answer: &Answer) -> u64 {
    assert_eq!(answer.status, 429, "{}", answer.text);
    let seconds: u64 = answer
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("whole seconds");
    assert!(seconds >= 1);
    let unit = if seconds == 1 { "second" } else { "seconds" };
    assert_eq!(
        answer.text,
        format!(r#"{{"detail":"Request was throttled. Expected available in {seconds} {unit}."}}"#)
    );
    seconds
}

async fn over_the_rate_a_client_gets_drfs_429_then_is_let_in_again(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| s.throttle.login = rate("3/3s")).await else {
        return;
    };
    for _ in 0..3 {
        app.login("nobody@example.com", PASSWORD).await.assert(
            401,
            r#"{"detail":"No active account found with the given credentials"}"#,
        );
    }
    let refused = app.login("nobody@example.com", PASSWORD).await;
    assert_eq!(assert_throttled(&refused), 1);
    // Another group has its own bucket; health and metrics are never limited.
    app.verify("not-a-token").await;
    for _ in 0..5 {
        let health = app.send(|c| c.get(format!("{}/healthz", app.address))).await;
        assert_eq!(health.status, 200);
    }
    let again = until_allowed(Duration::from_secs(5), || app.login("nobody@example.com", PASSWORD)).await;
    assert_eq!(again.status, 401, "{}", again.text);
}

async fn aliases_share_their_endpoints_group(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| {
        s.throttle.login = rate("2/m");
        s.routes.aliases.insert("/api/login/".into(), "jwt_create".into());
    })
    .await
    else {
        return;
    };
    app.login("nobody@example.com", PASSWORD).await;
    let body = json!({ "email": "nobody@example.com", "password": PASSWORD });
    let alias = app
        .send(|c| c.post(format!("{}/api/login/", app.address)).json(&body))
        .await;
    assert_eq!(alias.status, 401);
    assert_throttled(
        &app.send(|c| c.post(format!("{}/api/login", app.address)).json(&body))
            .await,
    );
    assert_throttled(&app.login("nobody@example.com", PASSWORD).await);
}

async fn a_spoofed_forwarded_for_is_ignored_unless_configured(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| s.throttle.login = rate("2/m")).await else {
        return;
    };
    for n in 0..2 {
        let answer = login_from(&app, &format!("198.51.100.{n}"), "nobody@example.com", PASSWORD).await;
        assert_eq!(answer.status, 401);
    }
    assert_throttled(&login_from(&app, "198.51.100.77", "nobody@example.com", PASSWORD).await);

    let Some(trusting) = spawn_app_with(db, |s| {
        s.throttle.login = rate("2/m");
        trust_forwarded_for(s);
    })
    .await
    else {
        return;
    };
    for n in 0..4 {
        let answer = login_from(
            &trusting,
            &format!("6.6.6.6, 198.51.100.{n}"),
            "nobody@example.com",
            PASSWORD,
        )
        .await;
        assert_eq!(answer.status, 401, "client {n} is a client of its own");
    }
    // The leftmost entry is the client's to choose; only the proxy's entry counts.
    login_from(&trusting, "1.1.1.1, 198.51.100.200", "nobody@example.com", PASSWORD).await;
    login_from(&trusting, "2.2.2.2, 198.51.100.200", "nobody@example.com", PASSWORD).await;
    assert_throttled(&login_from(&trusting, "3.3.3.3, 198.51.100.200", "nobody@example.com", PASSWORD).await);
}

async fn a_flooding_client_gets_fast_429s_while_another_logs_in(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| {
        s.throttle.login = rate("5/m");
        trust_forwarded_for(s);
    })
    .await
    else {
        return;
    };
    app.active_user("alice@example.com").await;
    for _ in 0..5 {
        login_from(&app, "203.0.113.66", "victim@example.com", "guess").await;
    }
    let mut refusals = Vec::new();
    for _ in 0..40 {
        let started = Instant::now();
        let answer = login_from(&app, "203.0.113.66", "victim@example.com", "guess").await;
        refusals.push(started.elapsed());
        assert_throttled(&answer);
    }
    refusals.sort();
    let median = refusals[refusals.len() / 2];
    assert!(median < Duration::from_millis(5), "median 429 took {median:?}");
    let other = login_from(&app, "203.0.113.7", "alice@example.com", PASSWORD).await;
    assert_eq!(other.status, 200, "{}", other.text);
}

async fn failed_logins_back_the_account_off_and_a_success_resets_it(db: Backend) {
    let Some(app) = spawn_app_with(db, |_| {}).await else {
        return;
    };
    app.active_user("alice@example.com").await;
    for _ in 0..5 {
        assert_eq!(app.login("alice@example.com", "wrong-password").await.status, 401);
    }
    // During the wait the right password gets exactly the wrong one's answer: nothing is checked.
    let right = app.login("alice@example.com", PASSWORD).await;
    let wrong = app.login("ALICE@example.com", "wrong-password").await;
    assert_eq!(assert_throttled(&right), 1);
    assert_eq!((right.status, &right.text), (wrong.status, &wrong.text));
    // An unknown address is counted the same way, so the 429 says nothing about existence.
    for _ in 0..5 {
        assert_eq!(app.login("nobody@example.com", "wrong-password").await.status, 401);
    }
    assert_throttled(&app.login("nobody@example.com", "wrong-password").await);

    let after = until_allowed(Duration::from_secs(5), || app.login("alice@example.com", PASSWORD)).await;
    assert_eq!(after.status, 200, "{}", after.text);
    assert_eq!(
        app.scalar("SELECT count(*) FROM throttle_counters WHERE key LIKE 'login%alice@example.com%'")
            .await,
        0,
        "a success forgets the failures"
    );
    assert_eq!(app.login("alice@example.com", "wrong-password").await.status, 401);
}

async fn concurrent_failures_are_counted_exactly(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| {
        s.throttle.failures_before_backoff = 100;
        s.server.hash_queue_limit = 100;
    })
    .await
    else {
        return;
    };
    let answers = join_all((0..20).map(|_| app.login("alice@example.com", "wrong-password"))).await;
    assert!(answers.iter().all(|a| a.status == 401));
    let counted = app
        .scalar("SELECT hits FROM throttle_counters WHERE key = 'login:alice@example.com'")
        .await;
    assert_eq!(counted, 20);

    // With the default threshold exactly the attempts let through are counted, the rest refused.
    let Some(app) = spawn_app_with(db, |_| {}).await else {
        return;
    };
    let answers = join_all((0..20).map(|_| app.login("bob@example.com", "wrong-password"))).await;
    let checked = answers.iter().filter(|a| a.status == 401).count();
    let refused = answers.iter().filter(|a| a.status == 429).count();
    assert_eq!(checked + refused, 20);
    assert_eq!(checked, 5, "from the 5th failure on, attempts wait");
    let counted = app
        .scalar("SELECT hits FROM throttle_counters WHERE key = 'login:bob@example.com'")
        .await;
    assert_eq!(counted, 5);
}

async fn current_password_guessing_on_set_password_is_slowed(db: Backend) {
    let Some(app) = spawn_app_with(db, |_| {}).await else {
        return;
    };
    let (access, _) = app.tokens_for("alice@example.com").await;
    let guess = json!({ "current_password": "guess", "new_password": "N3w-Horse-Battery-77" });
    for _ in 0..5 {
        app.post("users/set_password/", &guess, Some(&access))
            .await
            .assert(400, r#"{"current_password":["Invalid password."]}"#);
    }
    let right = json!({ "current_password": PASSWORD, "new_password": "N3w-Horse-Battery-77" });
    assert_throttled(&app.post("users/set_password/", &right, Some(&access)).await);
    // The same account counter as logins.
    assert_throttled(&app.login("alice@example.com", PASSWORD).await);
}

async fn the_hashing_queue_answers_a_flood_with_fast_503s(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| {
        s.server.hash_concurrency = 1;
        s.server.hash_queue_limit = 2;
        s.throttle.enabled = false;
        // The queue gauge is read from /metrics, which the main port serves only when public.
        s.metrics.public = true;
    })
    .await
    else {
        return;
    };
    app.active_user("alice@example.com").await;
    let app = &app;
    let flood = join_all((0..40).map(|n| async move {
        let started = Instant::now();
        let answer = app.login(&format!("nobody{n}@example.com"), "guess").await;
        (answer, started.elapsed())
    }))
    .await;
    let busy: Vec<&(Answer, Duration)> = flood.iter().filter(|(a, _)| a.status == 503).collect();
    assert!(!busy.is_empty(), "a queue of 2 took 40 logins");
    for (answer, _) in &busy {
        answer.assert(503, r#"{"detail":"Server busy, try again later."}"#);
        assert_eq!(answer.header("retry-after"), Some("1"));
    }
    assert!(flood.iter().all(|(a, _)| a.status == 401 || a.status == 503));
    let slowest_refusal = busy.iter().map(|(_, took)| *took).max().unwrap_or_default();
    assert!(
        slowest_refusal < Duration::from_secs(2),
        "a 503 took {slowest_refusal:?}"
    );
    let ready = app.send(|c| c.get(format!("{}/readyz", app.address))).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["status"], "degraded", "{}", ready.text);
    assert!(ready.body["hash_queue"].is_u64());
    let login = app.login("alice@example.com", PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.text);
    let metrics = app.send(|c| c.get(format!("{}/metrics", app.address))).await;
    assert!(metrics.text.contains("imhotep_password_hash_rejected_total "));
}

async fn throttled_answers_carry_cors_headers(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| {
        s.throttle.login = rate("1/m");
        s.cors.allowed_origins = vec!["https://app.example.com".into()];
    })
    .await
    else {
        return;
    };
    let body = json!({ "email": "nobody@example.com", "password": PASSWORD });
    let send = || {
        app.send(|c| {
            c.post(app.url("jwt/create/"))
                .header("Origin", "https://app.example.com")
                .json(&body)
        })
    };
    send().await;
    let refused = send().await;
    assert_throttled(&refused);
    assert_eq!(
        refused.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
}

crate::on_both_databases!(
    over_the_rate_a_client_gets_drfs_429_then_is_let_in_again,
    aliases_share_their_endpoints_group,
    a_spoofed_forwarded_for_is_ignored_unless_configured,
    a_flooding_client_gets_fast_429s_while_another_logs_in,
    failed_logins_back_the_account_off_and_a_success_resets_it,
    concurrent_failures_are_counted_exactly,
    current_password_guessing_on_set_password_is_slowed,
    the_hashing_queue_answers_a_flood_with_fast_503s,
    throttled_answers_carry_cors_headers,
);

/// Two instances on one PostgreSQL: failures on A delay attempts on B, and concurrent failures on
/// both are all counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_is_shared_by_instances_on_one_postgres() {
    let Some(a) = spawn_app_with(Backend::Postgres, |s| {
        s.throttle.failures_before_backoff = 100;
        s.server.hash_queue_limit = 100;
    })
    .await
    else {
        return;
    };
    let mut settings = test_settings(&a.database_url, a.mail.port);
    settings.throttle.failures_before_backoff = 100;
    settings.server.hash_queue_limit = 100;
    let (b_address, _b) = serve(settings).await;
    let b_login = |email: &'static str| {
        let body = json!({ "email": email, "password": "wrong-password" });
        let client = a.client.clone();
        let url = format!("{b_address}/api/auth/jwt/create/");
        async move { Answer::read(client.post(url).json(&body).send().await.expect("sent")).await }
    };
    let on_a = (0..10).map(|_| a.login("alice@example.com", "wrong-password"));
    let on_b = (0..10).map(|_| b_login("alice@example.com"));
    let both = join_all(
        on_a.map(futures::future::Either::Left)
            .chain(on_b.map(futures::future::Either::Right)),
    )
    .await;
    let (from_a, from_b) = both.split_at(10);
    assert!(from_a.iter().chain(from_b).all(|answer| answer.status == 401));
    let counted = a
        .scalar("SELECT hits FROM throttle_counters WHERE key = 'login:alice@example.com'")
        .await;
    assert_eq!(counted, 20);

    let Some(a) = spawn_app_with(Backend::Postgres, |_| {}).await else {
        return;
    };
    let (b_address, _b) = serve(test_settings(&a.database_url, a.mail.port)).await;
    for _ in 0..5 {
        assert_eq!(a.login("bob@example.com", "wrong-password").await.status, 401);
    }
    let body = json!({ "email": "bob@example.com", "password": "wrong-password" });
    let on_b = Answer::read(
        a.client
            .post(format!("{b_address}/api/auth/jwt/create/"))
            .json(&body)
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_throttled(&on_b);
}
