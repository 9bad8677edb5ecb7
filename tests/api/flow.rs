//! The seed's end-to-end flow, as a frontend runs it: register → activation e-mail over SMTP →
//! activate → login → me → refresh → verify → logout → the old refresh token is refused.

use serde_json::json;

use crate::helpers::{Backend, PASSWORD, spawn_app};

async fn the_whole_djoser_flow_works(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.register("alice@example.com", PASSWORD)
        .await
        .assert(201, r#"{"email":"alice@example.com","id":1}"#);
    let mail = app.mail.next().await;
    assert_eq!(mail.rcpt_to, ["RCPT TO:<alice@example.com>"]);
    assert_eq!(mail.header("From").as_deref(), Some("noreply@example.com"));
    let (uid, token) = mail.link("activate");
    assert_eq!(uid, "MQ");
    app.activate(&uid, &token).await.assert(204, "");
    app.mail.next().await;

    let login = app.login("alice@example.com", PASSWORD).await;
    let (access, refresh) = (
        login.body["access"].as_str().unwrap(),
        login.body["refresh"].as_str().unwrap(),
    );
    app.me(access)
        .await
        .assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
    let refreshed = app.refresh(refresh).await;
    let (access, rotated) = (
        refreshed.body["access"].as_str().unwrap(),
        refreshed.body["refresh"].as_str().unwrap(),
    );
    app.verify(access).await.assert(200, "{}");
    app.post("jwt/logout/", &json!({ "refresh": rotated }), Some(access))
        .await
        .assert(205, "");
    app.refresh(rotated)
        .await
        .assert(401, r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#);
    app.refresh(refresh)
        .await
        .assert(401, r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#);
}

async fn an_smtp_outage_does_not_fail_registration(db: Backend) {
    let Some(app) = crate::helpers::spawn_app_with(db, |s| {
        s.email.port = 1;
        s.email.timeout = std::time::Duration::from_secs(2);
    })
    .await
    else {
        return;
    };
    app.register("alice@example.com", PASSWORD)
        .await
        .assert(201, r#"{"email":"alice@example.com","id":1}"#);
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 1);
}

async fn mail_goes_out_as_multipart_with_smtp_credentials(db: Backend) {
    let Some(app) = crate::helpers::spawn_app_with(db, |s| {
        s.email.host_user = Some("mailer".into());
        s.email.host_password = imhotep::config::Secret::new("s3cret-pass");
        s.email.default_from_email = "Imhotep <noreply@example.com>".into();
    })
    .await
    else {
        return;
    };
    app.register("ada@example.com", PASSWORD)
        .await
        .assert(201, r#"{"email":"ada@example.com","id":1}"#);
    let mail = app.mail.next().await;
    assert_eq!(mail.login.as_deref(), Some("mailer:s3cret-pass"));
    assert_eq!(mail.rcpt_to, ["RCPT TO:<ada@example.com>"]);
    for expected in [
        "From: Imhotep <noreply@example.com>",
        "To: ada@example.com",
        "Subject: Account activation on imhotep",
        "Content-Type: multipart/alternative",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Type: text/html; charset=utf-8",
        "http://localhost:3000/activate/MQ/",
    ] {
        assert!(mail.data.contains(expected), "missing {expected:?} in\n{}", mail.data);
    }
}

crate::on_both_databases!(
    the_whole_djoser_flow_works,
    an_smtp_outage_does_not_fail_registration,
    mail_goes_out_as_multipart_with_smtp_credentials,
);
