//! `POST jwt/create/`: credentials, equal failures, SimpleJWT's token format.

use serde_json::json;

use crate::helpers::{Backend, PASSWORD, spawn_app};
use crate::tokens::{header_text, payload};

const NO_ACCOUNT: &str = r#"{"detail":"No active account found with the given credentials"}"#;

async fn login_returns_simplejwt_tokens_and_records_the_refresh(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.active_user("alice@example.com").await;
    let answer = app.login("alice@example.com", PASSWORD).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let keys: Vec<&String> = answer.body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["refresh", "access"]);
    let (refresh, access) = (
        answer.body["refresh"].as_str().unwrap(),
        answer.body["access"].as_str().unwrap(),
    );
    for token in [refresh, access] {
        assert_eq!(header_text(token), r#"{"alg":"HS256","typ":"JWT"}"#);
    }
    let (r, a) = (payload(refresh), payload(access));
    let claim_order: Vec<&String> = a.as_object().unwrap().keys().collect();
    // SimpleJWT's claims, then imhotep's session claim (COMPATIBILITY.md, Sessions).
    assert_eq!(claim_order, ["token_type", "exp", "iat", "jti", "user_id", "sid"]);
    assert_eq!(
        (r["token_type"].as_str(), a["token_type"].as_str()),
        (Some("refresh"), Some("access"))
    );
    assert_eq!((r["user_id"].as_str(), a["user_id"].as_str()), (Some("1"), Some("1")));
    assert_eq!(r["iat"], a["iat"]);
    let iat = a["iat"].as_i64().unwrap();
    assert_eq!(a["exp"].as_i64().unwrap() - iat, 3600);
    assert_eq!(r["exp"].as_i64().unwrap() - iat, 7 * 86_400);
    let jti = r["jti"].as_str().unwrap();
    assert!(jti.len() == 32 && jti.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    let recorded = format!("SELECT count(*) FROM outstanding_tokens WHERE jti = '{jti}' AND user_id = 1");
    assert_eq!(app.scalar(&recorded).await, 1);
    assert_eq!(
        app.scalar("SELECT count(*) FROM outstanding_tokens").await,
        1,
        "access tokens are never recorded"
    );
}

async fn every_login_failure_looks_the_same(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.active_user("alice@example.com").await;
    app.register("carol@example.com", PASSWORD).await;
    for (email, password) in [
        ("alice@example.com", "wrong-password"),
        ("nobody@example.com", PASSWORD),
        ("carol@example.com", PASSWORD),
        ("not-an-email", PASSWORD),
    ] {
        let answer = app.login(email, password).await;
        answer.assert(401, NO_ACCOUNT);
        assert_eq!(answer.header("www-authenticate"), Some(r#"Bearer realm="api""#));
    }
}

async fn login_trims_and_matches_the_email_in_any_case(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.active_user("alice@example.com").await;
    for (email, password) in [
        ("  alice@example.com  ".to_owned(), PASSWORD.to_owned()),
        ("alice@example.com".to_owned(), format!("  {PASSWORD} ")),
        ("ALICE@Example.COM".to_owned(), PASSWORD.to_owned()),
    ] {
        assert_eq!(app.login(&email, &password).await.status, 200, "{email:?} {password:?}");
    }
    app.login("alice@example.com", &PASSWORD.to_lowercase())
        .await
        .assert(401, NO_ACCOUNT);
}

async fn login_field_errors_are_drf_shaped(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    for (body, expected) in [
        (
            json!({}),
            r#"{"email":["This field is required."],"password":["This field is required."]}"#,
        ),
        (
            json!({"email": "alice@example.com"}),
            r#"{"password":["This field is required."]}"#,
        ),
        (
            json!({"email": true, "password": PASSWORD}),
            r#"{"email":["Not a valid string."]}"#,
        ),
        (
            json!({"email": "alice@example.com", "password": null}),
            r#"{"password":["This field may not be null."]}"#,
        ),
        (
            json!({"email": "", "password": ""}),
            r#"{"email":["This field may not be blank."],"password":["This field may not be blank."]}"#,
        ),
        (
            json!({"email": "a@example.com", "password": "p".repeat(5000)}),
            r#"{"password":["Ensure this field has no more than 4096 characters."]}"#,
        ),
    ] {
        let answer = app.post("jwt/create/", &body, None).await;
        assert_eq!(
            (answer.status.as_u16(), answer.text.as_str()),
            (400, expected),
            "body {body}"
        );
    }
    app.post("jwt/create/", &json!({"email": 123, "password": PASSWORD}), None)
        .await
        .assert(401, NO_ACCOUNT);
}

async fn a_django_pbkdf2_hash_logs_in_and_is_upgraded(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.active_user("legacy@example.com").await;
    // Django 5.2's make_password("Tr1cky-Horse-Battery-9") with 1000 iterations and salt "abcdefghijklmnopqrstuv".
    app.execute(&format!("UPDATE users SET password = '{DJANGO_HASH}'"))
        .await;
    assert_eq!(app.login("legacy@example.com", PASSWORD).await.status, 200);
    assert_eq!(
        app.scalar("SELECT count(*) FROM users WHERE password LIKE '$argon2id$%'")
            .await,
        1
    );
    assert_eq!(app.login("legacy@example.com", PASSWORD).await.status, 200);
}

const DJANGO_HASH: &str = "pbkdf2_sha256$1000$abcdefghijklmnopqrstuv$xuvRg010B5h+dtqVH629m7zLmbTPkrqxkl+EVfoMeUA=";

crate::on_both_databases!(
    login_returns_simplejwt_tokens_and_records_the_refresh,
    every_login_failure_looks_the_same,
    login_trims_and_matches_the_email_in_any_case,
    login_field_errors_are_drf_shaped,
    a_django_pbkdf2_hash_logs_in_and_is_upgraded,
);
