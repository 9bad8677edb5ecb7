//! `GET /metrics`: OpenMetrics text with requests by route template, logins and token events counted
//! by the services, e-mail and pool series; optionally behind a bearer token or on its own port.

use crate::helpers::{Answer, Backend, PASSWORD, TestApp, spawn_app_with};

const TOKEN: &str = "scrape-t0ken-for-prometheus";

async fn scrape(app: &TestApp, base: &str, bearer: Option<&str>) -> Answer {
    app.send(|client| {
        let request = client.get(format!("{base}/metrics"));
        match bearer {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    })
    .await
}

#[track_caller]
fn assert_lines(text: &str, expected: &[&str]) {
    for line in expected {
        assert!(text.lines().any(|l| l == *line), "missing {line:?} in\n{text}");
    }
}

async fn requests_logins_and_tokens_are_counted(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| s.metrics.public = true).await else {
        return;
    };
    let (_, refresh) = app.tokens_for("ada@example.com").await;
    app.login("ada@example.com", "Wr0ng-Horse-Battery-7").await;
    app.refresh(&refresh).await;
    app.send(|client| client.get(format!("{}/no/such/page", app.address)))
        .await;

    let answer = scrape(&app, &app.address, None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert_lines(
        &answer.text,
        &[
            r#"imhotep_http_requests_total{route="/api/auth/users/",method="POST",status="201"} 1"#,
            r#"imhotep_http_requests_total{route="/api/auth/jwt/create/",method="POST",status="200"} 1"#,
            r#"imhotep_http_requests_total{route="/api/auth/jwt/create/",method="POST",status="401"} 1"#,
            r#"imhotep_http_requests_total{route="unmatched",method="GET",status="404"} 1"#,
            r#"imhotep_http_request_duration_seconds_count{route="/api/auth/jwt/create/"} 2"#,
            r#"imhotep_http_request_duration_seconds_bucket{le="+Inf",route="/api/auth/jwt/create/"} 2"#,
            r#"imhotep_logins_total{outcome="succeeded"} 1"#,
            r#"imhotep_logins_total{outcome="failed"} 1"#,
            r#"imhotep_tokens_total{event="issued"} 1"#,
            r#"imhotep_tokens_total{event="refreshed"} 1"#,
            r#"imhotep_tokens_total{event="blacklisted"} 0"#,
            "# TYPE imhotep_emails counter",
            "# TYPE imhotep_db_pool_connections gauge",
        ],
    );
    for series in [
        r#"imhotep_emails_total{outcome="sent"} "#,
        r#"imhotep_db_pool_connections{state="in_use"} "#,
        r#"imhotep_db_pool_connections{state="idle"} "#,
        r#"imhotep_password_hash_queue{state="waiting"} 0"#,
    ] {
        assert!(answer.text.contains(series), "missing {series:?}");
    }
}

async fn a_configured_token_is_required(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| {
        s.metrics.bearer_token = Some(imhotep::config::Secret::new(TOKEN));
    })
    .await
    else {
        return;
    };
    for bearer in [None, Some("wrong"), Some(&TOKEN[..TOKEN.len() - 1])] {
        let answer = scrape(&app, &app.address, bearer).await;
        assert_eq!(answer.status, 401, "{bearer:?}");
        assert_eq!(answer.header("www-authenticate"), Some("Bearer realm=\"metrics\""));
        assert!(!answer.text.contains("imhotep_"));
    }
    let answer = scrape(&app, &app.address, Some(TOKEN)).await;
    assert_eq!(answer.status, 200);
    assert!(answer.text.contains("imhotep_http_requests_total"));
    assert!(!answer.text.contains(TOKEN));
}

async fn a_separate_bind_moves_metrics_off_the_main_port(db: Backend) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let Some(app) = spawn_app_with(db, |s| s.metrics.bind = Some(format!("127.0.0.1:{port}"))).await else {
        return;
    };
    assert_eq!(scrape(&app, &app.address, None).await.status, 404);
    app.register("ada@example.com", PASSWORD).await;
    let answer = scrape(&app, &format!("http://127.0.0.1:{port}"), None).await;
    assert_eq!(answer.status, 200);
    assert_lines(
        &answer.text,
        &[
            r#"imhotep_http_requests_total{route="unmatched",method="GET",status="404"} 1"#,
            r#"imhotep_http_requests_total{route="/api/auth/users/",method="POST",status="201"} 1"#,
        ],
    );
}

/// The main port is usually public: without a token or `public = true`, it serves no `/metrics`.
async fn the_main_port_serves_metrics_only_with_a_token_or_when_public(db: Backend) {
    let Some(app) = spawn_app_with(db, |_| {}).await else {
        return;
    };
    let answer = scrape(&app, &app.address, None).await;
    answer.assert(404, r#"{"detail":"Not found."}"#);
}

async fn metrics_can_be_turned_off(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| {
        s.metrics.enabled = false;
        s.metrics.public = true;
    })
    .await
    else {
        return;
    };
    assert_eq!(scrape(&app, &app.address, None).await.status, 404);
}

/// The middlewares' own answers (the CSRF check's 403, the rate limit's 429, the bearer check's
/// 401) carry the request id and security headers every answer does, and are counted under
/// their route like a handler's.
async fn refusals_before_the_handler_are_answered_and_counted_like_any_other(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| {
        s.metrics.public = true;
        s.throttle.login = imhotep::config::Rate::parse("1/m").expect("a rate");
    })
    .await
    else {
        return;
    };
    let csrf = app
        .send(|c| {
            c.post(app.url("users/"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Origin", "https://evil.test")
                .body("email=victim%40example.com")
        })
        .await;
    assert_eq!(csrf.status, 403);
    app.login("nobody@example.com", PASSWORD).await;
    let throttled = app.login("nobody@example.com", PASSWORD).await;
    assert_eq!(throttled.status, 429);
    let anonymous = app.send(|c| c.get(app.url("users/me/"))).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.header("www-authenticate"), Some(r#"Bearer realm="api""#));
    for answer in [&csrf, &throttled, &anonymous] {
        let id = answer.header("x-request-id").expect("a request id");
        assert_eq!(id.len(), 36, "a generated UUID: {id}");
        for (name, value) in [
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "same-origin"),
            ("cross-origin-opener-policy", "same-origin"),
            ("cache-control", "no-store"),
            ("vary", "Accept"),
        ] {
            assert_eq!(answer.header(name), Some(value), "{name} on a {}", answer.status);
        }
    }
    assert_lines(
        &scrape(&app, &app.address, None).await.text,
        &[
            r#"imhotep_http_requests_total{route="/api/auth/users/",method="POST",status="403"} 1"#,
            r#"imhotep_http_requests_total{route="/api/auth/jwt/create/",method="POST",status="401"} 1"#,
            r#"imhotep_http_requests_total{route="/api/auth/jwt/create/",method="POST",status="429"} 1"#,
            r#"imhotep_http_requests_total{route="/api/auth/users/me/",method="GET",status="401"} 1"#,
        ],
    );
}

crate::on_both_databases!(
    requests_logins_and_tokens_are_counted,
    a_configured_token_is_required,
    a_separate_bind_moves_metrics_off_the_main_port,
    the_main_port_serves_metrics_only_with_a_token_or_when_public,
    metrics_can_be_turned_off,
    refusals_before_the_handler_are_answered_and_counted_like_any_other,
);
