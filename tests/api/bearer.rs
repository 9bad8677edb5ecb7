//! Bearer authentication: every bad token (forged, expired, wrong type, wrong key, malformed) is a 401
//! with SimpleJWT's body, never a 500, on protected and anonymous routes alike.

use serde_json::json;

use crate::helpers::{Backend, PASSWORD, spawn_app};
use crate::tokens::{access_claims, sign, sign_with};

fn rejected(reason: &str) -> String {
    format!(
        r#"{{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{{"token_class":"AccessToken","token_type":"access","message":"{reason}"}}]}}"#
    )
}

async fn bad_access_tokens_get_simplejwts_401s(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (access, refresh) = app.tokens_for("alice@example.com").await;
    let now = chrono::Utc::now().timestamp();
    let with = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut claims = access_claims(1);
        change(&mut claims);
        sign(&claims)
    };
    let segments: Vec<&str> = access.split('.').collect();
    let alg_none = format!("{}.{}.", base64_url(r#"{"alg":"none","typ":"JWT"}"#), segments[1]);
    let mut flipped = access.clone();
    let last = flipped.pop().unwrap();
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    let cases: Vec<(String, String)> = vec![
        (refresh.clone(), rejected("Token has wrong type")),
        ("garbage".into(), rejected("Token is invalid")),
        (alg_none, rejected("Token is invalid")),
        (flipped, rejected("Token is invalid")),
        (format!("{}.{}", segments[0], segments[1]), rejected("Token is invalid")),
        (
            sign_with(&access_claims(1), "another-key-0123456789abcdef0123456789"),
            rejected("Token is invalid"),
        ),
        (with(&|c| c["exp"] = json!(now - 10)), rejected("Token is expired")),
        (with(&|c| c["exp"] = json!("9999999999")), rejected("Token is invalid")),
        (with(&|c| c["exp"] = json!("abc")), rejected("Token is invalid")),
        (with(&|c| c["exp"] = json!(null)), rejected("Token is invalid")),
        (with(&|c| c["iat"] = json!(now + 3600)), rejected("Token is invalid")),
        (with(&|c| c["nbf"] = json!(now + 3600)), rejected("Token is invalid")),
        (
            with(&|c| drop(c.as_object_mut().unwrap().remove("exp"))),
            rejected("Token has no 'exp' claim"),
        ),
        (
            with(&|c| drop(c.as_object_mut().unwrap().remove("jti"))),
            rejected("Token has no id"),
        ),
        (
            with(&|c| drop(c.as_object_mut().unwrap().remove("token_type"))),
            rejected("Token has no type"),
        ),
        (
            with(&|c| c["token_type"] = json!("activation")),
            rejected("Token has wrong type"),
        ),
        (
            with(&|c| drop(c.as_object_mut().unwrap().remove("user_id"))),
            r#"{"detail":"Token contained no recognizable user identification","code":"token_not_valid"}"#.into(),
        ),
        (
            with(&|c| c["user_id"] = json!("999999")),
            r#"{"detail":"User not found","code":"user_not_found"}"#.into(),
        ),
        (
            with(&|c| c["user_id"] = json!("abc")),
            r#"{"detail":"User not found","code":"user_not_found"}"#.into(),
        ),
        (
            with(&|c| c["user_id"] = json!(null)),
            r#"{"detail":"User not found","code":"user_not_found"}"#.into(),
        ),
        ("x".repeat(60_000), rejected("Token is invalid")),
    ];
    for (token, expected) in cases {
        let answer = app.me(&token).await;
        assert_eq!(
            (answer.status.as_u16(), answer.text.as_str()),
            (401, expected.as_str()),
            "token {token:.80}"
        );
        assert_eq!(answer.header("www-authenticate"), Some(r#"Bearer realm="api""#));
    }
}

async fn tokens_simplejwt_accepts_are_accepted(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.tokens_for("alice@example.com").await;
    let now = chrono::Utc::now().timestamp();
    let mut integer_id = access_claims(1);
    integer_id["user_id"] = json!(1);
    let mut no_iat = access_claims(1);
    no_iat.as_object_mut().unwrap().remove("iat");
    let mut float_exp = access_claims(1);
    float_exp["exp"] = json!(now as f64 + 300.5);
    let mut string_iat = access_claims(1);
    string_iat["iat"] = json!(now.to_string());
    let mut custom = access_claims(1);
    custom["is_staff"] = json!(true);
    for claims in [integer_id, no_iat, float_exp, string_iat, custom] {
        app.me(&sign(&claims))
            .await
            .assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
    }
    // A token PyJWT made (SimpleJWT 5.5.1, same SECRET_KEY, user 1, exp in 2096): the claims really are SimpleJWT's.
    app.me(PYJWT_TOKEN)
        .await
        .assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
}

/// Minted by `jwt.encode({"token_type": "access", "exp": 4_000_000_000, "iat": 1_795_432_000, "jti": "0123456789abcdef0123456789abcdef", "user_id": "1"}, SECRET_KEY, "HS256")` with PyJWT 2.15.1.
const PYJWT_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjo0MDAwMDAwMDAwLCJpYXQiOjE3OTU0MzIwMDAsImp0aSI6IjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmIiwidXNlcl9pZCI6IjEifQ.FnkeEq84sUsV7sjT73O0QGWZTuj6CZ75oGxrlQCfchM";

async fn inactive_users_tokens_are_refused(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (access, _) = app.tokens_for("alice@example.com").await;
    app.execute("UPDATE users SET is_active = false").await;
    app.me(&access)
        .await
        .assert(401, r#"{"detail":"User is inactive","code":"user_inactive"}"#);
    app.execute("DELETE FROM users").await;
    app.me(&access)
        .await
        .assert(401, r#"{"detail":"User not found","code":"user_not_found"}"#);
}

async fn authorization_headers_are_parsed_like_simplejwt(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (access, _) = app.tokens_for("alice@example.com").await;
    me_with(&app, format!("Bearer  {access} "))
        .await
        .assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
    let bad_header = r#"{"detail":"Authorization header must contain two space-delimited values","code":"bad_authorization_header"}"#;
    me_with(&app, "Bearer".into()).await.assert(401, bad_header);
    me_with(&app, format!("Bearer {access} extra"))
        .await
        .assert(401, bad_header);
    me_with(&app, format!("bearer {access}"))
        .await
        .assert(401, r#"{"detail":"Authentication credentials were not provided."}"#);
    let twice = app
        .send(|c| {
            c.get(app.url("users/me/"))
                .header("Authorization", format!("Bearer {access}"))
                .header("Authorization", "Bearer garbage")
        })
        .await;
    twice.assert(401, bad_header);
    // Anyone-may-call routes still reject a bad token, and ignore other schemes.
    let body = json!({"email": "new@example.com", "password": PASSWORD, "re_password": PASSWORD});
    let garbage = app
        .send(|c| {
            c.post(app.url("users/"))
                .json(&body)
                .header("Authorization", "Bearer garbage")
        })
        .await;
    garbage.assert(401, &rejected("Token is invalid"));
    let basic = app
        .send(|c| {
            c.post(app.url("users/"))
                .json(&body)
                .header("Authorization", "Basic abc")
        })
        .await;
    assert_eq!(basic.status, 201);
}

async fn configured_header_types_are_honoured(db: Backend) {
    let Some(app) = crate::helpers::spawn_app_with(db, |s| {
        s.simple_jwt.auth_header_types = vec!["JWT".into(), "Bearer".into()]
    })
    .await
    else {
        return;
    };
    let (access, _) = app.tokens_for("alice@example.com").await;
    for scheme in ["JWT", "Bearer"] {
        let answer = app
            .send(|c| {
                c.get(app.url("users/me/"))
                    .header("Authorization", format!("{scheme} {access}"))
            })
            .await;
        answer.assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
    }
    let anonymous = app.send(|c| c.get(app.url("users/me/"))).await;
    assert_eq!(anonymous.header("www-authenticate"), Some(r#"JWT realm="api""#));
}

async fn me_with(app: &crate::helpers::TestApp, authorization: String) -> crate::helpers::Answer {
    app.send(|c| c.get(app.url("users/me/")).header("Authorization", authorization))
        .await
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// Bearer checks that arrive together share one database statement (`src/store/sql/lookups.rs`):
/// under concurrency each request still gets its own user's answer, and a logged-out session's
/// token its 401, exactly as when it comes alone.
async fn concurrent_bearer_checks_each_get_their_own_answer(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let mut tokens = Vec::new();
    for email in ["a@example.com", "b@example.com", "c@example.com", "d@example.com"] {
        tokens.push(app.tokens_for(email).await);
    }
    let (ended_access, ended_refresh) = &tokens[3];
    app.post("jwt/logout/", &json!({ "refresh": ended_refresh }), Some(ended_access))
        .await
        .assert(205, "");
    let mut alone = Vec::new();
    for (access, _) in &tokens {
        let answer = app.me(access).await;
        alone.push((answer.status.as_u16(), answer.text));
    }
    assert_eq!(alone[1], (200, r#"{"id":2,"email":"b@example.com"}"#.to_owned()));
    assert_eq!(alone[3].0, 401, "{}", alone[3].1);

    let (app, tokens) = (&app, &tokens);
    let together = futures::future::join_all((0..200).map(|n| async move {
        let which = n % tokens.len();
        (which, app.me(&tokens[which].0).await)
    }))
    .await;
    for (which, answer) in together {
        assert_eq!(
            (answer.status.as_u16(), answer.text),
            alone[which],
            "token of user {which}"
        );
    }
}

crate::on_both_databases!(
    concurrent_bearer_checks_each_get_their_own_answer,
    bad_access_tokens_get_simplejwts_401s,
    tokens_simplejwt_accepts_are_accepted,
    inactive_users_tokens_are_refused,
    authorization_headers_are_parsed_like_simplejwt,
    configured_header_types_are_honoured,
);
