//! Cross-site simple requests: a form on another site must not register
//! accounts or trigger mail from a visitor's browser. Django's CSRF origin answer for those;
//! JSON, requests without `Origin`, the server's own origin and `cors.allowed_origins` pass.

use crate::helpers::{Answer, Backend, PASSWORD, TestApp, spawn_app, spawn_app_with};

const FORM: &str = "email=victim%40example.com&password=Tr1cky-Horse-Battery-9&re_password=Tr1cky-Horse-Battery-9";

async fn post_from(app: &TestApp, path: &str, origin: Option<&str>, content_type: &str, body: &'static str) -> Answer {
    app.send(|c| {
        let request = c.post(app.url(path)).header("Content-Type", content_type).body(body);
        match origin {
            Some(origin) => request.header("Origin", origin),
            None => request,
        }
    })
    .await
}

async fn foreign_form_posts_are_refused_before_any_work(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let form = "application/x-www-form-urlencoded";
    post_from(&app, "users/", Some("https://evil.test"), form, FORM).await.assert(
        403,
        r#"{"detail":"CSRF Failed: Origin checking failed - https://evil.test does not match any trusted origins."}"#,
    );
    post_from(
        &app,
        "users/reset_password/",
        Some("null"),
        "text/plain",
        "email=victim@example.com",
    )
    .await
    .assert(
        403,
        r#"{"detail":"CSRF Failed: Origin checking failed - null does not match any trusted origins."}"#,
    );
    let multipart = post_from(
        &app,
        "users/resend_activation/",
        Some("https://evil.test"),
        "multipart/form-data; boundary=x",
        "--x--",
    );
    assert_eq!(multipart.await.status, 403);
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 0);
    assert_eq!(app.scalar("SELECT count(*) FROM email_outbox").await, 0);
}

async fn json_apps_curl_and_the_servers_own_pages_are_unaffected(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let form = "application/x-www-form-urlencoded";
    // No Origin (curl, mobile apps): DRF's form parsing as before.
    post_from(&app, "users/", None, form, FORM)
        .await
        .assert(201, r#"{"email":"victim@example.com","id":1}"#);
    // The server's own origin.
    let own = app.address.clone();
    let answer = app
        .send(|c| {
            c.post(app.url("users/reset_password/"))
                .header("Origin", own.as_str())
                .header("Content-Type", form)
                .body("email=victim%40example.com")
        })
        .await;
    answer.assert(204, "");
    // JSON from any origin: the browser preflights it and CORS decides, as before.
    let json = app
        .send(|c| {
            c.post(app.url("users/"))
                .header("Origin", "https://evil.test")
                .json(&serde_json::json!({"email": "other@example.com", "password": PASSWORD, "re_password": PASSWORD}))
        })
        .await;
    assert_eq!(json.status, 201, "{}", json.text);
}

async fn origins_allowed_for_cors_may_post_forms(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| s.cors.allowed_origins = vec!["https://app.example.test".into()]).await
    else {
        return;
    };
    let form = "application/x-www-form-urlencoded";
    let allowed = post_from(&app, "users/", Some("https://app.example.test"), form, FORM).await;
    assert_eq!(allowed.status, 201, "{}", allowed.text);
    let lookalike = post_from(&app, "users/", Some("https://app.example.test.evil.test"), form, FORM).await;
    assert_eq!(lookalike.status, 403, "{}", lookalike.text);
}

crate::on_both_databases!(
    foreign_form_posts_are_refused_before_any_work,
    json_apps_curl_and_the_servers_own_pages_are_unaffected,
    origins_allowed_for_cors_may_post_forms,
);
