//! `jwt/verify/` (§3.3), `jwt/blacklist/` (§3.4) and the `jwt/logout/` recipe.

use serde_json::json;

use crate::helpers::{Answer, Backend, TestApp, spawn_app};
use crate::tokens::{access_claims, refresh_claims, sign};

async fn verify_checks_signature_expiry_and_jti_only(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (access, refresh) = app.tokens_for("alice@example.com").await;
    app.verify(&access).await.assert(200, "{}");
    app.verify(&refresh).await.assert(200, "{}");
    let mut untyped = access_claims(1);
    untyped.as_object_mut().unwrap().remove("token_type");
    app.verify(&sign(&untyped)).await.assert(200, "{}");
    app.verify(&sign(&access_claims(999))).await.assert(200, "{}");
    let mut no_jti = access_claims(1);
    no_jti.as_object_mut().unwrap().remove("jti");
    let mut expired = access_claims(1);
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 5);
    for (body, status, expected) in [
        (json!({}), 400, r#"{"token":["This field is required."]}"#),
        (
            json!({"token": ""}),
            400,
            r#"{"token":["This field may not be blank."]}"#,
        ),
        (
            json!({"token": "garbage"}),
            401,
            r#"{"detail":"Token is invalid","code":"token_not_valid"}"#,
        ),
        (
            json!({"token": sign(&expired)}),
            401,
            r#"{"detail":"Token is expired","code":"token_not_valid"}"#,
        ),
        (
            json!({"token": sign(&no_jti)}),
            401,
            r#"{"detail":"Token has no id","code":"token_not_valid"}"#,
        ),
    ] {
        let answer = app.post("jwt/verify/", &body, None).await;
        assert_eq!(
            (answer.status.as_u16(), answer.text.as_str()),
            (status, expected),
            "body {body}"
        );
    }
    app.refresh(&refresh).await;
    app.verify(&refresh)
        .await
        .assert(400, r#"{"non_field_errors":["Token is blacklisted"]}"#);
}

async fn blacklist_needs_only_the_refresh_token(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (access, refresh) = app.tokens_for("alice@example.com").await;
    blacklist(&app, &refresh).await.assert(200, "{}");
    blacklist(&app, &refresh)
        .await
        .assert(401, r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#);
    blacklist(&app, &access)
        .await
        .assert(401, r#"{"detail":"Token has wrong type","code":"token_not_valid"}"#);
    blacklist(&app, "garbage")
        .await
        .assert(401, r#"{"detail":"Token is invalid","code":"token_not_valid"}"#);
    app.post("jwt/blacklist/", &json!({}), None)
        .await
        .assert(400, r#"{"refresh":["This field is required."]}"#);
    // A refresh token that was never recorded (minted elsewhere with the same key) is recorded, then blacklisted.
    blacklist(&app, &sign(&refresh_claims(1))).await.assert(200, "{}");
    assert_eq!(app.scalar("SELECT count(*) FROM blacklisted_tokens").await, 2);
    app.refresh(&refresh)
        .await
        .assert(401, r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#);
    // Deliberate difference (COMPATIBILITY.md, Sessions): blacklisting ended the session, so its access
    // token is refused at once; SimpleJWT accepts it until it expires.
    app.me(&access)
        .await
        .assert(401, r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#);
}

async fn logout_blacklists_the_refresh_token(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (access, refresh) = app.tokens_for("alice@example.com").await;
    let logout = |body, bearer| logout(&app, body, bearer);
    let bearer = Some(access.as_str());
    logout(json!({"refresh": refresh}), None)
        .await
        .assert(401, r#"{"detail":"Authentication credentials were not provided."}"#);
    logout(json!({}), bearer)
        .await
        .assert(400, r#"{"detail":"Refresh token required."}"#);
    logout(json!({"refresh": ""}), bearer)
        .await
        .assert(400, r#"{"detail":"Refresh token required."}"#);
    logout(json!({"refresh": "garbage"}), bearer)
        .await
        .assert(400, r#"{"detail":"Invalid token."}"#);
    logout(json!({"refresh": 123}), bearer)
        .await
        .assert(400, r#"{"detail":"Invalid token."}"#);
    logout(json!({"refresh": access}), bearer)
        .await
        .assert(400, r#"{"detail":"Invalid token."}"#);
    let done = logout(json!({"refresh": refresh}), bearer).await;
    done.assert(205, "");
    assert_eq!(done.header("content-type"), None);
    // Deliberate difference (COMPATIBILITY.md, Sessions): the logged-out session's access token is
    // refused at once; the logout recipe would answer 400 "Invalid token." for the blacklisted refresh.
    logout(json!({"refresh": refresh}), bearer)
        .await
        .assert(401, r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#);
    app.refresh(&refresh)
        .await
        .assert(401, r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#);
}

async fn blacklist(app: &TestApp, token: &str) -> Answer {
    app.post("jwt/blacklist/", &json!({ "refresh": token }), None).await
}

async fn logout(app: &TestApp, body: serde_json::Value, bearer: Option<&str>) -> Answer {
    app.post("jwt/logout/", &body, bearer).await
}

/// The recipe's `if not refresh`: every value Python finds false is "required", as the reference
/// server answers (checked against it); every other non-token is invalid.
async fn logout_treats_every_falsy_refresh_as_missing(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (access, refresh) = app.tokens_for("alice@example.com").await;
    let bearer = Some(access.as_str());
    for falsy in [
        json!([]),
        json!({}),
        json!(0),
        json!(0.0),
        json!(-0.0),
        json!(false),
        json!(null),
    ] {
        logout(&app, json!({ "refresh": falsy }), bearer)
            .await
            .assert(400, r#"{"detail":"Refresh token required."}"#);
    }
    for truthy in [json!([1]), json!({"a": 1}), json!(1), json!(true), json!("x")] {
        logout(&app, json!({ "refresh": truthy }), bearer)
            .await
            .assert(400, r#"{"detail":"Invalid token."}"#);
    }
    logout(&app, json!({ "refresh": refresh }), bearer)
        .await
        .assert(205, "");
}

/// Only refresh tokens are ever recorded, so only they can be blacklisted: an access token is
/// verified without a lookup (with the blacklist table gone it still verifies, while a refresh
/// token's lookup fails), even one forged with a blacklisted refresh token's `jti`.
async fn verify_of_an_access_token_needs_no_database(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (access, refresh) = app.tokens_for("alice@example.com").await;
    blacklist(&app, &refresh).await.assert(200, "{}");
    let mut forged = access_claims(1);
    forged["jti"] = crate::tokens::payload(&refresh)["jti"].clone();
    app.verify(&sign(&forged)).await.assert(200, "{}");
    app.execute("DROP TABLE blacklisted_tokens").await;
    app.verify(&access).await.assert(200, "{}");
    app.verify(&sign(&forged)).await.assert(200, "{}");
    let looked_up = app.verify(&refresh).await;
    assert!(looked_up.status.is_server_error(), "{}", looked_up.text);
}

crate::on_both_databases!(
    verify_of_an_access_token_needs_no_database,
    logout_treats_every_falsy_refresh_as_missing,
    verify_checks_signature_expiry_and_jti_only,
    blacklist_needs_only_the_refresh_token,
    logout_blacklists_the_refresh_token,
);
