//! Sessions (issue 17): refresh-token families and GoTrue's reuse rules, logout scopes, the session
//! list, immediate refusal of a revoked session's access tokens, two instances, and interoperability
//! with SimpleJWT.

use serde_json::{Value, json};

use crate::helpers::{Answer, Backend, PASSWORD, TestApp, serve, spawn_app, spawn_app_with, test_settings};
use crate::tokens::{payload, refresh_claims, sign};

const BLACKLISTED: &str = r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#;

/// Logs in with a User-Agent: `(access, refresh)`.
async fn login_with_agent(app: &TestApp, email: &str, agent: &str) -> (String, String) {
    let answer = app
        .send(|c| {
            c.post(app.url("jwt/create/"))
                .header("User-Agent", agent)
                .json(&json!({ "email": email, "password": PASSWORD }))
        })
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    pair(&answer)
}

fn pair(answer: &Answer) -> (String, String) {
    (
        answer.body["access"].as_str().expect("access").to_owned(),
        answer.body["refresh"].as_str().expect("refresh").to_owned(),
    )
}

/// Refreshes and asserts success: `(access, refresh)`.
async fn rotate(app: &TestApp, refresh: &str) -> (String, String) {
    let answer = app.refresh(refresh).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    pair(&answer)
}

async fn sessions(app: &TestApp, access: &str) -> Answer {
    app.send(|c| c.get(app.url("sessions/")).bearer_auth(access)).await
}

async fn delete(app: &TestApp, path: &str, access: &str) -> Answer {
    app.send(|c| c.delete(app.url(path)).bearer_auth(access)).await
}

async fn logout(app: &TestApp, access: &str, body: Value) -> Answer {
    app.post("jwt/logout/", &body, Some(access)).await
}

/// Moves every blacklisting an hour into the past, as if the rotations had happened long ago.
async fn age_rotations(app: &TestApp) {
    app.execute("UPDATE blacklisted_tokens SET blacklisted_at = '2020-01-01T00:00:00+00:00'")
        .await;
}

async fn parallel_refreshes_of_one_token_all_get_the_same_child(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (_, refresh) = app.tokens_for("alice@example.com").await;

    let answers = futures::future::join_all((0..10).map(|_| app.refresh(&refresh))).await;

    for answer in &answers {
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    let children: std::collections::HashSet<&str> =
        answers.iter().map(|a| a.body["refresh"].as_str().unwrap()).collect();
    assert_eq!(children.len(), 1, "one child, handed to every caller");
    assert_eq!(app.scalar("SELECT count(*) FROM outstanding_tokens").await, 2);
    assert_eq!(app.scalar("SELECT count(*) FROM blacklisted_tokens").await, 1);
    let child = children.into_iter().next().unwrap();
    assert_eq!(payload(child)["sid"], payload(&refresh)["sid"]);
    assert_eq!(app.refresh(child).await.status, 200, "the child is live");
}

async fn a_parent_replayed_long_after_gets_the_same_child_back(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (_, parent) = app.tokens_for("alice@example.com").await;
    let (_, child) = rotate(&app, &parent).await;
    age_rotations(&app).await;

    let (access, again) = rotate(&app, &parent).await;

    assert_eq!(again, child, "re-signed byte for byte");
    app.me(&access)
        .await
        .assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
    assert_eq!(payload(&access)["sid"], payload(&child)["sid"]);
    assert_eq!(app.scalar("SELECT count(*) FROM outstanding_tokens").await, 2);
    let (_, grandchild) = rotate(&app, &child).await;
    assert_ne!(grandchild, child);
}

async fn an_older_token_within_the_interval_gets_the_live_token(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (_, first) = app.tokens_for("alice@example.com").await;
    let (_, second) = rotate(&app, &first).await;
    let (_, third) = rotate(&app, &second).await;

    let (_, live) = rotate(&app, &first).await;

    assert_eq!(live, third);
}

async fn a_grandparent_replayed_after_the_interval_revokes_only_its_session(db: Backend) {
    // The reuse counter is read from /metrics, which the main port serves only when public.
    let Some(app) = spawn_app_with(db, |s| s.metrics.public = true).await else {
        return;
    };
    app.active_user("alice@example.com").await;
    let (phone_access, phone_refresh) = login_with_agent(&app, "alice@example.com", "phone").await;
    let (access, first) = login_with_agent(&app, "alice@example.com", "laptop").await;
    let (_, second) = rotate(&app, &first).await;
    let (live_access, live) = rotate(&app, &second).await;
    age_rotations(&app).await;

    app.refresh(&first).await.assert(401, BLACKLISTED);

    app.refresh(&live).await.assert(401, BLACKLISTED);
    app.refresh(&second).await.assert(401, BLACKLISTED);
    app.me(&live_access).await.assert(401, BLACKLISTED);
    app.me(&access).await.assert(401, BLACKLISTED);
    app.me(&phone_access)
        .await
        .assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
    rotate(&app, &phone_refresh).await;
    let metrics = app.send(|c| c.get(format!("{}/metrics", app.address))).await;
    assert!(
        metrics.text.lines().any(|l| l == "imhotep_refresh_reuse_total 1"),
        "{}",
        metrics.text
    );
}

async fn reuse_detection_off_gives_simplejwts_answers(db: Backend) {
    let Some(app) = spawn_app_with(db, |s| s.sessions.reuse_detection = false).await else {
        return;
    };
    let (_, refresh) = app.tokens_for("alice@example.com").await;
    let answers = futures::future::join_all((0..10).map(|_| app.refresh(&refresh))).await;
    assert_eq!(answers.iter().filter(|a| a.status == 200).count(), 1);
    let (_, child) = pair(answers.iter().find(|a| a.status == 200).unwrap());
    app.refresh(&refresh).await.assert(401, BLACKLISTED);
    assert_eq!(app.refresh(&child).await.status, 200, "nothing else was revoked");
}

async fn logout_scopes_end_this_other_or_all_sessions(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.active_user("alice@example.com").await;
    let one = login_with_agent(&app, "alice@example.com", "one").await;
    let two = login_with_agent(&app, "alice@example.com", "two").await;
    let three = login_with_agent(&app, "alice@example.com", "three").await;
    let four = login_with_agent(&app, "alice@example.com", "four").await;

    logout(&app, &two.0, json!({"refresh": two.1, "scope": "sideways"}))
        .await
        .assert(400, r#"{"scope":["\"sideways\" is not a valid choice."]}"#);
    logout(&app, &one.0, json!({"refresh": one.1})).await.assert(205, "");
    app.refresh(&one.1).await.assert(401, BLACKLISTED);
    app.me(&one.0).await.assert(401, BLACKLISTED);
    assert_eq!(app.me(&two.0).await.status, 200);

    logout(&app, &two.0, json!({"refresh": two.1, "scope": "others"}))
        .await
        .assert(205, "");
    app.refresh(&three.1).await.assert(401, BLACKLISTED);
    app.me(&four.0).await.assert(401, BLACKLISTED);
    assert_eq!(app.me(&two.0).await.status, 200, "the presenting session stays");
    let two = rotate(&app, &two.1).await;

    let five = login_with_agent(&app, "alice@example.com", "five").await;
    let six = login_with_agent(&app, "alice@example.com", "six").await;
    logout(&app, &five.0, json!({"refresh": five.1, "scope": "global"}))
        .await
        .assert(205, "");
    app.refresh(&six.1).await.assert(401, BLACKLISTED);
    app.me(&six.0).await.assert(401, BLACKLISTED);
    app.refresh(&two.1).await.assert(401, BLACKLISTED);
    app.refresh(&five.1).await.assert(401, BLACKLISTED);
}

async fn the_session_list_shows_the_user_agent_and_marks_current(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.active_user("alice@example.com").await;
    let (_, older) = login_with_agent(&app, "alice@example.com", "Firefox/1").await;
    let long_agent = "A".repeat(300);
    let (access, newer) = login_with_agent(&app, "alice@example.com", &long_agent).await;

    let answer = sessions(&app, &access).await;

    assert_eq!(answer.status, 200, "{}", answer.text);
    let list = answer.body.as_array().expect("a list");
    assert_eq!(list.len(), 2);
    let keys: Vec<&String> = list[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["id", "created", "last_used", "expires", "user_agent", "ip", "current"]
    );
    assert_eq!(list[0]["id"], payload(&newer)["sid"], "newest first");
    assert_eq!(list[0]["user_agent"], json!("A".repeat(256)));
    assert_eq!(list[0]["current"], json!(true));
    assert_eq!(list[1]["id"], payload(&older)["sid"]);
    assert_eq!(list[1]["user_agent"], json!("Firefox/1"));
    assert_eq!(list[1]["current"], json!(false));
    assert_eq!(list[1]["ip"], json!("127.0.0.1"));
    assert!(list[1]["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(sessions(&app, "").await.status, 401);
}

/// A session records the client as the rate limits see it: the peer, unless a trusted header is configured.
async fn a_sessions_address_follows_the_trusted_client_ip_header_only_when_configured(db: Backend) {
    let login_from = |app: &TestApp, forwarded: &'static str| {
        let request = app
            .client
            .post(app.url("jwt/create/"))
            .header("X-Forwarded-For", forwarded)
            .json(&json!({ "email": "alice@example.com", "password": PASSWORD }));
        async move { Answer::read(request.send().await.expect("request sent")).await }
    };
    for (header, expected) in [(None, "127.0.0.1"), (Some("X-Forwarded-For"), "203.0.113.7")] {
        let Some(app) = spawn_app_with(db, |s| s.throttle.client_ip_header = header.map(str::to_owned)).await else {
            return;
        };
        app.active_user("alice@example.com").await;
        let login = login_from(&app, "203.0.113.7").await;
        assert_eq!(login.status, 200, "{}", login.text);
        let list = sessions(&app, login.body["access"].as_str().unwrap()).await;
        assert_eq!(list.body[0]["ip"], json!(expected), "header {header:?}");
    }
}

async fn sessions_are_revoked_by_id_and_others_ids_are_not_found(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (bob_access, bob_refresh) = app.tokens_for("bob@example.com").await;
    app.active_user("alice@example.com").await;
    let (access, refresh) = login_with_agent(&app, "alice@example.com", "one").await;
    let other = login_with_agent(&app, "alice@example.com", "two").await;
    let third = login_with_agent(&app, "alice@example.com", "three").await;
    let bob_sid = payload(&bob_refresh)["sid"].as_str().unwrap().to_owned();

    delete(&app, &format!("sessions/{bob_sid}/"), &access)
        .await
        .assert(404, r#"{"detail":"Not found."}"#);
    delete(&app, "sessions/no-such-session/", &access)
        .await
        .assert(404, r#"{"detail":"Not found."}"#);
    assert_eq!(app.me(&bob_access).await.status, 200);

    let other_sid = payload(&other.1)["sid"].as_str().unwrap().to_owned();
    delete(&app, &format!("sessions/{other_sid}/"), &access)
        .await
        .assert(204, "");
    app.refresh(&other.1).await.assert(401, BLACKLISTED);
    app.me(&other.0).await.assert(401, BLACKLISTED);

    delete(&app, "sessions/", &access).await.assert(204, "");
    app.refresh(&third.1).await.assert(401, BLACKLISTED);
    assert_eq!(app.refresh(&refresh).await.status, 200, "the current session stays");
    assert_eq!(sessions(&app, &access).await.body.as_array().unwrap().len(), 1);
}

async fn staff_see_and_end_a_users_sessions(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (alice_access, alice_refresh) = app.tokens_for("alice@example.com").await;
    let (admin_access, _) = app.tokens_for("admin@example.com").await;
    app.execute("UPDATE users SET is_staff = true WHERE email = 'admin@example.com'")
        .await;
    let sid = payload(&alice_refresh)["sid"].as_str().unwrap().to_owned();

    app.send(|c| c.get(app.url("users/2/sessions/")).bearer_auth(&alice_access))
        .await
        .assert(
            403,
            r#"{"detail":"You do not have permission to perform this action."}"#,
        );
    let listed = app
        .send(|c| c.get(app.url("users/1/sessions/")).bearer_auth(&admin_access))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body[0]["id"], json!(sid));
    assert_eq!(listed.body[0]["current"], json!(false));
    app.send(|c| c.get(app.url("users/99/sessions/")).bearer_auth(&admin_access))
        .await
        .assert(404, r#"{"detail":"No User matches the given query."}"#);
    delete(&app, &format!("users/2/sessions/{sid}/"), &admin_access)
        .await
        .assert(404, r#"{"detail":"Not found."}"#);

    delete(&app, &format!("users/1/sessions/{sid}/"), &admin_access)
        .await
        .assert(204, "");

    app.me(&alice_access).await.assert(401, BLACKLISTED);
    app.refresh(&alice_refresh).await.assert(401, BLACKLISTED);
}

async fn a_password_change_kills_every_access_token_unless_the_check_is_off(db: Backend) {
    for check in [true, false] {
        let Some(app) = spawn_app_with(db, |s| s.sessions.check_access_token_session = check).await else {
            return;
        };
        let (access, _) = app.tokens_for("alice@example.com").await;
        let (other_access, _) = login_with_agent(&app, "alice@example.com", "other").await;
        let change = json!({"current_password": PASSWORD, "new_password": "N3w-Horse-Battery-42"});
        app.post("users/set_password/", &change, Some(&access))
            .await
            .assert(204, "");

        let expected = if check { 401 } else { 200 };
        assert_eq!(app.me(&other_access).await.status, expected, "check {check}");
        assert_eq!(app.me(&access).await.status, expected, "check {check}");
    }
}

async fn a_token_without_sid_refreshes_into_a_session_of_its_own(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.active_user("alice@example.com").await;
    let minted = sign(&refresh_claims(1));
    let access_without_sid = sign(&crate::tokens::access_claims(1));
    assert_eq!(app.me(&access_without_sid).await.status, 200, "checked as before");

    let (access, child) = rotate(&app, &minted).await;

    let sid = payload(&child)["sid"].clone();
    assert!(sid.is_string(), "{}", payload(&child));
    assert_eq!(payload(&access)["sid"], sid);
    let listed = sessions(&app, &access).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1, "{}", listed.text);
    assert_eq!(listed.body[0]["id"], sid);
    assert_eq!(listed.body[0]["current"], json!(true));
    let (_, again) = rotate(&app, &minted).await;
    assert_eq!(again, child, "the reuse rules apply to it too");
}

async fn two_instances_agree_on_every_revocation(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (second, _stop) = serve(test_settings(&app.database_url, app.mail.port)).await;
    let on_second = |path: &str| format!("{second}/api/auth/{path}");
    let (access, refresh) = app.tokens_for("alice@example.com").await;

    let answer = app
        .send(|c| c.post(on_second("jwt/refresh/")).json(&json!({ "refresh": refresh })))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let (new_access, child) = pair(&answer);
    assert_eq!(
        rotate(&app, &refresh).await.1,
        child,
        "the first instance hands out the same child"
    );

    let other = login_with_agent(&app, "alice@example.com", "two").await;
    let answer = app
        .send(|c| {
            c.post(on_second("jwt/logout/"))
                .bearer_auth(&new_access)
                .json(&json!({ "refresh": child, "scope": "global" }))
        })
        .await;
    answer.assert(205, "");
    for token in [&access, &new_access, &other.0] {
        app.me(token).await.assert(401, BLACKLISTED);
    }
    app.refresh(&other.1).await.assert(401, BLACKLISTED);
    app.refresh(&child).await.assert(401, BLACKLISTED);
}

/// Refreshes that arrive together are written together (one statement per batch on PostgreSQL):
/// two instances refreshing six sessions' tokens at once, each token on both, rotate each token once,
/// and both callers of a token get its one child.
async fn two_instances_refreshing_many_tokens_at_once_rotate_each_once(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (second, _stop) = serve(test_settings(&app.database_url, app.mail.port)).await;
    let on_second = format!("{second}/api/auth/jwt/refresh/");
    let mut refreshes = Vec::new();
    for email in ["alice@example.com", "bob@example.com"] {
        refreshes.push(app.tokens_for(email).await.1);
        for agent in ["two", "three"] {
            refreshes.push(login_with_agent(&app, email, agent).await.1);
        }
    }

    let requests = refreshes.iter().flat_map(|refresh| {
        [app.url("jwt/refresh/"), on_second.clone()].map(|url| {
            let body = json!({ "refresh": refresh });
            app.send(move |c| c.post(url).json(&body))
        })
    });
    let answers = futures::future::join_all(requests).await;

    for answer in &answers {
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    let children: Vec<&str> = answers.iter().map(|a| a.body["refresh"].as_str().unwrap()).collect();
    for (n, pair) in children.chunks(2).enumerate() {
        assert_eq!(pair[0], pair[1], "both callers of token {n} get its one child");
        assert_eq!(payload(pair[0])["sid"], payload(&refreshes[n])["sid"]);
    }
    let distinct: std::collections::HashSet<&&str> = children.iter().collect();
    assert_eq!(distinct.len(), refreshes.len());
    assert_eq!(app.scalar("SELECT count(*) FROM outstanding_tokens").await, 12);
    assert_eq!(app.scalar("SELECT count(*) FROM blacklisted_tokens").await, 6);
}

async fn the_simplejwt_reference_accepts_our_tokens_and_we_refresh_its_own(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    let (access, refresh) = app.tokens_for("alice@example.com").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = dir.path().join("reference.sqlite3");
    let env = [
        ("SECRET_KEY", crate::helpers::SECRET_KEY),
        ("SQLITE_PATH", sqlite.to_str().unwrap()),
    ];
    crate::reference::manage(&["migrate", "--verbosity", "0"], &env);
    let code = format!(
        "from rest_framework_simplejwt.tokens import AccessToken, RefreshToken\n\
         from rest_framework_simplejwt.authentication import JWTAuthentication\n\
         a = AccessToken('{access}')\n\
         r = RefreshToken('{refresh}')\n\
         JWTAuthentication().get_validated_token('{access}')\n\
         print('accepted', a['user_id'], a['sid'] == r['sid'])\n\
         t = RefreshToken()\n\
         t['user_id'] = '1'\n\
         print('minted', t)"
    );
    let printed = crate::reference::python(&code, &env);
    let server = crate::reference::ReferenceServer::start(&env).await;
    for token in [&access, &refresh] {
        let verified = app
            .send(|c| {
                c.post(format!("{}/api/auth/jwt/verify/", server.address))
                    .json(&json!({ "token": token }))
            })
            .await;
        verified.assert(200, "{}");
    }
    drop(server);

    assert!(printed.contains("accepted 1 True"), "{printed}");
    let minted = printed
        .lines()
        .find_map(|l| l.strip_prefix("minted "))
        .unwrap_or_else(|| panic!("{printed}"));
    assert!(payload(minted).get("sid").is_none());
    let (_, child) = rotate(&app, minted).await;
    assert!(payload(&child)["sid"].is_string());
}

crate::on_both_databases!(
    parallel_refreshes_of_one_token_all_get_the_same_child,
    a_parent_replayed_long_after_gets_the_same_child_back,
    an_older_token_within_the_interval_gets_the_live_token,
    a_grandparent_replayed_after_the_interval_revokes_only_its_session,
    reuse_detection_off_gives_simplejwts_answers,
    logout_scopes_end_this_other_or_all_sessions,
    the_session_list_shows_the_user_agent_and_marks_current,
    a_sessions_address_follows_the_trusted_client_ip_header_only_when_configured,
    sessions_are_revoked_by_id_and_others_ids_are_not_found,
    staff_see_and_end_a_users_sessions,
    a_password_change_kills_every_access_token_unless_the_check_is_off,
    a_token_without_sid_refreshes_into_a_session_of_its_own,
    two_instances_agree_on_every_revocation,
    two_instances_refreshing_many_tokens_at_once_rotate_each_once,
    the_simplejwt_reference_accepts_our_tokens_and_we_refresh_its_own,
);
