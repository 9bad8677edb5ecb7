//! `imhotep import-django` end to end against the real thing: the reference Django + Djoser +
//! SimpleJWT server (`reference.rs`) on its own SQLite file or PostgreSQL database, with users
//! registered, activated, logged in and logged out through its API, a password-reset link it
//! mailed, and one user per Django password hasher made in its shell. The database is imported
//! into both imhotep stores, and then imhotep must honour everything Django handed out.

use std::collections::BTreeMap;
use std::process::Output;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

use crate::helpers::{Backend, PASSWORD, SECRET_KEY, TestApp, drop_postgres_database, spawn_app};
use crate::reference::{ReferenceServer, python};
use crate::smtp::{Received, SmtpSink};

/// One vector of `tests/fixtures/django_hashes.json` (made by Django's own hashers).
#[derive(serde::Deserialize)]
struct Vector {
    hasher: String,
    parameters: String,
    password: String,
    encoded: String,
}

/// What the Django side handed out before the switch.
struct DjangoState {
    /// `(e-mail, password)` of every user who must be able to log in to imhotep.
    logins: Vec<(String, String)>,
    /// Alice's access and refresh tokens, minted by SimpleJWT.
    alice_access: String,
    alice_refresh: String,
    /// Bob's refresh token, blacklisted by logging out in Django.
    bob_logged_out: String,
    /// Alice's password-reset link mailed by Djoser: `(uid, token)`.
    alice_reset: (String, String),
}

/// Where the Django database lives, and the environment `run.sh` needs to use it.
struct DjangoDb {
    import_url: String,
    env: Vec<(String, String)>,
    _dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl DjangoDb {
    async fn create(source: Backend) -> Option<DjangoDb> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut env = vec![("SECRET_KEY".to_owned(), SECRET_KEY.to_owned())];
        match source {
            Backend::Sqlite => {
                let path = dir.path().join("django.sqlite3").display().to_string();
                env.push(("SQLITE_PATH".into(), path.clone()));
                Some(DjangoDb {
                    import_url: format!("sqlite://{path}"),
                    env,
                    _dir: dir,
                    postgres: None,
                })
            }
            Backend::Postgres => {
                let admin_url = crate::helpers::postgres_admin_url();
                let mut admin = match PgConnection::connect(&admin_url).await {
                    Ok(admin) => admin,
                    Err(error) if std::env::var("REQUIRE_POSTGRES").as_deref() != Ok("1") => {
                        crate::helpers::announce_skip(&format!(
                            "PostgreSQL at {admin_url} is unreachable ({error}); set REQUIRE_POSTGRES=1 to fail instead"
                        ));
                        return None;
                    }
                    Err(error) => panic!("REQUIRE_POSTGRES=1 but PostgreSQL is unreachable: {error}"),
                };
                let name = format!("django_source_{}", uuid::Uuid::new_v4().simple());
                admin
                    .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .await
                    .expect("create the Django database");
                let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
                let url = format!("{base}/{name}");
                env.push(("DATABASE_URL".into(), url.clone()));
                env.push(("CONN_MAX_AGE".into(), "0".into()));
                Some(DjangoDb {
                    import_url: url,
                    env,
                    _dir: dir,
                    postgres: Some((admin_url, name)),
                })
            }
        }
    }

    fn env(&self) -> Vec<(&str, &str)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }
}

impl Drop for DjangoDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.postgres.take() {
            drop_postgres_database(&admin_url, &name);
        }
    }
}

/// The next mail holding a `/<prefix>/uid/token` link (Djoser also sends confirmations).
async fn next_link(mail: &SmtpSink, prefix: &str) -> (String, String) {
    loop {
        let message: Received = mail.next().await;
        if message.data.contains(&format!("/{prefix}/")) {
            return message.link(prefix);
        }
    }
}

async fn post(client: &reqwest::Client, url: String, body: Value, bearer: Option<&str>) -> (StatusCode, Value) {
    let mut request = client.post(url).json(&body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Drives the reference server: two users through registration and activation, logins, Bob's
/// logout, Alice's reset request; then one user per Django hasher through Django's shell.
async fn prepare_django(db: &DjangoDb) -> DjangoState {
    let mail = SmtpSink::start().await;
    let port = mail.port.to_string();
    let mut env = db.env();
    env.extend([("EMAIL_HOST", "127.0.0.1"), ("EMAIL_PORT", port.as_str())]);
    let django = ReferenceServer::start(&env).await;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}/api/auth/{path}", django.address);
    let mut tokens = BTreeMap::new();
    for email in ["alice@example.com", "bob@example.com"] {
        let body = json!({"email": email, "password": PASSWORD, "re_password": PASSWORD});
        let (status, answer) = post(&client, url("users/"), body, None).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        let (uid, token) = next_link(&mail, "activate").await;
        let (status, answer) = post(
            &client,
            url("users/activation/"),
            json!({"uid": uid, "token": token}),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
        let (status, answer) = post(
            &client,
            url("jwt/create/"),
            json!({"email": email, "password": PASSWORD}),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        tokens.insert(
            email,
            (
                answer["access"].as_str().unwrap().to_owned(),
                answer["refresh"].as_str().unwrap().to_owned(),
            ),
        );
    }
    let (bob_access, bob_refresh) = tokens["bob@example.com"].clone();
    let (status, answer) = post(
        &client,
        url("jwt/logout/"),
        json!({"refresh": bob_refresh}),
        Some(&bob_access),
    )
    .await;
    assert_eq!(status, StatusCode::RESET_CONTENT, "{answer}");
    let (status, _) = post(
        &client,
        url("users/reset_password/"),
        json!({"email": "alice@example.com"}),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let alice_reset = next_link(&mail, "reset-password").await;
    drop(django);

    let vectors: Vec<Vector> =
        serde_json::from_str(include_str!("../fixtures/django_hashes.json")).expect("fixture parses");
    let mut logins = vec![("bob@example.com".to_owned(), PASSWORD.to_owned())];
    let mut created = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    // One user per hasher, with the cheapest parameters made by Django; the hashes are Django's own.
    for vector in vectors.iter().filter(|v| {
        v.parameters != "default"
            || !vectors
                .iter()
                .any(|o| o.hasher == v.hasher && o.parameters != "default")
    }) {
        if !seen.insert(vector.hasher.clone()) {
            continue;
        }
        let email = format!("{}@example.com", vector.hasher.replace('_', "-"));
        created.push(json!({"email": email, "password": vector.encoded}));
        logins.push((email, vector.password.clone()));
    }
    let code = format!(
        "import json\nfrom users.models import User\nfor u in json.loads({:?}):\n    User.objects.create(email=u['email'], password=u['password'], is_active=True)\nprint(User.objects.count())",
        serde_json::to_string(&created).unwrap()
    );
    let count = last_line(&python(&code, &db.env()));
    assert_eq!(count, (created.len() + 2).to_string());
    DjangoState {
        logins,
        alice_access: tokens["alice@example.com"].0.clone(),
        alice_refresh: tokens["alice@example.com"].1.clone(),
        bob_logged_out: bob_refresh,
        alice_reset,
    }
}

/// What Django's shell printed last (it may first announce its automatic imports).
fn last_line(output: &str) -> String {
    output.trim().lines().last().unwrap_or_default().to_owned()
}

/// Runs `imhotep import-django --from <source> <args>` against the app's database.
fn import(app: &TestApp, source: &str, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_imhotep"))
        .args(["import-django", "--from", source])
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("DEBUG", "true")
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run imhotep import-django")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Imports into a fresh imhotep on `store` and checks everything Django handed out still works.
async fn imhotep_honours_django(db: &DjangoDb, django: &DjangoState, store: Backend) {
    let Some(app) = spawn_app(store).await else { return };
    let dry = import(&app, &db.import_url, &["--dry-run"]);
    assert!(
        dry.status.success(),
        "{}{}",
        stdout(&dry),
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(stdout(&dry).contains("dry run, nothing written"), "{}", stdout(&dry));
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 0);

    let imported = import(&app, &db.import_url, &[]);
    let report = stdout(&imported);
    assert!(
        imported.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let users = django.logins.len() as i64 + 1;
    assert!(report.contains(&format!("users {users} new")), "{report}");
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, users);
    // Bob's logout and Alice's refresh token came across; the token text did not.
    assert_eq!(app.scalar("SELECT count(*) FROM outstanding_tokens").await, 2);
    assert_eq!(app.scalar("SELECT count(*) FROM blacklisted_tokens").await, 1);

    let again = import(&app, &db.import_url, &[]);
    assert!(again.status.success());
    assert!(
        stdout(&again).contains(&format!("users 0 new, 0 updated, {users} unchanged")),
        "{}",
        stdout(&again)
    );

    // Registering after the import gets an id past Django's.
    let fresh = app.register("newcomer@example.com", PASSWORD).await;
    assert!(fresh.body["id"].as_i64().unwrap() > users, "{}", fresh.text);

    let me = app.me(&django.alice_access).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["email"], "alice@example.com");
    let refreshed = app.refresh(&django.alice_refresh).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    app.refresh(&django.bob_logged_out)
        .await
        .assert(401, r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#);

    let (uid, token) = &django.alice_reset;
    let new_password = "Another-Horse-Battery-7";
    let reset = app
        .post(
            "users/reset_password_confirm/",
            &json!({"uid": uid, "token": token, "new_password": new_password}),
            None,
        )
        .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{}", reset.text);

    let mut logins = django.logins.clone();
    logins.push(("alice@example.com".into(), new_password.into()));
    for (email, password) in &logins {
        let login = app.login(email, password).await;
        assert_eq!(login.status, StatusCode::OK, "{email}: {}", login.text);
    }
    let not_argon2id = app
        .scalar("SELECT count(*) FROM users WHERE password NOT LIKE '$argon2id$v=19$m=19456,t=2,p=1$%'")
        .await;
    assert_eq!(not_argon2id, 0, "every hash was upgraded at login");
}

/// Adds two Django users whose e-mails differ only in case; a fresh import must stop and list them.
async fn case_conflict_stops_the_import(db: &DjangoDb) {
    let ids = last_line(&python(
        "from users.models import User\n\
         a = User.objects.create(email='Carol@example.com', password='!')\n\
         b = User.objects.create(email='carol@example.com', password='!')\n\
         print(a.id, b.id)",
        &db.env(),
    ));
    let Some(app) = spawn_app(Backend::Sqlite).await else {
        return;
    };
    let stopped = import(&app, &db.import_url, &[]);
    assert!(!stopped.status.success());
    let report = stdout(&stopped);
    let (a, b) = ids.split_once(' ').expect("two ids");
    assert!(
        report.contains(&format!("users {a} (Carol@example.com), {b} (carol@example.com)")),
        "{report}"
    );
    assert!(report.contains("--on-conflict keep-newest-login"), "{report}");
    assert!(String::from_utf8_lossy(&stopped.stderr).contains("nothing written"));
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 0);
    let resolved = import(&app, &db.import_url, &["--on-conflict", "skip"]);
    assert!(resolved.status.success(), "{}", stdout(&resolved));
    assert_eq!(
        app.scalar("SELECT count(*) FROM users WHERE email_key = 'carol@example.com'")
            .await,
        0
    );
}

async fn django_database_imports_into_both_stores(source: Backend) {
    let Some(db) = DjangoDb::create(source).await else {
        return;
    };
    let django = prepare_django(&db).await;
    imhotep_honours_django(&db, &django, Backend::Sqlite).await;
    imhotep_honours_django(&db, &django, Backend::Postgres).await;
    case_conflict_stops_the_import(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_a_django_sqlite_database() {
    django_database_imports_into_both_stores(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_a_django_postgres_database() {
    django_database_imports_into_both_stores(Backend::Postgres).await;
}

/// The source URL's password never reaches the output, even when the connection fails at debug level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_password_is_never_printed() {
    let Some(app) = spawn_app(Backend::Sqlite).await else {
        return;
    };
    let port = SmtpSink::free_port();
    let source = format!("postgres://django:Sup3r-s3cret-pw@127.0.0.1:{port}/app");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_imhotep"))
        .args(["import-django", "--from", &source, "--dry-run"])
        .env("DATABASE_URL", &app.database_url)
        .env("DEBUG", "true")
        .env("RUST_LOG", "debug")
        .output()
        .expect("run imhotep import-django");
    assert!(!output.status.success());
    let all = format!("{}{}", stdout(&output), String::from_utf8_lossy(&output.stderr));
    assert!(all.contains("django:********@127.0.0.1"), "{all}");
    assert!(!all.contains("Sup3r-s3cret-pw"), "{all}");
}
