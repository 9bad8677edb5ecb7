//! Unicode address squatting: look-alike spellings never take, reach or log
//! in to someone else's address; genuine non-ASCII local parts are addresses of their own.

use serde_json::json;

use crate::helpers::{Backend, PASSWORD, spawn_app};

const INVALID: &str = r#"{"email":["Enter a valid email address."]}"#;
const TAKEN: &str = r#"{"email":["user with this email address already exists."]}"#;

async fn compatibility_characters_are_refused_everywhere(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.active_user("kevin@example.com").await;
    app.active_user("bob@sample.test").await;
    for squatter in [
        "\u{212a}evin@example.com", // KELVIN SIGN
        "\u{ff4b}evin@example.com", // FULLWIDTH k
        "bob@\u{17f}ample.test",    // LONG S in the domain
        "bob@Sample.TEST\u{200b}",  // an invisible character in the domain
    ] {
        app.register(squatter, PASSWORD).await.assert(400, INVALID);
        for path in [
            "users/reset_password/",
            "users/reset_email/",
            "users/resend_activation/",
        ] {
            app.post(path, &json!({"email": squatter}), None)
                .await
                .assert(400, INVALID);
        }
        app.login(squatter, PASSWORD).await.assert(
            401,
            r#"{"detail":"No active account found with the given credentials"}"#,
        );
    }
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 2);
    let (access, _) = (
        app.login("kevin@example.com", PASSWORD).await.body["access"]
            .as_str()
            .unwrap()
            .to_owned(),
        (),
    );
    let answer = app
        .post(
            "users/set_email/",
            &json!({"current_password": PASSWORD, "new_email": "\u{212a}evin@example.org"}),
            Some(&access),
        )
        .await;
    answer.assert(400, r#"{"new_email":["Enter a valid email address."]}"#);
}

async fn unnecessary_quotes_do_not_make_a_second_account(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.active_user("kate@example.com").await;
    app.register("\"kate\"@example.com", PASSWORD).await.assert(400, TAKEN);
    app.register("\"Ka\\te\"@Example.com", PASSWORD)
        .await
        .assert(400, TAKEN);
    // Quotes that change the address are another address.
    let quoted = app.register("\"kate..smith\"@example.com", PASSWORD).await;
    assert_eq!(quoted.status, 201, "{}", quoted.text);
    // Logging in with the quoted spelling is logging in as kate.
    assert_eq!(app.login("\"kate\"@example.com", PASSWORD).await.status, 200);
}

async fn non_ascii_local_parts_are_addresses_of_their_own(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.active_user("jose@example.com").await;
    let created = app.register("José@example.com", PASSWORD).await;
    created.assert(201, r#"{"email":"José@example.com","id":2}"#);
    let (uid, token) = app.mail.next().await.link("activate");
    app.activate(&uid, &token).await.assert(204, "");
    // One address however it is spelt: case, and composed or decomposed accents.
    app.register("JOSÉ@example.com", PASSWORD).await.assert(400, TAKEN);
    app.register("Jose\u{301}@example.com", PASSWORD)
        .await
        .assert(400, TAKEN);
    for spelling in ["josé@EXAMPLE.com", "JOSE\u{301}@example.com"] {
        let login = app.login(spelling, PASSWORD).await;
        assert_eq!(login.status, 200, "{spelling}: {}", login.text);
        let me = app.me(login.body["access"].as_str().unwrap()).await;
        me.assert(200, r#"{"id":2,"email":"José@example.com"}"#);
    }
    assert_eq!(app.scalar("SELECT count(*) FROM users").await, 2);
}

async fn rekey_moves_rows_stored_under_the_old_rules_to_their_new_keys(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    for email in [
        "bob@example.com",
        "kate@example.com",
        "squatter@example.com",
        "kevin@example.org",
    ] {
        app.active_user(email).await;
    }
    // Rows as the old rules stored them: the whole address lower-cased, quotes and all.
    app.execute(r#"UPDATE users SET email = '"bob"@example.com', email_key = '"bob"@example.com' WHERE id = 1"#)
        .await;
    app.execute(r#"UPDATE users SET email = '"kate"@example.com', email_key = '"kate"@example.com' WHERE id = 3"#)
        .await;
    app.execute("UPDATE users SET email = '\u{212a}evin@example.org' WHERE id = 4")
        .await;
    app.login("bob@example.com", PASSWORD).await.assert(
        401,
        r#"{"detail":"No active account found with the given credentials"}"#,
    );

    let output = crate::users_cli::users(&app, &["rekey"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "two addresses need the operator: {stdout}");
    assert!(
        stdout.contains("user 1 (\"bob\"@example.com): key is now bob@example.com"),
        "{stdout}"
    );
    assert!(
        stdout.contains("user 3 (\"kate\"@example.com): its key kate@example.com belongs to another account"),
        "{stdout}"
    );
    assert!(
        stdout.contains("user 4 (\u{212a}evin@example.org): the address has characters that fold onto ASCII"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 key(s) changed, 2 address(es) need attention"),
        "{stdout}"
    );
    assert_eq!(app.login("bob@example.com", PASSWORD).await.status, 200);
    // Nothing else moved, and a second run changes nothing more.
    assert_eq!(
        app.scalar("SELECT count(*) FROM users WHERE email_key = 'kevin@example.org'")
            .await,
        1
    );
    let again = crate::users_cli::users(&app, &["rekey"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 key(s) changed, 2 address(es)"));
}

crate::on_both_databases!(
    compatibility_characters_are_refused_everywhere,
    unnecessary_quotes_do_not_make_a_second_account,
    non_ascii_local_parts_are_addresses_of_their_own,
    rekey_moves_rows_stored_under_the_old_rules_to_their_new_keys,
);
