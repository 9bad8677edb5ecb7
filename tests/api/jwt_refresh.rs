//! `POST jwt/refresh/`: rotation, blacklist after rotation, the race.

use serde_json::json;

use crate::helpers::{Backend, spawn_app};
use crate::tokens::{payload, refresh_claims, sign};

async fn refresh_rotates_and_blacklists_the_old_token(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (_, refresh) = app.tokens_for("alice@example.com").await;
    let answer = app.refresh(&refresh).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let keys: Vec<&String> = answer.body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["access", "refresh"]);
    let (access, rotated) = (
        answer.body["access"].as_str().unwrap(),
        answer.body["refresh"].as_str().unwrap(),
    );
    assert_eq!(payload(access)["token_type"], "access");
    let (old, new) = (payload(&refresh), payload(rotated));
    assert_ne!(old["jti"], new["jti"]);
    assert_eq!(new["exp"].as_i64().unwrap() - new["iat"].as_i64().unwrap(), 7 * 86_400);
    app.me(access)
        .await
        .assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
    // Deliberate difference (COMPATIBILITY.md, Sessions): replaying the parent of a never-used child
    // gets that child again; SimpleJWT answers 401 "Token is blacklisted".
    let replay = app.refresh(&refresh).await;
    assert_eq!(
        (replay.status.as_u16(), replay.body["refresh"].as_str()),
        (200, Some(rotated))
    );
    assert_eq!(app.scalar("SELECT count(*) FROM blacklisted_tokens").await, 1);
    assert_eq!(app.scalar("SELECT count(*) FROM outstanding_tokens").await, 2);
    assert_eq!(app.refresh(rotated).await.status, 200);
}

async fn concurrent_refreshes_of_one_token_rotate_once(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (_, refresh) = app.tokens_for("alice@example.com").await;
    let answers = futures::future::join_all((0..12).map(|_| app.refresh(&refresh))).await;
    // Deliberate difference (COMPATIBILITY.md, Sessions): every caller gets the one rotated token;
    // SimpleJWT answers one 200 and 401 "Token is blacklisted" to the rest.
    let first = &answers[0].body["refresh"];
    for answer in &answers {
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(&answer.body["refresh"], first);
    }
    assert_eq!(
        app.scalar("SELECT count(*) FROM outstanding_tokens").await,
        2,
        "one child recorded"
    );
    assert_eq!(app.scalar("SELECT count(*) FROM blacklisted_tokens").await, 1);
}

async fn refresh_errors_match_simplejwt(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (access, _) = app.tokens_for("alice@example.com").await;
    let mut expired = refresh_claims(1);
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 5);
    let cases = [
        (json!({}), 400, r#"{"refresh":["This field is required."]}"#),
        (
            json!({"refresh": ""}),
            400,
            r#"{"refresh":["This field may not be blank."]}"#,
        ),
        (
            json!({"refresh": null}),
            400,
            r#"{"refresh":["This field may not be null."]}"#,
        ),
        (
            json!({"refresh": 123}),
            401,
            r#"{"detail":"Token is invalid","code":"token_not_valid"}"#,
        ),
        (
            json!({"refresh": "garbage"}),
            401,
            r#"{"detail":"Token is invalid","code":"token_not_valid"}"#,
        ),
        (
            json!({"refresh": access}),
            401,
            r#"{"detail":"Token has wrong type","code":"token_not_valid"}"#,
        ),
        (
            json!({"refresh": sign(&expired)}),
            401,
            r#"{"detail":"Token is expired","code":"token_not_valid"}"#,
        ),
        (
            json!({"refresh": sign(&refresh_claims(999_999))}),
            401,
            r#"{"detail":"No active account found for the given token."}"#,
        ),
    ];
    for (body, status, expected) in cases {
        let answer = app.post("jwt/refresh/", &body, None).await;
        assert_eq!(
            (answer.status.as_u16(), answer.text.as_str()),
            (status, expected),
            "body {body}"
        );
    }
}

async fn refresh_is_refused_for_inactive_or_deleted_users(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (_, refresh) = app.tokens_for("alice@example.com").await;
    app.execute("UPDATE users SET is_active = false").await;
    app.refresh(&refresh)
        .await
        .assert(401, r#"{"detail":"No active account found for the given token."}"#);
    app.execute("DELETE FROM users").await;
    app.refresh(&refresh)
        .await
        .assert(401, r#"{"detail":"No active account found for the given token."}"#);
    assert_eq!(
        app.scalar("SELECT count(*) FROM outstanding_tokens WHERE user_id IS NULL")
            .await,
        1,
        "rows survive with a NULL user"
    );
}

async fn rotation_settings_are_honoured(db: Backend) {
    let Some(app) = crate::helpers::spawn_app_with(db, |s| s.simple_jwt.rotate_refresh_tokens = false).await else {
        return;
    };
    let (_, refresh) = app.tokens_for("alice@example.com").await;
    let answer = app.refresh(&refresh).await;
    assert_eq!(answer.body.as_object().unwrap().keys().collect::<Vec<_>>(), ["access"]);
    assert_eq!(
        app.refresh(&refresh).await.status,
        200,
        "without rotation the token stays valid"
    );

    let Some(app) = crate::helpers::spawn_app_with(db, |s| s.simple_jwt.blacklist_after_rotation = false).await else {
        return;
    };
    let (_, refresh) = app.tokens_for("bob@example.com").await;
    assert_eq!(app.refresh(&refresh).await.status, 200);
    assert_eq!(
        app.refresh(&refresh).await.status,
        200,
        "rotation alone keeps old tokens valid"
    );
    assert_eq!(app.scalar("SELECT count(*) FROM outstanding_tokens").await, 3);
}

/// A refresh token signed with the same key elsewhere (Django after the import) whose jti imhotep has
/// never seen: accepted whatever the rotation settings; with rotation and blacklisting (the default)
/// recorded, with its user, by its first refresh; and once blacklisted, refused.
async fn a_refresh_token_minted_elsewhere_is_accepted_and_recorded(db: Backend) {
    type Configure = fn(&mut imhotep::config::Settings);
    let modes: [(&str, Configure); 3] = [
        ("rotation with blacklist", |_| {}),
        ("no rotation", |s| s.simple_jwt.rotate_refresh_tokens = false),
        ("rotation without blacklist", |s| {
            s.simple_jwt.blacklist_after_rotation = false
        }),
    ];
    for (mode, configure) in modes {
        let Some(app) = crate::helpers::spawn_app_with(db, configure).await else {
            return;
        };
        let user = app.active_user("alice@example.com").await;
        let claims = refresh_claims(user);
        let jti = claims["jti"].as_str().unwrap().to_owned();
        let foreign = sign(&claims);
        assert_eq!(app.refresh(&foreign).await.status, 200, "{mode}");
        let recorded = format!("SELECT count(*) FROM outstanding_tokens WHERE jti = '{jti}' AND user_id = {user}");
        if mode == "rotation with blacklist" {
            assert_eq!(app.scalar(&recorded).await, 1, "{mode}: recorded with its user");
            continue;
        }
        let logout = app.post("jwt/blacklist/", &json!({"refresh": foreign}), None).await;
        assert_eq!(logout.status, 200, "{mode}: {}", logout.text);
        assert_eq!(app.scalar(&recorded).await, 1, "{mode}: recorded with its user");
        app.refresh(&foreign)
            .await
            .assert(401, r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#);
    }
}

crate::on_both_databases!(
    a_refresh_token_minted_elsewhere_is_accepted_and_recorded,
    refresh_rotates_and_blacklists_the_old_token,
    concurrent_refreshes_of_one_token_rotate_once,
    refresh_errors_match_simplejwt,
    refresh_is_refused_for_inactive_or_deleted_users,
    rotation_settings_are_honoured,
);
