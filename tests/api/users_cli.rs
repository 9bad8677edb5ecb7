//! `imhotep users ...` (the real binary) against the test database: operators list, inspect,
//! (de)activate, promote and delete users, and the running server sees the change at once.

use std::process::Output;

use crate::helpers::{Backend, PASSWORD, TestApp, spawn_app};

/// Runs `imhotep users ...` against the app's database; the whole output, whatever the exit.
pub fn users(app: &TestApp, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_imhotep"))
        .arg("users")
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("DEBUG", "true")
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run imhotep users")
}

/// Runs `imhotep users ...`, asserts it succeeded and returns its stdout.
#[track_caller]
pub fn users_ok(app: &TestApp, args: &[&str]) -> String {
    let output = users(app, args);
    assert!(
        output.status.success(),
        "imhotep users {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs `imhotep users ...`, asserts it failed and returns its stderr.
#[track_caller]
fn users_err(app: &TestApp, args: &[&str]) -> String {
    let output = users(app, args);
    assert!(
        !output.status.success(),
        "imhotep users {args:?} should fail: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn list_shows_registered_users(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.active_user("alice@example.com").await;
    app.register("Bob@Example.com", PASSWORD).await;
    let listed = users_ok(&app, &["list"]);
    let lines: Vec<&str> = listed.lines().collect();
    for column in [
        "id",
        "email",
        "active",
        "staff",
        "superuser",
        "date joined",
        "last login",
    ] {
        assert!(lines[0].contains(column), "{listed}");
    }
    let alice = lines.iter().find(|l| l.contains("alice@example.com")).expect(&listed);
    let bob = lines.iter().find(|l| l.contains("Bob@example.com")).expect(&listed);
    assert!(
        alice.trim_start().starts_with("1 ") && alice.contains(" yes "),
        "{listed}"
    );
    assert!(bob.trim_start().starts_with("2 ") && bob.contains(" no "), "{listed}");
    assert!(alice.ends_with("never"), "{listed}");
    assert!(listed.contains("2 user(s)"), "{listed}");
}

async fn show_finds_a_user_by_id_and_by_email_in_any_case(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.active_user("alice@example.com").await;
    let by_id = users_ok(&app, &["show", "1"]);
    assert!(by_id.contains("alice@example.com"), "{by_id}");
    assert!(by_id.lines().any(|l| l == "id:          1"), "{by_id}");
    assert!(by_id.lines().any(|l| l == "active:      yes"), "{by_id}");
    assert!(by_id.lines().any(|l| l == "password:    usable"), "{by_id}");
    assert!(!by_id.contains('$') && !by_id.contains("argon2"), "no hash: {by_id}");
    assert_eq!(users_ok(&app, &["show", "ALICE@Example.COM"]), by_id);

    app.execute("UPDATE users SET password = '!unusable'").await;
    let unusable = users_ok(&app, &["show", "alice@example.com"]);
    assert!(unusable.lines().any(|l| l == "password:    unusable"), "{unusable}");
}

async fn activate_lets_an_inactive_user_log_in(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.register("bob@example.com", PASSWORD).await;
    assert_eq!(app.login("bob@example.com", PASSWORD).await.status, 401);
    let changed = users_ok(&app, &["activate", "BOB@example.com"]);
    assert!(changed.contains("is_active false -> true"), "{changed}");
    assert_eq!(app.login("bob@example.com", PASSWORD).await.status, 200);
    let again = users_ok(&app, &["activate", "1"]);
    assert!(again.contains("already true; nothing changed"), "{again}");
}

async fn deactivate_stops_logins_and_existing_access_tokens(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (access, _) = app.tokens_for("alice@example.com").await;
    app.me(&access)
        .await
        .assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
    let changed = users_ok(&app, &["deactivate", "1"]);
    assert!(changed.contains("is_active true -> false"), "{changed}");
    assert_eq!(app.login("alice@example.com", PASSWORD).await.status, 401);
    app.me(&access)
        .await
        .assert(401, r#"{"detail":"User is inactive","code":"user_inactive"}"#);
}

async fn set_staff_flips_is_staff(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.active_user("alice@example.com").await;
    let staff = "SELECT count(*) FROM users WHERE is_staff = true";
    assert_eq!(app.scalar(staff).await, 0);
    let on = users_ok(&app, &["set-staff", "alice@example.com"]);
    assert!(on.contains("is_staff false -> true"), "{on}");
    assert_eq!(app.scalar(staff).await, 1);
    let off = users_ok(&app, &["set-staff", "1", "--off"]);
    assert!(off.contains("is_staff true -> false"), "{off}");
    assert_eq!(app.scalar(staff).await, 0);
    assert_eq!(app.scalar("SELECT count(*) FROM users WHERE is_active = true").await, 1);
}

async fn delete_needs_yes_and_then_removes_the_user_and_tokens(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (_, refresh) = app.tokens_for("alice@example.com").await;
    app.post("jwt/blacklist/", &serde_json::json!({ "refresh": refresh }), None)
        .await
        .assert(200, "{}");
    app.active_user("bob@example.com").await;
    let tokens = "SELECT count(*) FROM outstanding_tokens";
    assert_eq!(app.scalar(tokens).await, 1);

    let refused = users_err(&app, &["delete", "alice@example.com"]);
    assert!(refused.contains("--yes"), "{refused}");
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 2);

    let deleted = users_ok(&app, &["delete", "Alice@Example.com", "--yes"]);
    assert!(deleted.contains("deleted"), "{deleted}");
    assert_eq!(app.scalar("SELECT count(*) FROM users WHERE id = 1").await, 0);
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 1, "bob stays");
    assert_eq!(app.scalar(tokens).await, 0);
    assert_eq!(app.scalar("SELECT count(*) FROM blacklisted_tokens").await, 0);
    assert_eq!(app.login("alice@example.com", PASSWORD).await.status, 401);
}

async fn an_unknown_user_is_an_error(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.active_user("alice@example.com").await;
    let by_id = users_err(&app, &["show", "42"]);
    assert!(by_id.contains("error: no user with id 42"), "{by_id}");
    for action in ["show", "activate", "deactivate", "set-staff"] {
        let stderr = users_err(&app, &[action, "nobody@example.com"]);
        assert!(stderr.contains("no user with e-mail nobody@example.com"), "{stderr}");
    }
    let stderr = users_err(&app, &["delete", "99999999999999999999999", "--yes"]);
    assert!(stderr.contains("no user with id"), "{stderr}");
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 1);
}

crate::on_both_databases!(
    list_shows_registered_users,
    show_finds_a_user_by_id_and_by_email_in_any_case,
    activate_lets_an_inactive_user_log_in,
    deactivate_stops_logins_and_existing_access_tokens,
    set_staff_flips_is_staff,
    delete_needs_yes_and_then_removes_the_user_and_tokens,
    an_unknown_user_is_an_error,
);
