//! The URL layouts of `examples/`: every file loads in the real binary, and each serves the sequence its
//! kind of client runs (log in, read the profile, refresh, log out) at its own paths. Also the
//! environment form of `routes.aliases` (`IMHOTEP_ROUTES__ALIASES`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Toml};
use imhotep::config::Settings;
use reqwest::Method;
use serde_json::{Value, json};

use crate::binary;
use crate::helpers::{Answer, Backend, PASSWORD, SECRET_KEY, TestApp, spawn_app_with};
use crate::on_both_databases;
use crate::tokens::{payload, sign};

/// Every file in `examples/`, each served by a test below.
const EXAMPLES: [&str; 5] = [
    "auth-register-login.toml",
    "djoser.toml",
    "simplejwt.toml",
    "token-profile.toml",
    "versioned-v1.toml",
];

/// The sections the tests take from an example; the harness keeps its own database, port, e-mail and secret.
const LAYOUT_SECTIONS: [&str; 3] = ["djoser", "simple_jwt", "routes"];

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name)
}

/// Starts the test server with the layout sections of `examples/<name>`, read as `serve` reads them.
async fn spawn_example(db: Backend, name: &str) -> Option<TestApp> {
    spawn_example_with(db, name, |_| {}).await
}

/// [`spawn_example`], then `configure` on the settings.
async fn spawn_example_with(db: Backend, name: &str, configure: impl FnOnce(&mut Settings)) -> Option<TestApp> {
    let file = Settings::load(Some(&example(name))).unwrap_or_else(|e| panic!("{name}: {e}"));
    spawn_app_with(db, |settings| {
        settings.djoser = file.djoser;
        settings.simple_jwt = file.simple_jwt;
        settings.routes = file.routes;
        configure(settings);
    })
    .await
}

/// Sends `method path` (a full path, not under `/api/auth/`) with an optional JSON body and bearer token.
async fn call(app: &TestApp, method: Method, path: &str, body: Option<Value>, bearer: Option<&str>) -> Answer {
    app.send(|client| {
        let mut request = client.request(method, format!("{}{path}", app.address));
        if let Some(body) = &body {
            request = request.json(body);
        }
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request
    })
    .await
}

async fn post(app: &TestApp, path: &str, body: Value, bearer: Option<&str>) -> Answer {
    call(app, Method::POST, path, Some(body), bearer).await
}

async fn get(app: &TestApp, path: &str, bearer: &str) -> Answer {
    call(app, Method::GET, path, None, Some(bearer)).await
}

/// The `(access, refresh)` of a 200 answer.
#[track_caller]
fn pair(answer: &Answer) -> (String, String) {
    assert_eq!(answer.status, 200, "{}", answer.text);
    let token = |name: &str| {
        answer.body[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name}: {}", answer.text))
    };
    (token("access").to_owned(), token("refresh").to_owned())
}

/// `{"email", "password"}` for the test password.
fn credentials(email: &str) -> Value {
    json!({ "email": email, "password": PASSWORD })
}

/// Registers `body` (plus the test password, twice) at Djoser's path and activates it through the
/// e-mailed link; returns the user's id.
async fn register_active(app: &TestApp, mut body: Value) -> i64 {
    body["password"] = json!(PASSWORD);
    body["re_password"] = json!(PASSWORD);
    let created = app.post("users/", &body, None).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let (uid, token) = app.mail.next().await.link("activate");
    app.activate(&uid, &token).await.assert(204, "");
    app.mail.next().await;
    created.body["id"].as_i64().expect("id")
}

/// A wrong method on `alias` answers exactly as on the endpoint's Djoser `path`.
async fn answers_methods_like(app: &TestApp, method: Method, alias: &str, path: &str, bearer: Option<&str>) {
    let on_alias = call(app, method.clone(), alias, None, bearer).await;
    let on_path = call(app, method.clone(), path, None, bearer).await;
    assert_eq!(on_alias.status, 405, "{method} {alias}: {}", on_alias.text);
    assert_eq!(
        (on_alias.status, &on_alias.text, on_alias.header("allow")),
        (on_path.status, &on_path.text, on_path.header("allow")),
        "{method} {alias} vs {path}"
    );
    assert_eq!(on_alias.header("content-type"), Some("application/json"));
}

async fn djoser_layout(db: Backend) {
    let Some(app) = spawn_example(db, "djoser.toml").await else {
        return;
    };
    let (access, refresh) = app.tokens_for("ada@example.com").await;
    let me = app.me(&access).await;
    assert_eq!(
        (me.status.as_u16(), &me.body["email"]),
        (200, &json!("ada@example.com"))
    );
    let (access, refresh) = pair(&app.refresh(&refresh).await);
    app.verify(&access).await.assert(200, "{}");
    post(
        &app,
        "/api/auth/jwt/logout/",
        json!({ "refresh": refresh }),
        Some(&access),
    )
    .await
    .assert(205, "");
    assert_eq!(app.refresh(&refresh).await.status, 401);
    let preset = post(&app, "/api/token/", credentials("ada@example.com"), None).await;
    assert_eq!(preset.status, 404, "no SimpleJWT paths without the preset");
}

async fn simplejwt_layout(db: Backend) {
    let Some(app) = spawn_example(db, "simplejwt.toml").await else {
        return;
    };
    app.active_user("ada@example.com").await;
    let (access, refresh) = pair(&post(&app, "/api/token/", credentials("ada@example.com"), None).await);
    pair(&post(&app, "/api/token", credentials("ada@example.com"), None).await);
    let me = get(&app, "/api/auth/users/me/", &access).await;
    assert_eq!(
        (me.status.as_u16(), &me.body["email"]),
        (200, &json!("ada@example.com"))
    );
    let (access, refresh) = pair(&post(&app, "/api/token/refresh/", json!({ "refresh": refresh }), None).await);
    post(&app, "/api/token/verify", json!({ "token": access }), None)
        .await
        .assert(200, "{}");
    post(&app, "/api/token/blacklist/", json!({ "refresh": refresh }), None)
        .await
        .assert(200, "{}");
    let dead = post(&app, "/api/token/refresh/", json!({ "refresh": refresh }), None).await;
    assert_eq!(
        (dead.status.as_u16(), &dead.body["code"]),
        (401, &json!("token_not_valid"))
    );
    answers_methods_like(&app, Method::GET, "/api/token/", "/api/auth/jwt/create/", None).await;
}

async fn register_login_layout(db: Backend) {
    let Some(app) = spawn_example(db, "auth-register-login.toml").await else {
        return;
    };
    let body = json!({ "email": "ada@example.com", "password": PASSWORD, "re_password": PASSWORD });
    let registered = post(&app, "/api/auth/register/", body, None).await;
    assert_eq!(registered.status, 201, "{}", registered.text);
    let keys: Vec<&String> = registered.body.as_object().expect("an object").keys().collect();
    assert_eq!(keys, ["user", "refresh", "access"], "{}", registered.text);
    let id = registered.body["user"]["id"].as_i64().expect("user.id");
    assert_eq!(registered.body["user"], json!({ "email": "ada@example.com", "id": id }));
    let access = registered.body["access"].as_str().expect("access");
    get(&app, "/api/auth/users/me/", access)
        .await
        .assert(200, &format!(r#"{{"id":{id},"email":"ada@example.com"}}"#));

    pair(&post(&app, "/api/auth/login", credentials("ada@example.com"), None).await);
    let (_, refresh) = pair(&post(&app, "/api/auth/login/", credentials("ada@example.com"), None).await);
    let (access, refresh) = pair(&post(&app, "/api/auth/token/refresh/", json!({ "refresh": refresh }), None).await);
    let anonymous = post(&app, "/api/auth/logout/", json!({ "refresh": refresh }), None).await;
    assert_eq!(
        anonymous.status, 401,
        "jwt_logout needs the access token: {}",
        anonymous.text
    );
    post(&app, "/api/auth/logout", json!({ "refresh": refresh }), Some(&access))
        .await
        .assert(205, "");
    let dead = post(&app, "/api/auth/token/refresh", json!({ "refresh": refresh }), None).await;
    assert_eq!(dead.status, 401, "{}", dead.text);
    // The logged-out session's access token is refused now (COMPATIBILITY.md, Sessions): a new login's.
    let (access, _) = pair(&post(&app, "/api/auth/login/", credentials("ada@example.com"), None).await);
    answers_methods_like(&app, Method::GET, "/api/auth/login/", "/api/auth/jwt/create/", None).await;
    answers_methods_like(
        &app,
        Method::GET,
        "/api/auth/logout/",
        "/api/auth/jwt/logout/",
        Some(&access),
    )
    .await;
    // `users/` also lists users; its `register` alias only creates them.
    let put = call(&app, Method::PUT, "/api/auth/register", None, Some(&access)).await;
    put.assert(405, r#"{"detail":"Method \"PUT\" not allowed."}"#);
    assert_eq!(put.header("allow"), Some("POST"));
    let anonymous = call(&app, Method::GET, "/api/auth/logout/", None, None).await;
    assert_eq!(
        anonymous.status, 401,
        "like jwt/logout/, authentication comes first: {}",
        anonymous.text
    );
}

async fn versioned_v1_layout(db: Backend) {
    let Some(app) = spawn_example(db, "versioned-v1.toml").await else {
        return;
    };
    let id = register_active(&app, json!({ "email": "ada@example.com", "username": "ada" })).await;
    let login = post(&app, "/api/v1/token/", credentials("ada@example.com"), None).await;
    let (access, refresh) = pair(&login);
    for token in [&access, &refresh] {
        let claims = payload(token);
        assert_eq!(
            (&claims["email"], &claims["username"]),
            (&json!("ada@example.com"), &json!("ada"))
        );
    }
    get(&app, "/api/auth/users/me/", &access).await.assert(
        200,
        &format!(r#"{{"username":"ada","id":{id},"email":"ada@example.com"}}"#),
    );
    let renamed = call(
        &app,
        Method::PATCH,
        "/api/auth/users/me/",
        Some(json!({ "username": "countess" })),
        Some(&access),
    )
    .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    let (access, refresh) = pair(&post(&app, "/api/v1/token/refresh", json!({ "refresh": refresh }), None).await);
    assert_eq!(
        payload(&access)["username"],
        "countess",
        "refreshed access tokens carry current values"
    );
    post(&app, "/api/v1/token/verify/", json!({ "token": access }), None)
        .await
        .assert(200, "{}");
    post(&app, "/api/auth/jwt/blacklist/", json!({ "refresh": refresh }), None)
        .await
        .assert(200, "{}");
    let dead = post(&app, "/api/v1/token/refresh/", json!({ "refresh": refresh }), None).await;
    assert_eq!(dead.status, 401, "{}", dead.text);
    answers_methods_like(&app, Method::GET, "/api/v1/token/", "/api/auth/jwt/create/", None).await;
    answers_methods_like(&app, Method::GET, "/api/v1/token", "/api/auth/jwt/create", None).await;
    answers_methods_like(
        &app,
        Method::PUT,
        "/api/v1/token/verify/",
        "/api/auth/jwt/verify/",
        None,
    )
    .await;
}

async fn token_profile_layout(db: Backend) {
    let Some(app) = spawn_example(db, "token-profile.toml").await else {
        return;
    };
    let other = register_active(&app, json!({ "email": "bob@example.com" })).await;
    let body = json!({ "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace" });
    let id = register_active(&app, body).await;
    let (access, refresh) = pair(&post(&app, "/api/token/", credentials("ada@example.com"), None).await);
    for token in [&access, &refresh] {
        let claims = payload(token);
        assert_eq!(
            (&claims["email"], &claims["is_staff"], &claims["full_name"]),
            (&json!("ada@example.com"), &json!(false), &json!("Ada Lovelace"))
        );
    }
    let profile = format!(r#"{{"first_name":"Ada","last_name":"Lovelace","id":{id},"email":"ada@example.com"}}"#);
    get(&app, "/account/profile", &access).await.assert(200, &profile);
    get(&app, "/account/profile/", &access).await.assert(200, &profile);
    let edited = call(
        &app,
        Method::PATCH,
        "/account/profile",
        Some(json!({ "last_name": "King" })),
        Some(&access),
    )
    .await;
    assert_eq!(
        (edited.status.as_u16(), &edited.body["last_name"]),
        (200, &json!("King"))
    );
    let (access, refresh) = pair(&post(&app, "/api/token/refresh/", json!({ "refresh": refresh }), None).await);
    assert_eq!(payload(&access)["full_name"], "Ada King");

    // A validly signed token that claims staff rights grants none: rights come from the database.
    let mut claims = payload(&access);
    claims["is_staff"] = json!(true);
    let boasting = sign(&claims);
    let listed = get(&app, "/api/auth/users/", &boasting).await;
    assert_eq!((listed.status.as_u16(), &listed.body), (200, &json!([edited.body])));
    let hidden = get(&app, &format!("/api/auth/users/{other}/"), &boasting).await;
    assert_eq!(hidden.status, 404, "{}", hidden.text);

    post(&app, "/logout", json!({ "refresh": refresh }), None)
        .await
        .assert(200, "{}");
    let dead = post(&app, "/api/token/refresh/", json!({ "refresh": refresh }), None).await;
    assert_eq!(dead.status, 401, "{}", dead.text);
    // The blacklisted session's access token is refused now (COMPATIBILITY.md, Sessions): a new login's.
    let (access, _) = pair(&post(&app, "/api/token/", credentials("ada@example.com"), None).await);
    answers_methods_like(
        &app,
        Method::POST,
        "/account/profile/",
        "/api/auth/users/me/",
        Some(&access),
    )
    .await;
    answers_methods_like(&app, Method::GET, "/logout/", "/api/auth/jwt/blacklist/", None).await;
}

/// Each example's path for `jwt_create`, the name its kind of client logs in at.
const LOGIN_PATHS: [(&str, &str); EXAMPLES.len()] = [
    ("auth-register-login.toml", "/api/auth/login/"),
    ("djoser.toml", "/api/auth/jwt/create/"),
    ("simplejwt.toml", "/api/token/"),
    ("token-profile.toml", "/api/token/"),
    ("versioned-v1.toml", "/api/v1/token/"),
];

/// Logins are counted where the credentials are checked, so a login at any layout's path counts once
/// (and a registration answering tokens is no login).
async fn one_login_on_each_layout_counts_one_login(db: Backend) {
    for (name, login) in LOGIN_PATHS {
        let Some(app) = spawn_example_with(db, name, |settings| settings.metrics.public = true).await else {
            return;
        };
        if name == "auth-register-login.toml" {
            let body = json!({ "email": "ada@example.com", "password": PASSWORD, "re_password": PASSWORD });
            let registered = post(&app, "/api/auth/register/", body, None).await;
            assert_eq!(registered.status, 201, "{name}: {}", registered.text);
        } else {
            app.active_user("ada@example.com").await;
        }
        pair(&post(&app, login, credentials("ada@example.com"), None).await);
        let metrics = call(&app, Method::GET, "/metrics", None, None).await;
        assert_eq!(metrics.status, 200, "{name}: {}", metrics.text);
        for line in [
            r#"imhotep_logins_total{outcome="succeeded"} 1"#,
            r#"imhotep_logins_total{outcome="failed"} 0"#,
        ] {
            assert!(
                metrics.text.lines().any(|l| l == line),
                "{name}: missing {line:?} in\n{}",
                metrics.text
            );
        }
    }
}

on_both_databases!(
    one_login_on_each_layout_counts_one_login,
    djoser_layout,
    simplejwt_layout,
    register_login_layout,
    versioned_v1_layout,
    token_profile_layout,
);

/// The environment of a `check` or `serve` run against a fresh SQLite file in `dir`.
fn environment(dir: &tempfile::TempDir) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", crate::binary::sqlite_url(dir, "layouts.db")),
        ("SECRET_KEY", SECRET_KEY.to_owned()),
        ("PORT", "0".to_owned()),
    ]
}

fn borrowed<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(name, value)| (*name, value.as_str())).collect()
}

#[test]
fn every_example_passes_check() {
    let mut names: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"))
        .expect("examples/")
        .map(|entry| entry.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, EXAMPLES, "every example has a layout test above");
    let dir = tempfile::tempdir().expect("temp dir");
    let env = environment(&dir);
    for name in EXAMPLES {
        let path = example(name);
        let (ok, output) = binary::run(&["check", "--config", &path.to_string_lossy()], &borrowed(&env));
        assert!(ok && output.contains("configuration OK"), "{name}:\n{output}");
        let sections: BTreeMap<String, figment::value::Value> =
            Figment::from(Toml::file(&path)).extract().expect("a TOML table");
        let others: Vec<&String> = sections
            .keys()
            .filter(|section| !LAYOUT_SECTIONS.contains(&section.as_str()))
            .collect();
        assert!(
            others.is_empty(),
            "{name} sets {others:?}, which the layout tests would ignore"
        );
    }
    let (_, output) = binary::run(&["check", "--config", "examples/token-profile.toml"], &borrowed(&env));
    for line in [
        "alias /api/token/blacklist/ -> jwt_blacklist",
        "alias /account/profile/ -> users_me",
    ] {
        assert!(output.contains(line), "{line}:\n{output}");
    }
}

#[test]
fn aliases_can_come_from_the_environment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut env = environment(&dir);
    env.push((
        "IMHOTEP_ROUTES__ALIASES",
        r#"{"/api/v1/token/" = "jwt_create", "/api/v1/token/refresh" = jwt_refresh}"#.to_owned(),
    ));
    let (ok, output) = binary::run(&["check"], &borrowed(&env));
    assert!(ok, "{output}");
    for line in [
        "alias /api/v1/token/ -> jwt_create",
        "alias /api/v1/token/refresh/ -> jwt_refresh",
    ] {
        assert!(output.contains(line), "{line}:\n{output}");
    }
    // The environment adds to a file's aliases.
    let (ok, output) = binary::run(&["check", "--config", "examples/token-profile.toml"], &borrowed(&env));
    assert!(ok, "{output}");
    for line in ["alias /logout/ -> jwt_blacklist", "alias /api/v1/token/ -> jwt_create"] {
        assert!(output.contains(line), "{line}:\n{output}");
    }
}

#[test]
fn a_bad_alias_in_the_environment_stops_check_and_serve() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut env = environment(&dir);
    env.push((
        "IMHOTEP_ROUTES__ALIASES",
        r#"{"/api/v1/token/" = "jwt_creat"}"#.to_owned(),
    ));
    let line = r#"routes.aliases "/api/v1/token/" = "jwt_creat": unknown endpoint "jwt_creat""#;
    let (ok, output) = binary::run(&["check"], &borrowed(&env));
    assert!(!ok && output.contains(line), "check:\n{output}");
    let (ok, output) = binary::serve_to_exit(&borrowed(&env));
    assert!(!ok && output.contains(line), "serve:\n{output}");

    // JSON's `:` is not the accepted form: refused, never silently ignored.
    env.pop();
    env.push((
        "IMHOTEP_ROUTES__ALIASES",
        r#"{"/api/v1/token/": "jwt_create"}"#.to_owned(),
    ));
    let (ok, output) = binary::run(&["check"], &borrowed(&env));
    assert!(!ok && output.contains("ROUTES.ALIASES"), "check:\n{output}");
}
