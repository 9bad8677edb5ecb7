//! `GET users/me/` and the answers for other methods on it.

use crate::helpers::{Backend, spawn_app};

async fn me_returns_the_tokens_user(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (access, _) = app.tokens_for("alice@example.com").await;
    let answer = app.me(&access).await;
    answer.assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let head = app.send(|c| c.head(app.url("users/me/")).bearer_auth(&access)).await;
    assert_eq!((head.status.as_u16(), head.text.as_str()), (200, ""));
    let no_slash = app
        .send(|c| c.get(format!("{}/api/auth/users/me", app.address)).bearer_auth(&access))
        .await;
    no_slash.assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
}

async fn me_needs_credentials(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let answer = app.send(|c| c.get(app.url("users/me/"))).await;
    answer.assert(401, r#"{"detail":"Authentication credentials were not provided."}"#);
    assert_eq!(answer.header("www-authenticate"), Some(r#"Bearer realm="api""#));
    let other_scheme = app
        .send(|c| c.get(app.url("users/me/")).header("Authorization", "JWT abc"))
        .await;
    other_scheme.assert(401, r#"{"detail":"Authentication credentials were not provided."}"#);
}

async fn wrong_methods_on_users_routes_authenticate_first(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (access, _) = app.tokens_for("alice@example.com").await;
    for (method, path) in [
        ("POST", "users/me/"),
        ("GET", "users/activation/"),
        ("PUT", "users/activation/"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let anonymous = app.send(|c| c.request(method.clone(), app.url(path))).await;
        anonymous.assert(401, r#"{"detail":"Authentication credentials were not provided."}"#);
        let authenticated = app
            .send(|c| c.request(method.clone(), app.url(path)).bearer_auth(&access))
            .await;
        authenticated.assert(405, &format!(r#"{{"detail":"Method \"{method}\" not allowed."}}"#));
    }
}

crate::on_both_databases!(
    me_returns_the_tokens_user,
    me_needs_credentials,
    wrong_methods_on_users_routes_authenticate_first
);
