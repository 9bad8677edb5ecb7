//! `POST users/activation/`: Django's uid/token, check order, stale links.

use imhotep::auth::links::Purpose;
use serde_json::json;

use crate::helpers::{Backend, PASSWORD, spawn_app};

async fn activation_errors_follow_djosers_check_order(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.register("bob@example.com", PASSWORD).await;
    let (uid, token) = app.mail.next().await.link("activate");
    let cases = [
        (
            json!({}),
            r#"{"uid":["This field is required."],"token":["This field is required."]}"#,
        ),
        (
            json!({"uid": "", "token": ""}),
            r#"{"uid":["This field may not be blank."],"token":["This field may not be blank."]}"#,
        ),
        (
            json!({"uid": null, "token": null}),
            r#"{"uid":["This field may not be null."],"token":["This field may not be null."]}"#,
        ),
        (json!({"uid": uid}), r#"{"token":["This field is required."]}"#),
        (
            json!({"uid": "!!!", "token": "abc"}),
            r#"{"uid":["Invalid user id or user doesn't exist."]}"#,
        ),
        (
            json!({"uid": "OTk5OQ", "token": token}),
            r#"{"uid":["Invalid user id or user doesn't exist."]}"#,
        ),
        (
            json!({"uid": "YWJj", "token": token}),
            r#"{"uid":["Invalid user id or user doesn't exist."]}"#,
        ),
        (
            json!({"uid": "LTE", "token": token}),
            r#"{"uid":["Invalid user id or user doesn't exist."]}"#,
        ),
        (
            json!({"uid": "OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "token": token}),
            r#"{"uid":["Invalid user id or user doesn't exist."]}"#,
        ),
        (
            json!({"uid": "a".repeat(10_000), "token": token}),
            r#"{"uid":["Invalid user id or user doesn't exist."]}"#,
        ),
        (
            json!({"uid": uid, "token": "abc"}),
            r#"{"token":["Invalid token for given user."]}"#,
        ),
        (
            json!({"uid": uid, "token": "dihtti-37fda461fdb4e0a9d5cf050db912bb10"}),
            r#"{"token":["Invalid token for given user."]}"#,
        ),
        (
            json!({"uid": uid, "token": format!("{token}x")}),
            r#"{"token":["Invalid token for given user."]}"#,
        ),
    ];
    for (body, expected) in cases {
        let answer = app.post("users/activation/", &body, None).await;
        assert_eq!(
            (answer.status.as_u16(), answer.text.as_str()),
            (400, expected),
            "body {body}"
        );
    }
    assert_eq!(
        app.scalar("SELECT count(*) FROM users WHERE is_active = false").await,
        1
    );
}

async fn a_link_activates_once_then_is_stale(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.register("carol@example.com", PASSWORD).await;
    app.login("carol@example.com", PASSWORD).await.assert(
        401,
        r#"{"detail":"No active account found with the given credentials"}"#,
    );
    let (uid, token) = app.mail.next().await.link("activate");
    let answer = app.activate(&uid, &token).await;
    answer.assert(204, "");
    assert_eq!(answer.header("content-type"), None);
    let confirmation = app.mail.next().await;
    assert_eq!(
        confirmation.header("Subject").as_deref(),
        Some("imhotep - Your account has been successfully created and activated!")
    );
    app.activate(&uid, &token)
        .await
        .assert(403, r#"{"detail":"Stale token for given user."}"#);
    app.activate(&format!("{uid}=="), &token)
        .await
        .assert(403, r#"{"detail":"Stale token for given user."}"#);
    assert_eq!(app.login("carol@example.com", PASSWORD).await.status, 200);
}

async fn concurrent_activations_succeed_once(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.register("dana@example.com", PASSWORD).await;
    let (uid, token) = app.mail.next().await.link("activate");
    let answers = futures::future::join_all((0..8).map(|_| app.activate(&uid, &token))).await;
    assert_eq!(answers.iter().filter(|a| a.status == 204).count(), 1);
    assert!(answers.iter().all(|a| a.status == 204 || a.status == 403));
}

async fn a_link_from_another_secret_is_refused(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.register("erin@example.com", PASSWORD).await;
    let (uid, _) = app.mail.next().await.link("activate");
    let user = app_user(&app, 1).await;
    let foreign = imhotep::auth::links::LinkTokens::new(
        "another-deployment-secret-0123456789abcdef",
        std::time::Duration::from_secs(3600),
        true,
    );
    let forged = foreign.make(&user, Purpose::Activation, chrono::Utc::now());
    app.activate(&uid, &forged)
        .await
        .assert(400, r#"{"token":["Invalid token for given user."]}"#);
}

/// Loads a user row through the library's own store (the same database the server uses).
async fn app_user(app: &crate::helpers::TestApp, id: i64) -> imhotep::store::models::User {
    let options = imhotep::store::StoreOptions {
        max_connections: 1,
        acquire_timeout: std::time::Duration::from_secs(5),
    };
    let store = imhotep::store::Store::connect(&app.database_url, &options)
        .await
        .unwrap();
    let user = store.user_by_id(id).await.unwrap().unwrap();
    store.close().await;
    user
}

async fn a_link_expires_after_the_reset_timeout(db: Backend) {
    let Some(app) = crate::helpers::spawn_app_with(db, |s| {
        s.djoser.password_reset_timeout = std::time::Duration::from_secs(60)
    })
    .await
    else {
        return;
    };
    app.register("fred@example.com", PASSWORD).await;
    let (uid, _) = app.mail.next().await.link("activate");
    let user = app_user(&app, 1).await;
    let links =
        imhotep::auth::links::LinkTokens::new(crate::helpers::SECRET_KEY, std::time::Duration::from_secs(60), true);
    let old = links.make(
        &user,
        Purpose::Activation,
        chrono::Utc::now() - chrono::Duration::seconds(120),
    );
    app.activate(&uid, &old)
        .await
        .assert(400, r#"{"token":["Invalid token for given user."]}"#);
    let fresh = links.make(&user, Purpose::Activation, chrono::Utc::now());
    app.activate(&uid, &fresh).await.assert(204, "");
}

crate::on_both_databases!(
    activation_errors_follow_djosers_check_order,
    a_link_activates_once_then_is_stale,
    concurrent_activations_succeed_once,
    a_link_from_another_secret_is_refused,
    a_link_expires_after_the_reset_timeout,
);
