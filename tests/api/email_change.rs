//! `set_email` with proof (`djoser.set_email_requires_confirmation`, on by default): the account
//! keeps its address until the link mailed to the new one is followed; the old address is told.

use serde_json::json;

use crate::helpers::{Backend, PASSWORD, TestApp, spawn_app, spawn_app_with};
use crate::smtp::Received;

const INVALID_TOKEN: &str = r#"{"token":["Invalid token for given user."]}"#;

async fn set_email(app: &TestApp, access: &str, new_email: &str) {
    app.post(
        "users/set_email/",
        &json!({"current_password": PASSWORD, "new_email": new_email}),
        Some(access),
    )
    .await
    .assert(204, "");
}

/// The two e-mails of one request, in any order: (to the new address, to the old one).
async fn change_mails(app: &TestApp, new_email: &str) -> (Received, Received) {
    let (first, second) = (app.mail.next().await, app.mail.next().await);
    if first.header("To").as_deref() == Some(new_email) {
        (first, second)
    } else {
        (second, first)
    }
}

fn confirm(uid: &str, token: &str) -> serde_json::Value {
    json!({"uid": uid, "token": token})
}

async fn set_email_changes_nothing_until_the_new_address_confirms(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (access, _) = app.tokens_for("alice@example.com").await;
    set_email(&app, &access, "ceo@bigcorp.test").await;

    let (to_new, to_old) = change_mails(&app, "ceo@bigcorp.test").await;
    assert_eq!(
        to_new.header("Subject").as_deref(),
        Some("Confirm your new email address on imhotep")
    );
    assert_eq!(to_old.header("To").as_deref(), Some("alice@example.com"));
    assert_eq!(
        to_old.header("Subject").as_deref(),
        Some("Email address change requested on imhotep")
    );
    assert!(!to_old.data.contains("/set-email/"), "no link to the old address");
    // Until then the account is alice@example.com, and ceo@bigcorp.test is nobody's.
    app.me(&access)
        .await
        .assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
    assert_eq!(app.login("ceo@bigcorp.test", PASSWORD).await.status, 401);
    assert_eq!(app.login("alice@example.com", PASSWORD).await.status, 200);

    let (uid, token) = to_new.link("set-email");
    app.post("users/set_email_confirm/", &confirm(&uid, &token), None)
        .await
        .assert(204, "");
    app.me(&access)
        .await
        .assert(200, r#"{"id":1,"email":"ceo@bigcorp.test"}"#);
    assert_eq!(app.login("ceo@bigcorp.test", PASSWORD).await.status, 200);
    assert_eq!(app.login("alice@example.com", PASSWORD).await.status, 401);
    // A link works once.
    app.post("users/set_email_confirm/", &confirm(&uid, &token), None)
        .await
        .assert(400, INVALID_TOKEN);
    let pending = "SELECT count(*) FROM users WHERE pending_email IS NOT NULL";
    assert_eq!(app.scalar(pending).await, 0);
}

async fn a_link_confirms_only_the_address_it_was_mailed_to(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (access, _) = app.tokens_for("alice@example.com").await;
    // The owner proves an address they hold, then asks for one they do not.
    set_email(&app, &access, "mine@example.org").await;
    let (mine, _) = change_mails(&app, "mine@example.org").await;
    set_email(&app, &access, "ceo@bigcorp.test").await;
    let (theirs, _) = change_mails(&app, "ceo@bigcorp.test").await;
    let (uid, token) = mine.link("set-email");
    app.post("users/set_email_confirm/", &confirm(&uid, &token), None)
        .await
        .assert(400, INVALID_TOKEN);
    app.me(&access)
        .await
        .assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
    // Errors are the activation endpoint's, in its order.
    for (body, expected) in [
        (
            json!({}),
            r#"{"uid":["This field is required."],"token":["This field is required."]}"#,
        ),
        (
            json!({"uid": "OTk5", "token": token}),
            r#"{"uid":["Invalid user id or user doesn't exist."]}"#,
        ),
    ] {
        app.post("users/set_email_confirm/", &body, None)
            .await
            .assert(400, expected);
    }
    // Other links of the same user do not confirm a change.
    app.post("users/reset_email/", &json!({"email": "alice@example.com"}), None)
        .await
        .assert(204, "");
    let (reset_uid, reset_token) = app.mail.next().await.link("reset-email");
    app.post("users/set_email_confirm/", &confirm(&reset_uid, &reset_token), None)
        .await
        .assert(400, INVALID_TOKEN);
    let (uid, token) = theirs.link("set-email");
    app.post("users/set_email_confirm/", &confirm(&uid, &token), None)
        .await
        .assert(204, "");
}

async fn an_address_taken_meanwhile_is_refused_at_confirmation(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (access, _) = app.tokens_for("alice@example.com").await;
    set_email(&app, &access, "shared@example.com").await;
    let (to_new, _) = change_mails(&app, "shared@example.com").await;
    app.register("Shared@example.com", PASSWORD).await;
    let (uid, token) = to_new.link("set-email");
    app.post("users/set_email_confirm/", &confirm(&uid, &token), None)
        .await
        .assert(
            400,
            r#"{"non_field_errors":["user with this email address already exists."]}"#,
        );
    app.me(&access)
        .await
        .assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
}

async fn the_confirm_endpoint_can_be_aliased(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| {
        s.routes
            .aliases
            .insert("/account/email/confirm".into(), "users_set_email_confirm".into());
    })
    .await
    else {
        return;
    };
    let (access, _) = app.tokens_for("alice@example.com").await;
    set_email(&app, &access, "alice@example.org").await;
    let (to_new, _) = change_mails(&app, "alice@example.org").await;
    let (uid, token) = to_new.link("set-email");
    let answer = app
        .send(|c| {
            c.post(format!("{}/account/email/confirm/", app.address))
                .json(&confirm(&uid, &token))
        })
        .await;
    answer.assert(204, "");
    app.me(&access)
        .await
        .assert(200, r#"{"id":1,"email":"alice@example.org"}"#);
}

crate::on_both_databases!(
    set_email_changes_nothing_until_the_new_address_confirms,
    a_link_confirms_only_the_address_it_was_mailed_to,
    an_address_taken_meanwhile_is_refused_at_confirmation,
    the_confirm_endpoint_can_be_aliased,
);
