//! Djoser's account flows (`users/me/` PUT/PATCH/DELETE, set/reset password and e-mail): the reference's answers,
//! the e-mails each one sends, and how links die.

use serde_json::{Value, json};

use crate::helpers::{Answer, Backend, PASSWORD, TestApp, spawn_app, spawn_app_with};

const STRONG: &str = "N3w-Horse-Battery-77";

async fn check_each(app: &TestApp, path: &str, bearer: Option<&str>, cases: Vec<(Value, u16, &str)>) {
    for (body, status, expected) in cases {
        let answer = app.post(path, &body, bearer).await;
        assert_eq!(
            (answer.status.as_u16(), answer.text.as_str()),
            (status, expected),
            "{path} {body}"
        );
    }
}

async fn update_me_changes_nothing_and_answers_the_user(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (access, _) = app.tokens_for("alice@example.com").await;
    let extras = json!({"email": "new@example.com", "is_staff": true, "is_superuser": true, "is_active": false, "first_name": "x", "id": 5, "password": "x"});
    for method in [reqwest::Method::PUT, reqwest::Method::PATCH] {
        for body in [json!({}), extras.clone()] {
            let answer = app
                .send(|c| {
                    c.request(method.clone(), app.url("users/me/"))
                        .bearer_auth(&access)
                        .json(&body)
                })
                .await;
            answer.assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
        }
        let garbage = app.send(|c| {
            c.request(method.clone(), app.url("users/me/"))
                .bearer_auth(&access)
                .header("Content-Type", "application/json")
                .body("[1]")
        });
        garbage.await.assert(
            400,
            r#"{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}"#,
        );
        let anonymous = app
            .send(|c| c.request(method.clone(), app.url("users/me/")).json(&json!({})))
            .await;
        anonymous.assert(401, r#"{"detail":"Authentication credentials were not provided."}"#);
    }
    let unchanged = "SELECT count(*) FROM users WHERE email = 'alice@example.com' AND is_active = true AND is_staff = false AND is_superuser = false AND first_name = ''";
    assert_eq!(app.scalar(unchanged).await, 1);
}

async fn delete_me_needs_the_password_and_removes_user_and_tokens(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (access, refresh) = app.tokens_for("alice@example.com").await;
    for (body, expected) in [
        (json!({}), r#"{"current_password":["This field is required."]}"#),
        (
            json!({"current_password": null}),
            r#"{"current_password":["This field may not be null."]}"#,
        ),
        (
            json!({"current_password": ""}),
            r#"{"current_password":["This field may not be blank."]}"#,
        ),
        (
            json!({"current_password": "wrong"}),
            r#"{"current_password":["Invalid password."]}"#,
        ),
        (
            json!({"current_password": 123}),
            r#"{"current_password":["Invalid password."]}"#,
        ),
    ] {
        let answer = delete_me(&app, &access, &body).await;
        assert_eq!(
            (answer.status.as_u16(), answer.text.as_str()),
            (400, expected),
            "{body}"
        );
    }
    delete_me(&app, &access, &json!({"current_password": PASSWORD}))
        .await
        .assert(204, "");
    app.me(&access)
        .await
        .assert(401, r#"{"detail":"User not found","code":"user_not_found"}"#);
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 0);
    assert_eq!(
        app.scalar("SELECT count(*) FROM outstanding_tokens").await,
        0,
        "tokens go with the user"
    );
    app.refresh(&refresh)
        .await
        .assert(401, r#"{"detail":"No active account found for the given token."}"#);
    app.login("alice@example.com", PASSWORD).await.assert(
        401,
        r#"{"detail":"No active account found with the given credentials"}"#,
    );
}

async fn delete_me(app: &TestApp, access: &str, body: &Value) -> Answer {
    app.send(|c| c.delete(app.url("users/me/")).bearer_auth(access).json(body))
        .await
}

async fn request_reset(app: &TestApp, email: &str) -> Answer {
    app.post("users/reset_password/", &json!({ "email": email }), None)
        .await
}

async fn resend_activation_mails_only_inactive_accounts(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.active_user("alice@example.com").await;
    app.register("carol@example.com", PASSWORD).await;
    let first = app.mail.next().await.link("activate");
    check_each(
        &app,
        "users/resend_activation/",
        None,
        vec![
            (json!({}), 400, r#"{"email":["This field is required."]}"#),
            (
                json!({"email": "bad"}),
                400,
                r#"{"email":["Enter a valid email address."]}"#,
            ),
            (
                json!({"email": null}),
                400,
                r#"{"email":["This field may not be null."]}"#,
            ),
            (json!({"email": "unknown@example.com"}), 204, ""),
            (json!({"email": "alice@example.com"}), 204, ""),
            (json!({"email": " carol@example.com "}), 204, ""),
        ],
    )
    .await;
    let mail = app.mail.next().await;
    assert_eq!(mail.header("To").as_deref(), Some("carol@example.com"));
    assert_eq!(mail.header("Subject").as_deref(), Some("Account activation on imhotep"));
    app.mail
        .drain(std::time::Duration::from_millis(500))
        .await
        .is_empty()
        .then_some(())
        .expect("only carol got mail");
    let (uid, token) = mail.link("activate");
    assert_eq!(uid, first.0);
    app.activate(&uid, &token).await.assert(204, "");
}

async fn resend_activation_follows_the_flags(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| s.djoser.password_reset_show_email_not_found = true).await else {
        return;
    };
    app.active_user("alice@example.com").await;
    let missing = r#"["User with given email does not exist."]"#;
    check_each(
        &app,
        "users/resend_activation/",
        None,
        vec![
            (json!({"email": "unknown@example.com"}), 400, missing),
            (json!({"email": "alice@example.com"}), 400, missing),
        ],
    )
    .await;
    check_each(
        &app,
        "users/reset_password/",
        None,
        vec![(json!({"email": "unknown@example.com"}), 400, missing)],
    )
    .await;
    let Some(app) = spawn_app_with(db, |s| s.djoser.send_activation_email = false).await else {
        return;
    };
    let answer = app
        .post(
            "users/resend_activation/",
            &json!({"email": "unknown@example.com"}),
            None,
        )
        .await;
    answer.assert(400, "");
    assert_eq!(answer.header("content-type"), None);
}

async fn set_password_checks_fields_then_policy_then_revokes_sessions(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| s.djoser.password_changed_email_confirmation = true).await else {
        return;
    };
    let (access, refresh) = app.tokens_for("alice@example.com").await;
    let bearer = Some(access.as_str());
    check_each(&app, "users/set_password/", bearer, vec![
        (json!({}), 400, r#"{"new_password":["This field is required."],"current_password":["This field is required."]}"#),
        (json!({"current_password": null, "new_password": null}), 400, r#"{"new_password":["This field may not be null."],"current_password":["This field may not be null."]}"#),
        (json!({"current_password": "wrong", "new_password": "123"}), 400, r#"{"current_password":["Invalid password."]}"#),
        (json!({"current_password": "wrong"}), 400, r#"{"new_password":["This field is required."],"current_password":["Invalid password."]}"#),
        (json!({"current_password": PASSWORD, "new_password": "123"}), 400, r#"{"new_password":["This password is too short. It must contain at least 8 characters.","This password is too common.","This password is entirely numeric."]}"#),
        (json!({"current_password": PASSWORD, "new_password": "alice@example.com"}), 400, r#"{"new_password":["The password is too similar to the email address."]}"#),
    ])
    .await;
    let anonymous = app.post("users/set_password/", &json!({}), None).await;
    anonymous.assert(401, r#"{"detail":"Authentication credentials were not provided."}"#);
    app.post(
        "users/set_password/",
        &json!({"current_password": PASSWORD, "new_password": STRONG}),
        bearer,
    )
    .await
    .assert(204, "");
    let notice = app.mail.next().await;
    assert_eq!(
        notice.header("Subject").as_deref(),
        Some("imhotep - Your password has been successfully changed!")
    );
    app.login("alice@example.com", PASSWORD).await.assert(
        401,
        r#"{"detail":"No active account found with the given credentials"}"#,
    );
    assert_eq!(app.login("alice@example.com", STRONG).await.status, 200);
    app.refresh(&refresh)
        .await
        .assert(401, r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#);
}

async fn set_password_retype(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| s.djoser.set_password_retype = true).await else {
        return;
    };
    let (access, _) = app.tokens_for("alice@example.com").await;
    check_each(&app, "users/set_password/", Some(&access), vec![
        (json!({}), 400, r#"{"new_password":["This field is required."],"re_new_password":["This field is required."],"current_password":["This field is required."]}"#),
        (json!({"current_password": PASSWORD, "new_password": STRONG, "re_new_password": "other-Pass-99"}), 400, r#"{"non_field_errors":["The two password fields didn't match."]}"#),
        (json!({"current_password": "wrong", "new_password": "123", "re_new_password": "456"}), 400, r#"{"current_password":["Invalid password."]}"#),
        (json!({"current_password": PASSWORD, "new_password": STRONG, "re_new_password": STRONG}), 204, ""),
    ])
    .await;
}

async fn reset_password_mails_the_stored_address_with_a_config_built_link(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.active_user("alice@example.com").await;
    app.register("carol@example.com", PASSWORD).await;
    app.mail.next().await;
    check_each(
        &app,
        "users/reset_password/",
        None,
        vec![
            (json!({}), 400, r#"{"email":["This field is required."]}"#),
            (
                json!({"email": "bad"}),
                400,
                r#"{"email":["Enter a valid email address."]}"#,
            ),
            (json!({"email": "unknown@example.com"}), 204, ""),
            (json!({"email": "carol@example.com"}), 204, ""),
        ],
    )
    .await;
    let answer = app.send(|c| {
        c.post(app.url("users/reset_password/"))
            .header("X-Forwarded-Host", "evil.test")
            .json(&json!({"email": "ALICE@example.com"}))
    });
    answer.await.assert(204, "");
    let mail = app.mail.next().await;
    assert_eq!(
        mail.header("To").as_deref(),
        Some("alice@example.com"),
        "sent to the stored address"
    );
    assert_eq!(mail.header("Subject").as_deref(), Some("Password reset on imhotep"));
    assert!(mail.data.contains("http://localhost:3000/reset-password/MQ/") && !mail.data.contains("evil.test"));
    assert!(
        app.mail.drain(std::time::Duration::from_millis(500)).await.is_empty(),
        "nobody else got mail"
    );
}

async fn reset_password_confirm_checks_in_djosers_order_and_works_once(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (_, refresh) = app.tokens_for("alice@example.com").await;
    app.post("users/reset_password/", &json!({"email": "alice@example.com"}), None)
        .await;
    let (uid, token) = app.mail.next().await.link("reset-password");
    let weak = r#"{"new_password":["This password is too short. It must contain at least 8 characters.","This password is too common.","This password is entirely numeric."]}"#;
    check_each(&app, "users/reset_password_confirm/", None, vec![
        (json!({}), 400, r#"{"uid":["This field is required."],"token":["This field is required."],"new_password":["This field is required."]}"#),
        (json!({"new_password": "123"}), 400, r#"{"uid":["This field is required."],"token":["This field is required."]}"#),
        (json!({"uid": "x", "token": "y", "new_password": "123"}), 400, weak),
        (json!({"uid": "!!!", "token": token, "new_password": STRONG}), 400, r#"{"uid":["Invalid user id or user doesn't exist."]}"#),
        (json!({"uid": "OTk5OTk", "token": token, "new_password": STRONG}), 400, r#"{"uid":["Invalid user id or user doesn't exist."]}"#),
        (json!({"uid": uid, "token": "abc", "new_password": STRONG}), 400, r#"{"token":["Invalid token for given user."]}"#),
        (json!({"uid": uid, "token": token, "new_password": "123"}), 400, weak),
        (json!({"uid": uid, "token": token, "new_password": "alice@example.com"}), 204, ""),
        (json!({"uid": uid, "token": token, "new_password": STRONG}), 400, r#"{"token":["Invalid token for given user."]}"#),
    ])
    .await;
    assert_eq!(
        app.login("alice@example.com", "alice@example.com").await.status,
        200,
        "similarity is not checked here (Djoser)"
    );
    assert_eq!(
        app.scalar("SELECT count(*) FROM users WHERE last_login IS NOT NULL")
            .await,
        1
    );
    app.refresh(&refresh)
        .await
        .assert(401, r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#);
}

async fn a_link_serves_only_its_purpose(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.register("erin@example.com", PASSWORD).await;
    let (uid, activation) = app.mail.next().await.link("activate");
    let as_reset = json!({"uid": uid, "token": activation, "new_password": STRONG});
    app.post("users/reset_password_confirm/", &as_reset, None)
        .await
        .assert(400, r#"{"token":["Invalid token for given user."]}"#);
    let as_email_reset = json!({"uid": uid, "token": activation, "new_email": "erin2@example.com"});
    app.post("users/reset_email_confirm/", &as_email_reset, None)
        .await
        .assert(400, r#"{"token":["Invalid token for given user."]}"#);
    app.activate(&uid, &activation).await.assert(204, "");
}

async fn reset_links_die_when_the_account_changes(db: Backend) {
    // Djoser's immediate set_email (the confirmed change is tests/api/email_change.rs), and four reset
    // e-mails to one address within a minute: the per-recipient spacing is off here.
    let Some(app) = spawn_app_with(db, |s| {
        s.djoser.set_email_requires_confirmation = false;
        s.throttle.email_min_interval = std::time::Duration::ZERO;
    })
    .await
    else {
        return;
    };
    let (access, _) = app.tokens_for("alice@example.com").await;
    let confirm = |uid: &str, token: &str| json!({"uid": uid, "token": token, "new_password": STRONG});
    let invalid = r#"{"token":["Invalid token for given user."]}"#;
    // Dies when the password changes.
    request_reset(&app, "alice@example.com").await;
    let (uid, token) = app.mail.next().await.link("reset-password");
    app.post(
        "users/set_password/",
        &json!({"current_password": PASSWORD, "new_password": "An0ther-Horse-88"}),
        Some(&access),
    )
    .await
    .assert(204, "");
    app.post("users/reset_password_confirm/", &confirm(&uid, &token), None)
        .await
        .assert(400, invalid);
    // Dies when another link is used (last_login changes).
    request_reset(&app, "alice@example.com").await;
    let (_, first) = app.mail.next().await.link("reset-password");
    request_reset(&app, "alice@example.com").await;
    let (_, second) = app.mail.next().await.link("reset-password");
    app.post("users/reset_password_confirm/", &confirm(&uid, &second), None)
        .await
        .assert(204, "");
    app.post("users/reset_password_confirm/", &confirm(&uid, &first), None)
        .await
        .assert(400, invalid);
    // Dies when the e-mail changes.
    app.post("users/reset_password/", &json!({"email": "alice@example.com"}), None)
        .await;
    let (_, token) = app.mail.next().await.link("reset-password");
    let (access, _) = (
        app.login("alice@example.com", STRONG).await.body["access"]
            .as_str()
            .unwrap()
            .to_owned(),
        (),
    );
    app.post(
        "users/set_email/",
        &json!({"current_password": STRONG, "new_email": "alice2@example.com"}),
        Some(&access),
    )
    .await
    .assert(204, "");
    app.post("users/reset_password_confirm/", &confirm(&uid, &token), None)
        .await
        .assert(400, invalid);
}

async fn set_email_checks_password_and_uniqueness_together(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| {
        s.djoser.username_changed_email_confirmation = true;
        // Djoser's immediate change (the confirmed change is tests/api/email_change.rs).
        s.djoser.set_email_requires_confirmation = false;
    })
    .await
    else {
        return;
    };
    app.active_user("bob@example.com").await;
    let (access, _) = app.tokens_for("alice@example.com").await;
    let taken = r#"{"new_email":["user with this email address already exists."]}"#;
    check_each(&app, "users/set_email/", Some(&access), vec![
        (json!({}), 400, r#"{"current_password":["This field is required."],"new_email":["This field is required."]}"#),
        (json!({"new_email": "bad", "current_password": "wrong"}), 400, r#"{"current_password":["Invalid password."],"new_email":["Enter a valid email address."]}"#),
        (json!({"current_password": "wrong", "new_email": "bob@example.com"}), 400, r#"{"current_password":["Invalid password."],"new_email":["user with this email address already exists."]}"#),
        (json!({"current_password": PASSWORD, "new_email": "bob@example.com"}), 400, taken),
        (json!({"current_password": PASSWORD, "new_email": "alice@example.com"}), 400, taken),
        (json!({"current_password": PASSWORD, "email": "x@example.com"}), 400, r#"{"new_email":["This field is required."]}"#),
        (json!({"current_password": PASSWORD, "new_email": " alice2@example.com "}), 204, ""),
    ])
    .await;
    let notice = app.mail.next().await;
    assert_eq!(
        notice.header("To").as_deref(),
        Some("alice2@example.com"),
        "to the new address"
    );
    assert_eq!(
        notice.header("Subject").as_deref(),
        Some("imhotep - Your username has been successfully changed!")
    );
    assert_eq!(app.login("alice2@example.com", PASSWORD).await.status, 200);
    app.me(&access)
        .await
        .assert(200, r#"{"id":2,"email":"alice2@example.com"}"#);
}

async fn reset_email_confirm_reads_uid_and_token_after_the_new_address(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.active_user("bob@example.com").await;
    app.active_user("alice@example.com").await;
    check_each(
        &app,
        "users/reset_email/",
        None,
        vec![
            (json!({}), 400, r#"{"email":["This field is required."]}"#),
            (json!({"email": "unknown@example.com"}), 204, ""),
            (json!({"email": "alice@example.com"}), 204, ""),
        ],
    )
    .await;
    let mail = app.mail.next().await;
    assert_eq!(mail.header("Subject").as_deref(), Some("Username reset on imhotep"));
    let (uid, token) = mail.link("reset-email");
    let taken = r#"{"new_email":["user with this email address already exists."]}"#;
    check_each(
        &app,
        "users/reset_email_confirm/",
        None,
        vec![
            (json!({}), 400, r#"{"new_email":["This field is required."]}"#),
            (
                json!({"uid": "", "token": "", "new_email": ""}),
                400,
                r#"{"new_email":["This field may not be blank."]}"#,
            ),
            (
                json!({"new_email": "new@example.com"}),
                400,
                r#"{"uid":["Invalid user id or user doesn't exist."]}"#,
            ),
            (
                json!({"uid": "x", "new_email": "bad"}),
                400,
                r#"{"new_email":["Enter a valid email address."]}"#,
            ),
            (json!({"uid": "x", "new_email": "bob@example.com"}), 400, taken),
            (
                json!({"uid": 1, "token": 123, "new_email": "new@example.com"}),
                400,
                r#"{"uid":["Invalid user id or user doesn't exist."]}"#,
            ),
            (
                json!({"uid": uid, "new_email": "new@example.com"}),
                400,
                r#"{"token":["Invalid token for given user."]}"#,
            ),
            (
                json!({"uid": uid, "token": token, "new_email": "alice@example.com"}),
                400,
                taken,
            ),
            (
                json!({"uid": uid, "token": token, "new_email": "new@example.com"}),
                204,
                "",
            ),
            (
                json!({"uid": uid, "token": token, "new_email": "newer@example.com"}),
                400,
                r#"{"token":["Invalid token for given user."]}"#,
            ),
        ],
    )
    .await;
    assert_eq!(app.login("new@example.com", PASSWORD).await.status, 200);
}

async fn concurrent_confirms_of_one_link_succeed_once(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.active_user("alice@example.com").await;
    app.post("users/reset_password/", &json!({"email": "alice@example.com"}), None)
        .await;
    let (uid, token) = app.mail.next().await.link("reset-password");
    let body = json!({"uid": uid, "token": token, "new_password": STRONG});
    let answers: Vec<Answer> =
        futures::future::join_all((0..6).map(|_| app.post("users/reset_password_confirm/", &body, None))).await;
    assert_eq!(answers.iter().filter(|a| a.status == 204).count(), 1);
}

/// Djoser's serializers for these three declare a plain `EmailField()`: no length message, only
/// Django's validator, which refuses addresses over 320 characters (checked against the reference).
async fn lookups_by_address_have_no_length_limit_of_their_own(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.active_user("alice@example.com").await;
    let long = format!("{}@example.com", "a".repeat(300));
    let too_long = format!("{}@example.com", "a".repeat(330));
    for path in [
        "users/resend_activation/",
        "users/reset_password/",
        "users/reset_email/",
    ] {
        app.post(path, &json!({ "email": long }), None).await.assert(204, "");
        app.post(path, &json!({ "email": too_long }), None)
            .await
            .assert(400, r#"{"email":["Enter a valid email address."]}"#);
    }
    // The address still has its limit where it is stored.
    let registration = json!({"email": long, "password": PASSWORD, "re_password": PASSWORD});
    app.post("users/", &registration, None).await.assert(
        400,
        r#"{"email":["Ensure this field has no more than 254 characters."]}"#,
    );
}

crate::on_both_databases!(
    lookups_by_address_have_no_length_limit_of_their_own,
    update_me_changes_nothing_and_answers_the_user,
    delete_me_needs_the_password_and_removes_user_and_tokens,
    resend_activation_mails_only_inactive_accounts,
    resend_activation_follows_the_flags,
    set_password_checks_fields_then_policy_then_revokes_sessions,
    set_password_retype,
    reset_password_mails_the_stored_address_with_a_config_built_link,
    reset_password_confirm_checks_in_djosers_order_and_works_once,
    a_link_serves_only_its_purpose,
    reset_links_die_when_the_account_changes,
    set_email_checks_password_and_uniqueness_together,
    reset_email_confirm_reads_uid_and_token_after_the_new_address,
    concurrent_confirms_of_one_link_succeed_once,
);
