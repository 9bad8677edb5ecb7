//! `GET users/` and `users/{id}/`: read-only fields, profile fields, custom claims, and who may
//! read, change or delete whom (staff, other users, hidden users).

use serde_json::json;

use crate::helpers::{Backend, PASSWORD, TestApp, spawn_app, spawn_app_with};
use crate::tokens::{access_claims, payload, sign};

const NO_MATCH: &str = r#"{"detail":"No User matches the given query."}"#;
const FORBIDDEN: &str = r#"{"detail":"You do not have permission to perform this action."}"#;

/// alice (1), bob (2), dave (3, staff); returns (alice's access, dave's access).
async fn three_users(app: &TestApp) -> (String, String) {
    let (alice, _) = app.tokens_for("alice@example.com").await;
    app.active_user("bob@example.com").await;
    app.active_user("dave@example.com").await;
    app.execute("UPDATE users SET is_staff = true WHERE id = 3").await;
    let dave = app.login("dave@example.com", PASSWORD).await.body["access"]
        .as_str()
        .unwrap()
        .to_owned();
    (alice, dave)
}

async fn method(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    bearer: &str,
    body: serde_json::Value,
) -> crate::helpers::Answer {
    app.send(|c| c.request(method, app.url(path)).bearer_auth(bearer).json(&body))
        .await
}

async fn the_list_shows_non_staff_only_themselves(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (alice, dave) = three_users(&app).await;
    app.send(|c| c.get(app.url("users/")))
        .await
        .assert(401, r#"{"detail":"Authentication credentials were not provided."}"#);
    app.send(|c| c.get(app.url("users/")).bearer_auth(&alice))
        .await
        .assert(200, r#"[{"id":1,"email":"alice@example.com"}]"#);
    let all = r#"[{"id":1,"email":"alice@example.com"},{"id":2,"email":"bob@example.com"},{"id":3,"email":"dave@example.com"}]"#;
    app.send(|c| c.get(app.url("users/")).bearer_auth(&dave))
        .await
        .assert(200, all);
    let head = app.send(|c| c.head(app.url("users/")).bearer_auth(&alice)).await;
    assert_eq!((head.status.as_u16(), head.text.as_str()), (200, ""));
    let Some(open) = spawn_app_with(db, |s| s.djoser.hide_users = false).await else {
        return;
    };
    let (alice, _) = three_users(&open).await;
    open.send(|c| c.get(open.url("users/")).bearer_auth(&alice))
        .await
        .assert(200, all);
}

async fn others_are_invisible_to_non_staff(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (alice, _) = three_users(&app).await;
    for verb in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::PATCH,
        reqwest::Method::DELETE,
    ] {
        for id in ["2", "99999", "-1", "0"] {
            let body = json!({"current_password": PASSWORD});
            method(&app, verb.clone(), &format!("users/{id}/"), &alice, body)
                .await
                .assert(404, NO_MATCH);
        }
        for id in ["abc", "1.5"] {
            method(&app, verb.clone(), &format!("users/{id}/"), &alice, json!({}))
                .await
                .assert(404, r#"{"detail":"Not found."}"#);
        }
    }
    method(&app, reqwest::Method::GET, "users/01/", &alice, json!({}))
        .await
        .assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
    method(&app, reqwest::Method::POST, "users/1/", &alice, json!({}))
        .await
        .assert(405, r#"{"detail":"Method \"POST\" not allowed."}"#);
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 3);
    let Some(open) = spawn_app_with(db, |s| s.djoser.hide_users = false).await else {
        return;
    };
    let (alice, _) = three_users(&open).await;
    for verb in [reqwest::Method::GET, reqwest::Method::PATCH, reqwest::Method::DELETE] {
        method(
            &open,
            verb.clone(),
            "users/2/",
            &alice,
            json!({"current_password": PASSWORD}),
        )
        .await
        .assert(403, FORBIDDEN);
        method(&open, verb, "users/99999/", &alice, json!({}))
            .await
            .assert(404, NO_MATCH);
    }
}

async fn staff_manage_everyone_with_their_own_password(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (alice, dave) = three_users(&app).await;
    method(&app, reqwest::Method::GET, "users/2/", &dave, json!({}))
        .await
        .assert(200, r#"{"id":2,"email":"bob@example.com"}"#);
    method(
        &app,
        reqwest::Method::PATCH,
        "users/2/",
        &dave,
        json!({"is_staff": true}),
    )
    .await
    .assert(200, r#"{"id":2,"email":"bob@example.com"}"#);
    method(&app, reqwest::Method::GET, "users/99999/", &dave, json!({}))
        .await
        .assert(404, NO_MATCH);
    let bobs_password = json!({"current_password": PASSWORD.to_uppercase()});
    method(&app, reqwest::Method::DELETE, "users/2/", &dave, bobs_password)
        .await
        .assert(400, r#"{"current_password":["Invalid password."]}"#);
    method(
        &app,
        reqwest::Method::DELETE,
        "users/2/",
        &dave,
        json!({"current_password": PASSWORD}),
    )
    .await
    .assert(204, "");
    assert_eq!(app.scalar("SELECT count(*) FROM users WHERE id = 2").await, 0);
    method(&app, reqwest::Method::GET, "users/1/", &alice, json!({}))
        .await
        .assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
    method(&app, reqwest::Method::DELETE, "users/1/", &alice, json!({}))
        .await
        .assert(400, r#"{"current_password":["This field is required."]}"#);
}

async fn read_only_fields_cannot_be_written(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (alice, _) = three_users(&app).await;
    let before = "SELECT count(*) FROM users WHERE id = 1 AND email = 'alice@example.com' AND is_staff = false \
                  AND is_superuser = false AND is_active = true AND password LIKE '$argon2id$%'";
    for field in [
        "is_staff",
        "is_superuser",
        "is_active",
        "id",
        "password",
        "email",
        "date_joined",
        "last_login",
    ] {
        let value = match field {
            "is_staff" | "is_superuser" => json!(true),
            "is_active" => json!(false),
            "id" => json!(2),
            _ => json!("2000-01-01T00:00:00Z"),
        };
        for path in ["users/me/", "users/1/"] {
            let answer = method(&app, reqwest::Method::PATCH, path, &alice, json!({ field: value })).await;
            answer.assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
            assert_eq!(app.scalar(before).await, 1, "{field} changed through {path}");
        }
    }
    app.send(|c| c.get(app.url("users/")).bearer_auth(&alice))
        .await
        .assert(200, r#"[{"id":1,"email":"alice@example.com"}]"#);
}

async fn claims_in_a_token_never_grant_rights(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (_, dave) = three_users(&app).await;
    let mut forged = access_claims(1);
    forged["is_staff"] = json!(true);
    forged["is_superuser"] = json!(true);
    let forged = sign(&forged);
    app.send(|c| c.get(app.url("users/")).bearer_auth(&forged))
        .await
        .assert(200, r#"[{"id":1,"email":"alice@example.com"}]"#);
    method(&app, reqwest::Method::GET, "users/2/", &forged, json!({}))
        .await
        .assert(404, NO_MATCH);
    // Demoted in the database: the live token loses staff rights on the next request.
    app.execute("UPDATE users SET is_staff = false WHERE id = 3").await;
    method(&app, reqwest::Method::GET, "users/2/", &dave, json!({}))
        .await
        .assert(404, NO_MATCH);
}

async fn required_fields_join_registration_representation_and_updates(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| {
        s.djoser.required_fields = vec!["first_name".into(), "last_name".into()];
        s.djoser.send_activation_email = false;
    })
    .await
    else {
        return;
    };
    let body = json!({"first_name": "Ada", "email": "ada@example.com", "password": PASSWORD, "re_password": PASSWORD});
    app.post("users/", &body, None).await.assert(
        201,
        r#"{"first_name":"Ada","last_name":"","email":"ada@example.com","id":1}"#,
    );
    let long = json!({"first_name": "x".repeat(151), "last_name": null, "email": "b@example.com", "password": PASSWORD, "re_password": PASSWORD});
    app.post("users/", &long, None).await.assert(400, r#"{"first_name":["Ensure this field has no more than 150 characters."],"last_name":["This field may not be null."]}"#);
    let similar =
        json!({"first_name": "Lovelace", "email": "c@example.com", "password": "lovelace", "re_password": "lovelace"});
    app.post("users/", &similar, None).await.assert(
        400,
        r#"{"password":["The password is too similar to the first name."]}"#,
    );
    app.mail.next().await;
    let access = app.login("ada@example.com", PASSWORD).await.body["access"]
        .as_str()
        .unwrap()
        .to_owned();
    app.me(&access).await.assert(
        200,
        r#"{"first_name":"Ada","last_name":"","id":1,"email":"ada@example.com"}"#,
    );
    let patched = method(
        &app,
        reqwest::Method::PATCH,
        "users/me/",
        &access,
        json!({"last_name": " Lovelace ", "email": "x@example.com"}),
    )
    .await;
    patched.assert(
        200,
        r#"{"first_name":"Ada","last_name":"Lovelace","id":1,"email":"ada@example.com"}"#,
    );
    let put = method(
        &app,
        reqwest::Method::PUT,
        "users/me/",
        &access,
        json!({"first_name": ""}),
    )
    .await;
    put.assert(
        200,
        r#"{"first_name":"","last_name":"Lovelace","id":1,"email":"ada@example.com"}"#,
    );
    method(
        &app,
        reqwest::Method::PATCH,
        "users/me/",
        &access,
        json!({"first_name": true}),
    )
    .await
    .assert(400, r#"{"first_name":["Not a valid string."]}"#);
}

async fn extra_claims_are_copied_into_tokens(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| {
        s.djoser.required_fields = vec!["first_name".into(), "last_name".into()];
        s.simple_jwt.extra_claims = [
            "email",
            "username",
            "first_name",
            "last_name",
            "full_name",
            "is_staff",
            "is_superuser",
        ]
        .map(String::from)
        .to_vec();
    })
    .await
    else {
        return;
    };
    let body = json!({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "password": PASSWORD, "re_password": PASSWORD});
    app.post("users/", &body, None).await;
    let (uid, token) = app.mail.next().await.link("activate");
    app.activate(&uid, &token).await;
    let login = app.login("ada@example.com", PASSWORD).await;
    for token in ["access", "refresh"] {
        let claims = payload(login.body[token].as_str().unwrap());
        assert_eq!(claims["email"], "ada@example.com");
        assert_eq!(claims["username"], "");
        assert_eq!(
            (claims["first_name"].as_str(), claims["last_name"].as_str()),
            (Some("Ada"), Some("Lovelace"))
        );
        assert_eq!(claims["full_name"], "Ada Lovelace");
        assert_eq!(
            (claims["is_staff"].as_bool(), claims["is_superuser"].as_bool()),
            (Some(false), Some(false))
        );
    }
    app.execute("UPDATE users SET first_name = 'Augusta'").await;
    let refreshed = app.refresh(login.body["refresh"].as_str().unwrap()).await;
    let claims = payload(refreshed.body["access"].as_str().unwrap());
    assert_eq!(
        claims["full_name"], "Augusta Lovelace",
        "refreshed access tokens carry current values"
    );
}

async fn check_revoke_token_refuses_access_tokens_after_a_password_change(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| s.simple_jwt.check_revoke_token = true).await else {
        return;
    };
    let (access, _) = app.tokens_for("alice@example.com").await;
    assert_eq!(payload(&access)["hash_password"].as_str().map(str::len), Some(32));
    app.me(&access)
        .await
        .assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
    let change = json!({"current_password": PASSWORD, "new_password": "N3w-Horse-Battery-77"});
    app.post("users/set_password/", &change, Some(&access))
        .await
        .assert(204, "");
    app.me(&access).await.assert(
        401,
        r#"{"detail":"The user's password has been changed.","code":"password_changed"}"#,
    );
    let fresh = app.login("alice@example.com", "N3w-Horse-Battery-77").await.body["access"]
        .as_str()
        .unwrap()
        .to_owned();
    app.me(&fresh)
        .await
        .assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
}

async fn update_last_login_writes_it_on_login_only(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| s.simple_jwt.update_last_login = true).await else {
        return;
    };
    let (_, refresh) = app.tokens_for("alice@example.com").await;
    assert_eq!(
        app.scalar("SELECT count(*) FROM users WHERE last_login IS NOT NULL")
            .await,
        1
    );
    app.execute("UPDATE users SET last_login = NULL").await;
    app.refresh(&refresh).await;
    assert_eq!(
        app.scalar("SELECT count(*) FROM users WHERE last_login IS NOT NULL")
            .await,
        0,
        "refresh does not touch it"
    );
}

async fn registration_can_log_the_user_in(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| {
        s.djoser.register_returns_tokens = true;
        s.djoser.send_activation_email = false;
    })
    .await
    else {
        return;
    };
    let answer = app.register("ada@example.com", PASSWORD).await;
    assert_eq!(answer.status, 201);
    assert_eq!(
        answer.body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["user", "refresh", "access"]
    );
    assert_eq!(answer.body["user"], json!({"email": "ada@example.com", "id": 1}));
    app.me(answer.body["access"].as_str().unwrap())
        .await
        .assert(200, r#"{"id":1,"email":"ada@example.com"}"#);
    assert_eq!(app.refresh(answer.body["refresh"].as_str().unwrap()).await.status, 200);
}

async fn staff_without_the_superuser_flag_cannot_edit_or_delete_superusers(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (_, dave) = three_users(&app).await;
    // bob (2) is a superuser; dave (3) is staff only.
    app.execute("UPDATE users SET is_staff = true, is_superuser = true WHERE id = 2")
        .await;
    let bob = app.login("bob@example.com", PASSWORD).await.body["access"]
        .as_str()
        .unwrap()
        .to_owned();
    method(&app, reqwest::Method::GET, "users/2/", &dave, json!({}))
        .await
        .assert(200, r#"{"id":2,"email":"bob@example.com"}"#);
    for verb in [reqwest::Method::PATCH, reqwest::Method::PUT] {
        method(
            &app,
            verb,
            "users/2/",
            &dave,
            json!({"email": "dave-owns-this@example.com"}),
        )
        .await
        .assert(403, FORBIDDEN);
    }
    method(
        &app,
        reqwest::Method::DELETE,
        "users/2/",
        &dave,
        json!({"current_password": PASSWORD}),
    )
    .await
    .assert(403, FORBIDDEN);
    assert_eq!(
        app.scalar("SELECT count(*) FROM users WHERE id = 2 AND email = 'bob@example.com'")
            .await,
        1
    );
    // A superuser manages staff, and staff still manage ordinary users.
    method(&app, reqwest::Method::PATCH, "users/3/", &bob, json!({}))
        .await
        .assert(200, r#"{"id":3,"email":"dave@example.com"}"#);
    method(&app, reqwest::Method::PATCH, "users/1/", &dave, json!({}))
        .await
        .assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
}

async fn profile_fields_with_control_characters_are_refused(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| {
        s.djoser.required_fields = vec!["first_name".into(), "last_name".into()];
        s.djoser.send_activation_email = false;
    })
    .await
    else {
        return;
    };
    for name in ["Ada\u{1b}[2J", "Ada\u{7}", "Ada\rLovelace", "Ada\u{7f}", "Ada\u{9b}31m"] {
        let body =
            json!({"first_name": name, "email": "ada@example.com", "password": PASSWORD, "re_password": PASSWORD});
        app.post("users/", &body, None)
            .await
            .assert(400, r#"{"first_name":["Control characters are not allowed."]}"#);
    }
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 0);
    let body = json!({"first_name": "Ada", "email": "ada@example.com", "password": PASSWORD, "re_password": PASSWORD});
    assert_eq!(app.post("users/", &body, None).await.status, 201);
    app.mail.next().await;
    let access = app.login("ada@example.com", PASSWORD).await.body["access"]
        .as_str()
        .unwrap()
        .to_owned();
    method(
        &app,
        reqwest::Method::PATCH,
        "users/me/",
        &access,
        json!({"last_name": "Love\u{1b}]0;pwned\u{7}lace"}),
    )
    .await
    .assert(400, r#"{"last_name":["Control characters are not allowed."]}"#);
    assert_eq!(app.scalar("SELECT count(*) FROM users WHERE last_name = ''").await, 1);
}

crate::on_both_databases!(
    staff_without_the_superuser_flag_cannot_edit_or_delete_superusers,
    profile_fields_with_control_characters_are_refused,
    the_list_shows_non_staff_only_themselves,
    others_are_invisible_to_non_staff,
    staff_manage_everyone_with_their_own_password,
    read_only_fields_cannot_be_written,
    claims_in_a_token_never_grant_rights,
    required_fields_join_registration_representation_and_updates,
    extra_claims_are_copied_into_tokens,
    check_revoke_token_refuses_access_tokens_after_a_password_change,
    update_last_login_writes_it_on_login_only,
    registration_can_log_the_user_in,
);
