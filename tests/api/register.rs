//! `POST users/`: validation order, DRF messages, uniqueness, side effects.

use futures::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, spawn_app};

const STRONG: &str = "Str0ng-Pass-Word-77";

/// Each bad body and the exact answer the reference gave.
fn bad_bodies() -> Vec<(Value, &'static str)> {
    let long_invalid = "a".repeat(300);
    let long_valid = format!("{}@example.com", "a".repeat(250));
    vec![
        (
            json!({}),
            r#"{"email":["This field is required."],"password":["This field is required."],"re_password":["This field is required."]}"#,
        ),
        (
            json!({"email": "m1@example.com", "password": STRONG}),
            r#"{"re_password":["This field is required."]}"#,
        ),
        (
            json!({"email": null, "password": null, "re_password": null}),
            r#"{"email":["This field may not be null."],"password":["This field may not be null."],"re_password":["This field may not be null."]}"#,
        ),
        (
            json!({"email": "", "password": "", "re_password": ""}),
            r#"{"email":["This field may not be blank."],"password":["This field may not be blank."],"re_password":["This field may not be blank."]}"#,
        ),
        (
            json!({"email": "   ", "password": "   ", "re_password": "   "}),
            r#"{"email":["This field may not be blank."],"password":["This field may not be blank."],"re_password":["This field may not be blank."]}"#,
        ),
        (
            json!({"email": 123, "password": STRONG, "re_password": STRONG}),
            r#"{"email":["Enter a valid email address."]}"#,
        ),
        (
            json!({"email": true, "password": STRONG, "re_password": STRONG}),
            r#"{"email":["Enter a valid email address."]}"#,
        ),
        (
            json!({"email": [], "password": STRONG, "re_password": STRONG}),
            r#"{"email":["Enter a valid email address."]}"#,
        ),
        (
            json!({"email": {}, "password": STRONG, "re_password": STRONG}),
            r#"{"email":["Enter a valid email address."]}"#,
        ),
        (
            json!({"email": "pt@example.com", "password": true, "re_password": true}),
            r#"{"password":["Not a valid string."],"re_password":["Not a valid string."]}"#,
        ),
        (
            json!({"email": "pn@example.com", "password": 12_345_678, "re_password": 12_345_678}),
            r#"{"password":["This password is too common.","This password is entirely numeric."]}"#,
        ),
        (
            json!({"email": 1, "password": false, "re_password": null}),
            r#"{"email":["Enter a valid email address."],"password":["Not a valid string."],"re_password":["This field may not be null."]}"#,
        ),
        (
            json!({"email": "not-an-email", "password": STRONG, "re_password": STRONG}),
            r#"{"email":["Enter a valid email address."]}"#,
        ),
        (
            json!({"email": long_invalid, "password": STRONG, "re_password": STRONG}),
            r#"{"email":["Ensure this field has no more than 254 characters.","Enter a valid email address."]}"#,
        ),
        (
            json!({"email": long_valid, "password": STRONG, "re_password": STRONG}),
            r#"{"email":["Ensure this field has no more than 254 characters."]}"#,
        ),
        (
            json!({"email": "josé@exämple.com", "password": STRONG, "re_password": STRONG}),
            r#"{"email":["Enter a valid email address."]}"#,
        ),
        (
            json!({"email": "a\u{0}@example.com", "password": STRONG, "re_password": STRONG}),
            r#"{"email":["Null characters are not allowed.","Enter a valid email address."]}"#,
        ),
        (
            json!({"email": "nul@example.com", "password": "Str0ng\u{0}Pass-77", "re_password": "Str0ng\u{0}Pass-77"}),
            r#"{"password":["Null characters are not allowed."],"re_password":["Null characters are not allowed."]}"#,
        ),
        (
            json!({"email": "weak@example.com", "password": "123", "re_password": "123"}),
            r#"{"password":["This password is too short. It must contain at least 8 characters.","This password is too common.","This password is entirely numeric."]}"#,
        ),
        (
            json!({"email": "carolyn@example.com", "password": "carolyn@example.com", "re_password": "carolyn@example.com"}),
            r#"{"password":["The password is too similar to the email address."]}"#,
        ),
        (
            json!({"email": "johnsmith@example.com", "password": "johnsmith1", "re_password": "johnsmith1"}),
            r#"{"password":["The password is too similar to the email address."]}"#,
        ),
        (
            json!({"email": "mm@example.com", "password": STRONG, "re_password": "Different-Pass-88"}),
            r#"{"non_field_errors":["The two password fields didn't match."]}"#,
        ),
        (
            json!({"email": "mm@example.com", "password": "123", "re_password": "456"}),
            r#"{"password":["This password is too short. It must contain at least 8 characters.","This password is too common.","This password is entirely numeric."]}"#,
        ),
        (
            json!({"email": "bad", "password": "123", "re_password": "123"}),
            r#"{"email":["Enter a valid email address."]}"#,
        ),
        (
            json!({"email": "bad", "re_password": ""}),
            r#"{"email":["Enter a valid email address."],"password":["This field is required."],"re_password":["This field may not be blank."]}"#,
        ),
    ]
}

async fn invalid_registrations_get_drf_errors_and_create_nothing(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    for (body, expected) in bad_bodies() {
        let answer = app.post("users/", &body, None).await;
        assert_eq!(
            (answer.status.as_u16(), answer.text.as_str()),
            (400, expected),
            "body {body}"
        );
    }
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 0);
}

async fn registration_creates_an_inactive_user_and_mails_the_activation_link(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let answer = app.register("  Mixed@EXAMPLE.ORG ", PASSWORD).await;
    answer.assert(201, r#"{"email":"Mixed@example.org","id":1}"#);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(
        app.scalar(
            "SELECT count(*) FROM users WHERE email = 'Mixed@example.org' AND is_active = false AND is_staff = false"
        )
        .await,
        1
    );
    let password: i64 = app
        .scalar("SELECT count(*) FROM users WHERE password LIKE '$argon2id$v=19$m=19456,t=2,p=1$%'")
        .await;
    assert_eq!(password, 1, "argon2id hash stored");
    let mail = app.mail.next().await;
    assert_eq!(mail.header("Subject").as_deref(), Some("Account activation on imhotep"));
    assert_eq!(mail.header("To").as_deref(), Some("Mixed@example.org"));
    assert!(
        mail.data.contains("http://localhost:3000/activate/MQ/"),
        "{}",
        mail.data
    );
}

async fn duplicate_emails_are_refused_case_insensitively(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.register("a@example.com", PASSWORD)
        .await
        .assert(201, r#"{"email":"a@example.com","id":1}"#);
    for email in ["a@example.com", "a@EXAMPLE.COM", "A@example.com"] {
        app.register(email, PASSWORD)
            .await
            .assert(400, r#"{"email":["user with this email address already exists."]}"#);
    }
    // The uniqueness error is field-level, so it wins over the password validators, as in DRF.
    let weak = json!({"email": "a@example.com", "password": "123", "re_password": "123"});
    app.post("users/", &weak, None)
        .await
        .assert(400, r#"{"email":["user with this email address already exists."]}"#);
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 1);
}

async fn racing_registrations_of_one_address_make_one_user(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let attempts = [
        "race@example.com",
        "RACE@example.com",
        "race@EXAMPLE.com",
        "Race@Example.Com",
        "race@example.com",
        "rAce@example.com",
    ];
    let answers = join_all(attempts.iter().map(|email| app.register(email, PASSWORD))).await;
    let created = answers.iter().filter(|a| a.status == 201).count();
    assert_eq!(created, 1, "exactly one registration wins");
    for answer in answers.iter().filter(|a| a.status != 201) {
        answer.assert(400, r#"{"email":["user with this email address already exists."]}"#);
    }
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 1);
}

async fn unknown_and_read_only_fields_are_ignored(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let body = json!({"email": "extra@example.com", "password": PASSWORD, "re_password": PASSWORD, "is_staff": true, "is_superuser": true, "is_active": true, "id": 99, "first_name": "x"});
    app.post("users/", &body, None)
        .await
        .assert(201, r#"{"email":"extra@example.com","id":1}"#);
    assert_eq!(app.scalar("SELECT count(*) FROM users WHERE id = 1 AND is_staff = false AND is_superuser = false AND is_active = false AND first_name = ''").await, 1);
}

async fn registration_sends_the_confirmation_mail_when_activation_is_off(db: Backend) {
    let Some(app) = crate::helpers::spawn_app_with(db, |s| s.djoser.send_activation_email = false).await else {
        return;
    };
    app.register("conf@example.com", PASSWORD)
        .await
        .assert(201, r#"{"email":"conf@example.com","id":1}"#);
    let mail = app.mail.next().await;
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("imhotep - Your account has been successfully created and activated!")
    );
    assert_eq!(app.scalar("SELECT count(*) FROM users WHERE is_active = true").await, 1);
    app.login("conf@example.com", PASSWORD).await;
}

async fn retype_can_be_turned_off(db: Backend) {
    let Some(app) = crate::helpers::spawn_app_with(db, |s| s.djoser.user_create_password_retype = false).await else {
        return;
    };
    let body = json!({"email": "solo@example.com", "password": PASSWORD});
    app.post("users/", &body, None)
        .await
        .assert(201, r#"{"email":"solo@example.com","id":1}"#);
}

crate::on_both_databases!(
    invalid_registrations_get_drf_errors_and_create_nothing,
    registration_creates_an_inactive_user_and_mails_the_activation_link,
    duplicate_emails_are_refused_case_insensitively,
    racing_registrations_of_one_address_make_one_user,
    unknown_and_read_only_fields_are_ignored,
    registration_sends_the_confirmation_mail_when_activation_is_off,
    retype_can_be_turned_off,
);
