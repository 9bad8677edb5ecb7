//! Two-factor login (TOTP and recovery codes): enrolment, the second step of a login, the abuse
//! limits, changes that need a fresh code, staff enforcement and the operator's reset. Codes are
//! computed here from the secret the server handed out, as an authenticator app would.

use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, spawn_app, spawn_app_with};
use crate::on_both_databases;
use crate::tokens::payload;
use crate::users_cli::users_ok;

/// The six-digit code of `secret` (base32) for the time step `steps` away from now.
pub fn code(secret: &str, steps: i64) -> String {
    let seed = base32_decode(secret);
    let time = chrono::Utc::now().timestamp() + steps * 30;
    totp_code(&seed, time)
}

/// RFC 6238 with SHA-1, 30-second steps and 6 digits, written out independently of the server's crate.
fn totp_code(seed: &[u8], unix: i64) -> String {
    use hmac::{Hmac, Mac};
    let counter = (unix / 30) as u64;
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(seed).unwrap();
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset],
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]) & 0x7fff_ffff;
    format!("{:06}", binary % 1_000_000)
}

fn base32_decode(text: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u64, Vec::new());
    for c in text.trim_end_matches('=').bytes() {
        let index = alphabet.iter().position(|a| *a == c).expect("base32") as u64;
        value = (value << 5) | index;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
        }
    }
    out
}

/// A user with a confirmed TOTP factor.
struct Enrolled {
    access: String,
    secret: String,
    id: String,
    recovery_codes: Vec<String>,
    /// The code that confirmed the factor (of the step current then): spent for good.
    spent: String,
}

/// Enrols `email` with the code of the current step: later logins must use a later step's.
async fn enrolled(app: &TestApp, email: &str) -> Enrolled {
    let (access, _) = app.tokens_for(email).await;
    let started = app.post("mfa/totp/", &json!({}), Some(&access)).await;
    assert_eq!(started.status, 201, "{}", started.text);
    let secret = started.body["secret"].as_str().unwrap().to_owned();
    let id = started.body["id"].as_str().unwrap().to_owned();
    let spent = code(&secret, 0);
    let confirmed = app
        .post(
            &format!("mfa/totp/{id}/confirm/"),
            &json!({ "code": spent }),
            Some(&access),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    let recovery_codes = confirmed.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let notice = app.mail.next().await;
    assert!(
        notice
            .header("Subject")
            .unwrap()
            .contains("Two-factor authentication turned on")
    );
    Enrolled {
        access,
        secret,
        id,
        recovery_codes,
        spent,
    }
}

/// The ticket of a login that needs its second step.
async fn ticket(app: &TestApp, email: &str) -> String {
    let login = app.login(email, PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.text);
    assert_eq!(login.body["mfa_required"], true, "{}", login.text);
    login.body["ticket"].as_str().unwrap().to_owned()
}

/// A staff enrolment by the login's ticket: starts a factor, then confirms it with its current code;
/// the confirm's answer.
async fn enrol_with_ticket(app: &TestApp, ticket: &str) -> crate::helpers::Answer {
    let started = app.post("mfa/totp/", &json!({ "ticket": ticket }), None).await;
    assert_eq!(started.status, 201, "{}", started.text);
    let (secret, id) = (
        started.body["secret"].as_str().unwrap(),
        started.body["id"].as_str().unwrap(),
    );
    app.post(
        &format!("mfa/totp/{id}/confirm/"),
        &json!({ "ticket": ticket, "code": code(secret, 0) }),
        None,
    )
    .await
}

async fn second_step(app: &TestApp, body: &Value) -> crate::helpers::Answer {
    app.post("jwt/create/mfa/", body, None).await
}

async fn enrolment_shows_the_secret_once_and_login_then_needs_a_code(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (access, _) = app.tokens_for("alice@example.com").await;
    let started = app.post("mfa/totp/", &json!({}), Some(&access)).await;
    assert_eq!(started.status, 201, "{}", started.text);
    let keys: Vec<&String> = started.body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "secret", "otpauth_url", "qr_svg"]);
    let secret = started.body["secret"].as_str().unwrap();
    let url = started.body["otpauth_url"].as_str().unwrap();
    assert!(
        url.starts_with("otpauth://totp/") && url.contains(&format!("secret={secret}")),
        "{url}"
    );
    assert!(
        started.body["qr_svg"].as_str().unwrap().contains("<svg"),
        "{}",
        started.text
    );
    let stored = app
        .scalar(&format!(
            "SELECT count(*) FROM mfa_factors WHERE secret LIKE '%{secret}%'"
        ))
        .await;
    assert_eq!(stored, 0, "the seed is stored encrypted");

    // Pending: the password alone still logs in.
    let login = app.login("alice@example.com", PASSWORD).await;
    assert_eq!(
        login.body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["refresh", "access"]
    );

    let id = started.body["id"].as_str().unwrap();
    let confirm = format!("mfa/totp/{id}/confirm/");
    let wrong = app.post(&confirm, &json!({ "code": "000000" }), Some(&access)).await;
    wrong.assert(400, r#"{"code":["Invalid or expired code."]}"#);
    let confirmed = app
        .post(&confirm, &json!({ "code": code(secret, 0) }), Some(&access))
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    let codes = confirmed.body["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    assert_eq!(
        app.scalar("SELECT count(*) FROM mfa_recovery_codes WHERE used_at IS NULL")
            .await,
        10
    );
    assert!(app.mail.next().await.header("Subject").unwrap().contains("turned on"));
    let again = app
        .post(&confirm, &json!({ "code": code(secret, 1) }), Some(&access))
        .await;
    assert_eq!(
        again.status, 404,
        "an active factor is not confirmed twice: {}",
        again.text
    );

    let listed = app.send(|c| c.get(app.url("mfa/factors/")).bearer_auth(&access)).await;
    assert_eq!(listed.status, 200);
    let factor = &listed.body[0];
    assert_eq!(
        (factor["id"].as_str(), factor["type"].as_str()),
        (Some(id), Some("totp"))
    );
    assert_eq!(factor["confirmed"], true);
    assert!(
        !listed.text.contains(secret) && factor.get("secret").is_none(),
        "{}",
        listed.text
    );

    // Now the password only earns a ticket.
    let login = app.login("ALICE@example.com", PASSWORD).await;
    assert_eq!(login.status, 200);
    let keys: Vec<&String> = login.body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["mfa_required", "ticket", "methods"]);
    assert_eq!(login.body["methods"], json!(["totp", "recovery_code"]));
    let wrong_password = app.login("alice@example.com", "wrong").await;
    wrong_password.assert(
        401,
        r#"{"detail":"No active account found with the given credentials"}"#,
    );
    // A right password forgets the failures before it and starts no session: only the second step does.
    let sessions = "SELECT count(*) FROM sessions";
    let before = app.scalar(sessions).await;
    let again = app.login("alice@example.com", PASSWORD).await;
    assert_eq!(again.body["mfa_required"], true, "{}", again.text);
    let alice_counters = "SELECT count(*) FROM throttle_counters WHERE key LIKE 'login%alice@example.com%'";
    assert_eq!(app.scalar(alice_counters).await, 0);
    assert_eq!(app.scalar(sessions).await, before);

    let ticket = login.body["ticket"].as_str().unwrap();
    let tokens = second_step(&app, &json!({ "ticket": ticket, "code": code(secret, 1) })).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    assert_eq!(
        tokens.body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["refresh", "access"]
    );
    let access = tokens.body["access"].as_str().unwrap();
    let claims = payload(access);
    assert_eq!(
        (claims["amr"].clone(), claims["aal"].clone()),
        (json!(["pwd", "otp"]), json!("aal2"))
    );
    assert_eq!(app.me(access).await.status, 200);
    let refreshed = app.refresh(tokens.body["refresh"].as_str().unwrap()).await;
    assert_eq!(payload(refreshed.body["access"].as_str().unwrap())["aal"], "aal2");
}

async fn wrong_replayed_and_burnt_codes_are_refused(db: Backend) {
    // The account backoff (tested below) would answer 429 before the ticket burns.
    let Some(app) = spawn_app_with(db, |s| s.throttle.failures_before_backoff = 100).await else {
        return;
    };
    let Enrolled { secret, spent, .. } = enrolled(&app, "alice@example.com").await;
    // The code that confirmed the factor cannot be replayed.
    let replay = second_step(
        &app,
        &json!({ "ticket": ticket(&app, "alice@example.com").await, "code": spent }),
    )
    .await;
    replay.assert(400, r#"{"code":["Invalid or expired code."]}"#);

    let ticket = ticket(&app, "alice@example.com").await;
    let missing = second_step(&app, &json!({ "ticket": ticket })).await;
    missing.assert(400, r#"{"code":["This field is required."]}"#);
    for wrong in ["000000", "12345", "abcdef", "999999"] {
        let answer = second_step(&app, &json!({ "ticket": ticket, "code": wrong })).await;
        answer.assert(400, r#"{"code":["Invalid or expired code."]}"#);
    }
    // The fifth wrong code burns the ticket: the right one is refused after it.
    let fifth = second_step(&app, &json!({ "ticket": ticket, "code": "111111" })).await;
    assert_eq!(fifth.status, 400);
    let burnt = second_step(&app, &json!({ "ticket": ticket, "code": code(&secret, 1) })).await;
    burnt.assert(400, r#"{"ticket":["Invalid or expired ticket."]}"#);
    let unknown = second_step(&app, &json!({ "ticket": "no-such-ticket", "code": code(&secret, 1) })).await;
    unknown.assert(400, r#"{"ticket":["Invalid or expired ticket."]}"#);
}

async fn expired_and_reused_tickets_are_refused(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let Enrolled { secret, .. } = enrolled(&app, "alice@example.com").await;
    let expired = ticket(&app, "alice@example.com").await;
    app.execute("UPDATE mfa_tickets SET expires_ms = 0").await;
    let answer = second_step(&app, &json!({ "ticket": expired, "code": code(&secret, 1) })).await;
    answer.assert(400, r#"{"ticket":["Invalid or expired ticket."]}"#);

    let ticket = ticket(&app, "alice@example.com").await;
    let first = second_step(&app, &json!({ "ticket": ticket, "code": code(&secret, 1) })).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(
        app.scalar("SELECT count(*) FROM mfa_tickets WHERE expires_ms > 0")
            .await,
        0,
        "spent"
    );
    let reused = second_step(&app, &json!({ "ticket": ticket, "code": code(&secret, 1) })).await;
    reused.assert(400, r#"{"ticket":["Invalid or expired ticket."]}"#);
}

async fn a_recovery_code_works_once(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let codes = enrolled(&app, "alice@example.com").await.recovery_codes;
    let typed = codes[3].to_uppercase().replace('-', " ");
    let ticket_one = ticket(&app, "alice@example.com").await;
    let tokens = second_step(&app, &json!({ "ticket": ticket_one, "recovery_code": typed })).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    assert_eq!(payload(tokens.body["access"].as_str().unwrap())["aal"], "aal2");
    assert!(
        app.mail
            .next()
            .await
            .header("Subject")
            .unwrap()
            .contains("A recovery code was used")
    );
    assert_eq!(
        app.scalar("SELECT count(*) FROM mfa_recovery_codes WHERE used_at IS NULL")
            .await,
        9
    );

    let ticket_two = ticket(&app, "alice@example.com").await;
    let again = second_step(&app, &json!({ "ticket": ticket_two, "recovery_code": codes[3] })).await;
    again.assert(400, r#"{"recovery_code":["Invalid or expired code."]}"#);
    let another = second_step(&app, &json!({ "ticket": ticket_two, "recovery_code": codes[4] })).await;
    assert_eq!(
        another.status, 200,
        "the ticket survives a wrong code: {}",
        another.text
    );
}

async fn code_failures_count_towards_the_account_backoff(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let Enrolled { secret, .. } = enrolled(&app, "alice@example.com").await;
    // Five wrong codes over two tickets (a right password in between forgets nothing).
    for wrong in ["000000", "111111", "222222"] {
        let ticket = ticket(&app, "alice@example.com").await;
        second_step(&app, &json!({ "ticket": ticket, "code": wrong })).await;
    }
    let ticket = ticket(&app, "alice@example.com").await;
    for wrong in ["333333", "444444"] {
        second_step(&app, &json!({ "ticket": ticket, "code": wrong })).await;
    }
    let refused = second_step(&app, &json!({ "ticket": ticket, "code": code(&secret, 1) })).await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert!(refused.header("retry-after").is_some());
}

async fn delete_factor(app: &TestApp, access: &str, id: &str, body: Value) -> crate::helpers::Answer {
    let url = app.url(&format!("mfa/factors/{id}/"));
    app.send(|c| c.delete(url).bearer_auth(access).json(&body)).await
}

async fn removal_needs_the_password_and_a_fresh_code(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let Enrolled {
        access,
        secret,
        id,
        spent,
        ..
    } = enrolled(&app, "alice@example.com").await;
    let remove = |body: Value| delete_factor(&app, &access, &id, body);
    remove(json!({ "current_password": PASSWORD }))
        .await
        .assert(400, r#"{"code":["This field is required."]}"#);
    remove(json!({ "current_password": "wrong", "code": code(&secret, 1) }))
        .await
        .assert(400, r#"{"current_password":["Invalid password."]}"#);
    remove(json!({ "current_password": PASSWORD, "code": spent }))
        .await
        .assert(400, r#"{"code":["Invalid or expired code."]}"#);
    let other = app.post("mfa/totp/", &json!({}), Some(&access)).await;
    let not_mine = app
        .send(|c| {
            c.delete(app.url("mfa/factors/0123456789abcdef0123456789abcdef/"))
                .bearer_auth(&access)
                .json(&json!({ "current_password": PASSWORD, "code": code(&secret, 1) }))
        })
        .await;
    assert_eq!(not_mine.status, 404, "{}", not_mine.text);
    remove(json!({ "current_password": PASSWORD, "code": code(&secret, -1) }))
        .await
        .assert(400, r#"{"code":["Invalid or expired code."]}"#);
    let removed = remove(json!({ "current_password": PASSWORD, "code": code(&secret, 1) })).await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    assert!(app.mail.next().await.header("Subject").unwrap().contains("removed"));
    assert_eq!(app.scalar("SELECT count(*) FROM mfa_recovery_codes").await, 0);
    assert_eq!(other.status, 201);
    // Back to the password alone (the pending factor asks for nothing).
    let login = app.login("alice@example.com", PASSWORD).await;
    assert_eq!(
        login.body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["refresh", "access"]
    );
    assert!(payload(login.body["access"].as_str().unwrap()).get("amr").is_none());
}

async fn regenerated_recovery_codes_replace_the_old_ones(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let Enrolled {
        access,
        secret,
        recovery_codes: old,
        ..
    } = enrolled(&app, "alice@example.com").await;
    let missing = app
        .post(
            "mfa/recovery_codes/",
            &json!({ "current_password": PASSWORD }),
            Some(&access),
        )
        .await;
    missing.assert(400, r#"{"code":["This field is required."]}"#);
    let fresh = app
        .post(
            "mfa/recovery_codes/",
            &json!({ "current_password": PASSWORD, "code": code(&secret, 1) }),
            Some(&access),
        )
        .await;
    assert_eq!(fresh.status, 200, "{}", fresh.text);
    let new_codes = fresh.body["recovery_codes"].as_array().unwrap();
    assert_eq!(new_codes.len(), 10);
    assert!(
        app.mail
            .next()
            .await
            .header("Subject")
            .unwrap()
            .contains("New recovery codes")
    );
    let ticket = ticket(&app, "alice@example.com").await;
    let stale = second_step(&app, &json!({ "ticket": ticket, "recovery_code": old[0] })).await;
    assert_eq!(stale.status, 400, "{}", stale.text);
    let works = second_step(&app, &json!({ "ticket": ticket, "recovery_code": new_codes[0] })).await;
    assert_eq!(works.status, 200, "{}", works.text);
}

async fn staff_must_enrol_before_they_get_tokens_when_required(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| s.djoser.mfa_required_for_staff = true).await else {
        return;
    };
    app.active_user("boss@example.com").await;
    app.active_user("worker@example.com").await;
    app.execute("UPDATE users SET is_staff = TRUE WHERE email = 'boss@example.com'")
        .await;
    let worker = app.login("worker@example.com", PASSWORD).await;
    assert_eq!(
        worker.body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["refresh", "access"]
    );

    assert_eq!(app.login("boss@example.com", "wrong-password").await.status, 401);
    let login = app.login("boss@example.com", PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.text);
    assert_eq!(
        login.body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["mfa_enrolment_required", "ticket"]
    );
    let boss_counters = "SELECT count(*) FROM throttle_counters WHERE key LIKE 'login%boss@example.com%'";
    assert_eq!(
        app.scalar(boss_counters).await,
        0,
        "a right password forgets the failures"
    );
    let boss_sessions = "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id \
                         WHERE u.email = 'boss@example.com'";
    assert_eq!(app.scalar(boss_sessions).await, 0, "no session before the enrolment");
    let ticket = login.body["ticket"].as_str().unwrap();
    let anonymous = app.post("mfa/totp/", &json!({}), None).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
    let forged = app.post("mfa/totp/", &json!({ "ticket": "forged" }), None).await;
    forged.assert(400, r#"{"ticket":["Invalid or expired ticket."]}"#);
    let not_for_login = second_step(&app, &json!({ "ticket": ticket, "code": "123456" })).await;
    not_for_login.assert(400, r#"{"ticket":["Invalid or expired ticket."]}"#);

    let confirmed = enrol_with_ticket(&app, ticket).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    let keys: Vec<&String> = confirmed.body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["recovery_codes", "refresh", "access"]);
    assert_eq!(payload(confirmed.body["access"].as_str().unwrap())["aal"], "aal2");
    // The enrolment ticket is spent; the next login asks for a code.
    let reuse = app.post("mfa/totp/", &json!({ "ticket": ticket }), None).await;
    assert_eq!(reuse.status, 400, "{}", reuse.text);
    assert_eq!(app.login("boss@example.com", "wrong-password").await.status, 401);
    let next = app.login("boss@example.com", PASSWORD).await;
    assert_eq!(next.body["mfa_required"], true, "{}", next.text);
    assert_eq!(
        app.scalar(boss_counters).await,
        0,
        "the second step's login forgets them too"
    );
    assert_eq!(app.scalar(boss_sessions).await, 1, "only the enrolment's session");
}

async fn operators_see_and_reset_a_users_second_factor(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.active_user("bob@example.com").await;
    let shown = users_ok(&app, &["show", "bob@example.com"]);
    assert!(shown.lines().any(|l| l == "mfa:         off"), "{shown}");
    enrolled(&app, "alice@example.com").await;
    let shown = users_ok(&app, &["show", "alice@example.com"]);
    assert!(
        shown
            .lines()
            .any(|l| l == "mfa:         on (1 factor(s), 10 recovery code(s) left)"),
        "{shown}"
    );
    let reset = users_ok(&app, &["mfa-reset", "ALICE@example.com"]);
    assert!(reset.contains("1 second factor(s)"), "{reset}");
    assert!(app.mail.next().await.header("Subject").unwrap().contains("removed"));
    let login = app.login("alice@example.com", PASSWORD).await;
    assert_eq!(
        login.body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["refresh", "access"]
    );
    let again = users_ok(&app, &["mfa-reset", "alice@example.com"]);
    assert!(again.contains("nothing changed"), "{again}");
}

/// Browser mode: the answers of a login's second step and of a staff enrolment carry tokens, so
/// they set the refresh cookie and blank the body's `refresh`, as `jwt/create/` does.
async fn second_steps_set_the_refresh_cookie_in_browser_mode(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| {
        s.cookies.jwt_auth_refresh_cookie = Some("refresh".into());
        s.djoser.mfa_required_for_staff = true;
    })
    .await
    else {
        return;
    };
    let sets_refresh_cookie = |answer: &crate::helpers::Answer| {
        answer
            .headers
            .get_all("set-cookie")
            .iter()
            .any(|value| value.to_str().unwrap().starts_with("refresh=ey"))
    };
    let alice = enrolled(&app, "alice@example.com").await;
    let ticket = ticket(&app, "alice@example.com").await;
    let second = second_step(&app, &json!({ "ticket": ticket, "code": code(&alice.secret, 1) })).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.body["refresh"], "", "{}", second.text);
    assert!(sets_refresh_cookie(&second), "{:?}", second.headers);

    app.active_user("boss@example.com").await;
    app.execute("UPDATE users SET is_staff = TRUE WHERE email = 'boss@example.com'")
        .await;
    let login = app.login("boss@example.com", PASSWORD).await;
    let ticket = login.body["ticket"].as_str().unwrap();
    let confirmed = enrol_with_ticket(&app, ticket).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    assert_eq!(confirmed.body["refresh"], "", "{}", confirmed.text);
    assert!(sets_refresh_cookie(&confirmed), "{:?}", confirmed.headers);
}

on_both_databases!(
    enrolment_shows_the_secret_once_and_login_then_needs_a_code,
    wrong_replayed_and_burnt_codes_are_refused,
    expired_and_reused_tickets_are_refused,
    a_recovery_code_works_once,
    code_failures_count_towards_the_account_backoff,
    removal_needs_the_password_and_a_fresh_code,
    regenerated_recovery_codes_replace_the_old_ones,
    staff_must_enrol_before_they_get_tokens_when_required,
    operators_see_and_reset_a_users_second_factor,
    second_steps_set_the_refresh_cookie_in_browser_mode,
);
