//! Suspension (`imhotep users deactivate`, alias `suspend`): a state of its own, which the
//! activation link, `resend_activation`, password reset and login never clear; it revokes every
//! refresh token at once. Only `imhotep users activate` (alias `unsuspend`) lifts it.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{Backend, PASSWORD, spawn_app, spawn_app_with};
use crate::users_cli::users_ok;

const NO_ACTIVE_ACCOUNT: &str = r#"{"detail":"No active account found with the given credentials"}"#;

async fn a_suspended_user_cannot_undo_the_suspension(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.register("alice@example.com", PASSWORD).await;
    let (uid, token) = app.mail.next().await.link("activate");
    app.activate(&uid, &token).await.assert(204, "");
    app.mail.next().await; // the confirmation e-mail
    let login = app.login("alice@example.com", PASSWORD).await;
    let refresh = login.body["refresh"].as_str().unwrap().to_owned();
    let second = app.login("alice@example.com", PASSWORD).await.body["refresh"]
        .as_str()
        .unwrap()
        .to_owned();

    let suspended = users_ok(&app, &["deactivate", "alice@example.com"]);
    assert!(suspended.contains("is_active true -> false; suspended"), "{suspended}");

    // Every refresh token from before is dead, whether or not it is ever used again.
    app.refresh(&refresh)
        .await
        .assert(401, r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#);
    let revoked = "SELECT count(*) FROM blacklisted_tokens";
    assert_eq!(app.scalar(revoked).await, 2, "both logins' tokens revoked");
    // The way back that worked before: ask for a new activation link, follow it, log in.
    app.post("users/resend_activation/", &json!({"email": "alice@example.com"}), None)
        .await
        .assert(204, "");
    app.post("users/reset_password/", &json!({"email": "alice@example.com"}), None)
        .await
        .assert(204, "");
    assert!(
        app.mail.drain(Duration::from_millis(500)).await.is_empty(),
        "nothing mailed"
    );
    assert_eq!(
        app.scalar("SELECT count(*) FROM email_outbox").await,
        2,
        "only sign-up mails"
    );
    // The original sign-up link is still intact as an HMAC (no login changed last_login) ...
    app.activate(&uid, &token)
        .await
        .assert(403, r#"{"detail":"Stale token for given user."}"#);
    // ... and neither it nor a login turns the account back on.
    app.login("alice@example.com", PASSWORD)
        .await
        .assert(401, NO_ACTIVE_ACCOUNT);
    app.refresh(&second)
        .await
        .assert(401, r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#);
    let still = "SELECT count(*) FROM users WHERE is_active = false AND suspended_at IS NOT NULL";
    assert_eq!(app.scalar(still).await, 1);
    let shown = users_ok(&app, &["show", "1"]);
    assert!(shown.lines().any(|l| l.starts_with("suspended:   since ")), "{shown}");

    let again = users_ok(&app, &["suspend", "1"]);
    assert!(again.contains("already suspended; nothing changed"), "{again}");
    let lifted = users_ok(&app, &["unsuspend", "alice@example.com"]);
    assert!(
        lifted.contains("is_active false -> true; suspension lifted"),
        "{lifted}"
    );
    assert_eq!(app.login("alice@example.com", PASSWORD).await.status, 200);
}

async fn suspension_stops_access_tokens_even_without_the_active_check(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| s.simple_jwt.check_user_is_active = false).await else {
        return;
    };
    let (access, refresh) = app.tokens_for("alice@example.com").await;
    app.me(&access)
        .await
        .assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
    users_ok(&app, &["deactivate", "1"]);
    app.me(&access)
        .await
        .assert(401, r#"{"detail":"User is inactive","code":"user_inactive"}"#);
    app.refresh(&refresh)
        .await
        .assert(401, r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#);
}

async fn a_never_activated_account_that_is_suspended_cannot_be_activated(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.register("mallory@example.com", PASSWORD).await;
    let (uid, token) = app.mail.next().await.link("activate");
    users_ok(&app, &["suspend", "mallory@example.com"]);
    app.activate(&uid, &token)
        .await
        .assert(403, r#"{"detail":"Stale token for given user."}"#);
    app.login("mallory@example.com", PASSWORD)
        .await
        .assert(401, NO_ACTIVE_ACCOUNT);
    assert_eq!(app.scalar("SELECT count(*) FROM users WHERE is_active = true").await, 0);
}

crate::on_both_databases!(
    a_suspended_user_cannot_undo_the_suspension,
    suspension_stops_access_tokens_even_without_the_active_check,
    a_never_activated_account_that_is_suspended_cannot_be_activated,
);
