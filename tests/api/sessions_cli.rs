//! `imhotep sessions ...` and `imhotep users deactivate` (the real binary) against the test database:
//! operators list and end sessions, and the running server refuses the ended sessions' tokens at once.

use std::process::Output;

use crate::helpers::{Backend, TestApp, spawn_app};
use crate::tokens::payload;

const BLACKLISTED: &str = r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#;

fn imhotep(app: &TestApp, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_imhotep"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("DEBUG", "true")
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run imhotep")
}

#[track_caller]
fn ok(app: &TestApp, args: &[&str]) -> String {
    let output = imhotep(app, args);
    assert!(
        output.status.success(),
        "imhotep {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn operators_list_and_revoke_sessions(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (alice_access, alice_refresh) = app.tokens_for("alice@example.com").await;
    let (bob_access, bob_refresh) = app.tokens_for("bob@example.com").await;
    let second_login = app.login("bob@example.com", crate::helpers::PASSWORD).await;
    let bob_access2 = second_login.body["access"].as_str().unwrap().to_owned();
    let alice_sid = payload(&alice_refresh)["sid"].as_str().unwrap().to_owned();

    let all = ok(&app, &["sessions", "list"]);
    assert!(all.contains(&alice_sid) && all.contains("3 session(s)"), "{all}");
    let alices = ok(&app, &["sessions", "list", "--user", "ALICE@example.com"]);
    assert!(
        alices.contains(&alice_sid) && alices.contains("1 session(s)"),
        "{alices}"
    );

    ok(&app, &["sessions", "revoke", &alice_sid]);
    app.me(&alice_access).await.assert(401, BLACKLISTED);
    app.refresh(&alice_refresh).await.assert(401, BLACKLISTED);
    let again = imhotep(&app, &["sessions", "revoke", &alice_sid]);
    assert!(!again.status.success(), "a revoked session cannot be revoked again");

    let bobs = ok(&app, &["sessions", "revoke", "--user", "bob@example.com"]);
    assert!(bobs.contains("2 session(s) revoked"), "{bobs}");
    app.me(&bob_access).await.assert(401, BLACKLISTED);
    app.me(&bob_access2).await.assert(401, BLACKLISTED);
    app.refresh(&bob_refresh).await.assert(401, BLACKLISTED);
}

async fn deactivating_a_user_revokes_their_sessions(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (_, refresh) = app.tokens_for("alice@example.com").await;

    ok(&app, &["users", "deactivate", "alice@example.com"]);
    ok(&app, &["users", "activate", "alice@example.com"]);
    assert!(
        app.scalar("SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL")
            .await
            == 1,
        "the suspension revoked the session"
    );

    app.refresh(&refresh).await.assert(401, BLACKLISTED);
}

crate::on_both_databases!(
    operators_list_and_revoke_sessions,
    deactivating_a_user_revokes_their_sessions,
);
