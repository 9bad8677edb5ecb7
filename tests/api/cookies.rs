//! Browser mode over plain HTTP (`[cookies]`): which cookies each endpoint sets or clears, the
//! refresh and access cookies standing in for the body and the header, and the CSRF rule every
//! cookie-authenticated request must pass. The real browser's view is in `browser`.

use imhotep::config::Settings;
use serde_json::{Value, json};

use crate::helpers::{Answer, Backend, PASSWORD, TestApp, spawn_app, spawn_app_with};

const EVIL: &str = "https://evil.test";

/// Browser mode with both cookies. Reuse detection is off so that a replayed rotated token is
/// always refused (with it, a replay within `sessions.reuse_interval` is answered the live token).
fn browser_mode(settings: &mut Settings) {
    settings.cookies.jwt_auth_refresh_cookie = Some("refresh".into());
    settings.cookies.jwt_auth_cookie = Some("access".into());
    settings.sessions.reuse_detection = false;
}

/// The `Set-Cookie` lines of an answer.
fn set_cookies(answer: &Answer) -> Vec<String> {
    answer
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

/// The value `Set-Cookie` gives cookie `name` (`""` when it clears it).
fn cookie(answer: &Answer, name: &str) -> Option<String> {
    set_cookies(answer).iter().find_map(|line| {
        let (pair, _) = line.split_once(';').unwrap_or((line, ""));
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.to_owned())
    })
}

/// Whether the answer deletes both cookies.
fn clears_both(answer: &Answer) -> bool {
    let lines = set_cookies(answer);
    ["access=;", "refresh=;"]
        .iter()
        .all(|start| lines.iter().any(|l| l.starts_with(start) && l.contains("Max-Age=0")))
}

/// A POST carrying `cookies`, a JSON body and the given extra headers.
async fn post_with(app: &TestApp, path: &str, cookies: &str, body: &Value, headers: &[(&str, &str)]) -> Answer {
    app.send(|client| {
        let mut request = client.post(app.url(path)).header("Cookie", cookies).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
    })
    .await
}

/// An active user logged in through browser mode: the login answer.
async fn browser_login(app: &TestApp) -> Answer {
    app.active_user("alice@example.com").await;
    app.login("alice@example.com", PASSWORD).await
}

async fn cookie_mode_is_off_by_default(db: Backend) {
    let Some(app) = spawn_app(db).await else { return };
    app.active_user("alice@example.com").await;
    let login = app.login("alice@example.com", PASSWORD).await;
    assert!(set_cookies(&login).is_empty());
    assert!(login.body["refresh"].as_str().is_some_and(|token| !token.is_empty()));
    assert_eq!(app.send(|c| c.get(app.url("demo/"))).await.status, 404);
}

async fn login_sets_httponly_cookies_and_blanks_the_refresh_token(db: Backend) {
    let Some(app) = spawn_app_with(db, |settings| {
        browser_mode(settings);
        settings.cookies.jwt_auth_return_expiration = true;
    })
    .await
    else {
        return;
    };
    let login = browser_login(&app).await;
    assert_eq!(login.status, 200, "{}", login.text);
    let lines = set_cookies(&login);
    let refresh = cookie(&login, "refresh").unwrap();
    let access = cookie(&login, "access").unwrap();
    assert_eq!(
        lines,
        [
            format!("access={access}; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=3600"),
            format!("refresh={refresh}; HttpOnly; SameSite=Lax; Secure; Path=/api/auth/jwt/; Max-Age=604800"),
        ]
    );
    assert_eq!(login.body["refresh"], "");
    assert_eq!(login.body["access"], access.as_str());
    for field in ["access_expiration", "refresh_expiration"] {
        let at = login.body[field].as_str().unwrap();
        chrono::DateTime::parse_from_rfc3339(at).unwrap_or_else(|_| panic!("{field}: {at}"));
    }
    // The cookie's token is a live refresh token.
    assert_eq!(app.refresh(&refresh).await.status, 200);
}

async fn refresh_reads_the_cookie_when_the_body_has_no_token(db: Backend) {
    let Some(app) = spawn_app_with(db, browser_mode).await else {
        return;
    };
    let login = browser_login(&app).await;
    let refresh = cookie(&login, "refresh").unwrap();
    let jar = format!("refresh={refresh}");
    let own = app.address.clone();
    let answer = post_with(&app, "jwt/refresh/", &jar, &json!({}), &[("Origin", &own)]).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let rotated = cookie(&answer, "refresh").unwrap();
    assert!(!rotated.is_empty() && rotated != refresh);
    assert!(cookie(&answer, "access").is_some_and(|access| !access.is_empty()));
    assert_eq!(answer.body["refresh"], "");
    // The old cookie was blacklisted by the rotation; `"refresh": ""` or null still means "use the cookie".
    for body in [json!({}), json!({"refresh": ""}), json!({"refresh": null})] {
        post_with(&app, "jwt/refresh/", &jar, &body, &[("Origin", &own)])
            .await
            .assert(401, r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#);
    }
    // A token in the body wins over the cookie, and then no CSRF rule applies (no cookie is used).
    let dead_jar = format!("refresh={rotated}x");
    let body = json!({ "refresh": rotated });
    let answer = post_with(&app, "jwt/refresh/", &dead_jar, &body, &[("Origin", EVIL)]).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    // Neither body nor cookie: Djoser's answer.
    app.post("jwt/refresh/", &json!({}), None)
        .await
        .assert(400, r#"{"refresh":["This field is required."]}"#);
}

async fn a_cookie_is_only_used_by_a_trusted_origin_in_a_preflighted_shape(db: Backend) {
    let Some(app) = spawn_app_with(db, |settings| {
        browser_mode(settings);
        settings.cors.allowed_origins = vec!["http://localhost:3000".into()];
    })
    .await
    else {
        return;
    };
    let login = browser_login(&app).await;
    let refresh = cookie(&login, "refresh").unwrap();
    let jar = format!("refresh={refresh}");
    let own = app.address.clone();
    let origin_failure = |origin: &str| {
        format!(r#"{{"detail":"CSRF Failed: Origin checking failed - {origin} does not match any trusted origins."}}"#)
    };
    post_with(&app, "jwt/refresh/", &jar, &json!({}), &[("Origin", EVIL)])
        .await
        .assert(403, &origin_failure(EVIL));
    post_with(
        &app,
        "jwt/logout/",
        &jar,
        &json!({}),
        &[("Origin", "http://localhost:3001")],
    )
    .await
    .assert(403, &origin_failure("http://localhost:3001"));
    post_with(&app, "jwt/refresh/", &jar, &json!({}), &[]).await.assert(
        403,
        r#"{"detail":"CSRF Failed: Referer checking failed - no Referer."}"#,
    );
    post_with(&app, "jwt/blacklist/", &jar, &json!({}), &[("Referer", "https://evil.test/page")])
        .await
        .assert(
            403,
            r#"{"detail":"CSRF Failed: Referer checking failed - https://evil.test/page does not match any trusted origins."}"#,
        );
    // A simple request (a form, text/plain) from the server's own origin is refused too.
    let simple = app
        .send(|c| {
            c.post(app.url("jwt/refresh/"))
                .header("Cookie", &jar)
                .header("Origin", &own)
                .header("Content-Type", "text/plain")
        })
        .await;
    assert_eq!(simple.status, 403, "{}", simple.text);
    assert!(simple.text.contains("X-Requested-With"), "{}", simple.text);
    // None of those used the token: it still refreshes, from the allowed origin...
    let answer = post_with(
        &app,
        "jwt/refresh/",
        &jar,
        &json!({}),
        &[("Origin", "http://localhost:3000")],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    // ...or with a bodiless X-Requested-With request whose Referer is the server's own page.
    let jar = format!("refresh={}", cookie(&answer, "refresh").unwrap());
    let answer = app
        .send(|c| {
            c.post(app.url("jwt/refresh/"))
                .header("Cookie", &jar)
                .header("X-Requested-With", "fetch")
                .header("Referer", format!("{own}/api/auth/demo/"))
        })
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}

async fn the_access_cookie_authenticates_after_the_authorization_header(db: Backend) {
    let Some(app) = spawn_app_with(db, browser_mode).await else {
        return;
    };
    let login = browser_login(&app).await;
    let access = cookie(&login, "access").unwrap();
    let jar = format!("access={access}");
    let own = app.address.clone();
    let me = |headers: Vec<(&'static str, String)>| {
        let app = &app;
        let jar = jar.clone();
        async move {
            app.send(|c| {
                let mut request = c.get(app.url("users/me/")).header("Cookie", jar);
                for (name, value) in headers {
                    request = request.header(name, value);
                }
                request
            })
            .await
        }
    };
    me(vec![("X-Requested-With", "fetch".into()), ("Origin", own.clone())])
        .await
        .assert(200, r#"{"id":1,"email":"alice@example.com"}"#);
    let plain = me(vec![("Origin", own.clone())]).await;
    assert_eq!(plain.status, 403, "a simple GET: {}", plain.text);
    let foreign = me(vec![("X-Requested-With", "fetch".into()), ("Origin", EVIL.into())]).await;
    assert_eq!(foreign.status, 403, "{}", foreign.text);
    // The header is read first: a bad bearer token is a 401 whatever the cookie.
    let bad_header = me(vec![
        ("X-Requested-With", "fetch".into()),
        ("Origin", own.clone()),
        ("Authorization", "Bearer nonsense".into()),
    ])
    .await;
    assert_eq!(bad_header.status, 401, "{}", bad_header.text);
    // Without a cookie or header: anonymous, as before.
    assert_eq!(app.send(|c| c.get(app.url("users/me/"))).await.status, 401);
}

async fn logout_and_blacklist_clear_the_cookies_even_for_a_dead_token(db: Backend) {
    let Some(app) = spawn_app_with(db, browser_mode).await else {
        return;
    };
    let login = browser_login(&app).await;
    let (access, refresh) = (cookie(&login, "access").unwrap(), cookie(&login, "refresh").unwrap());
    let jar = format!("access={access}; refresh={refresh}");
    let own = app.address.clone();
    let logout = post_with(&app, "jwt/logout/", &jar, &json!({}), &[("Origin", &own)]).await;
    assert_eq!(logout.status, 205, "{}", logout.text);
    assert!(clears_both(&logout), "{:?}", set_cookies(&logout));
    app.refresh(&refresh)
        .await
        .assert(401, r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#);
    // The token is dead now: blacklist says so, and still clears the cookies.
    let again = post_with(&app, "jwt/blacklist/", &jar, &json!({}), &[("Origin", &own)]).await;
    assert_eq!(again.status, 401, "{}", again.text);
    assert!(clears_both(&again), "{:?}", set_cookies(&again));
    // A fresh login is blacklisted through its cookie.
    let login = app.login("alice@example.com", PASSWORD).await;
    let refresh = cookie(&login, "refresh").unwrap();
    let blacklist = post_with(
        &app,
        "jwt/blacklist/",
        &format!("refresh={refresh}"),
        &json!({}),
        &[("Origin", &own)],
    )
    .await;
    blacklist.assert(200, "{}");
    assert!(clears_both(&blacklist));
    assert_eq!(app.refresh(&refresh).await.status, 401);
}

async fn password_change_and_account_deletion_clear_the_cookies(db: Backend) {
    let Some(app) = spawn_app_with(db, browser_mode).await else {
        return;
    };
    let login = browser_login(&app).await;
    let access = login.body["access"].as_str().unwrap().to_owned();
    let refused = app
        .post(
            "users/set_password/",
            &json!({"current_password": "wrong", "new_password": "An0ther-Long-Pass"}),
            Some(&access),
        )
        .await;
    assert_eq!(refused.status, 400);
    assert!(set_cookies(&refused).is_empty(), "a refused change keeps the cookies");
    let changed = app
        .post(
            "users/set_password/",
            &json!({"current_password": PASSWORD, "new_password": "An0ther-Long-Pass"}),
            Some(&access),
        )
        .await;
    assert_eq!(changed.status, 204, "{}", changed.text);
    assert!(clears_both(&changed), "{:?}", set_cookies(&changed));

    app.post("users/reset_password/", &json!({"email": "alice@example.com"}), None)
        .await
        .assert(204, "");
    let (uid, token) = app.mail.next().await.link("reset-password");
    let reset = app
        .post(
            "users/reset_password_confirm/",
            &json!({"uid": uid, "token": token, "new_password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(reset.status, 204, "{}", reset.text);
    assert!(clears_both(&reset), "{:?}", set_cookies(&reset));

    let access = app.login("alice@example.com", PASSWORD).await.body["access"]
        .as_str()
        .unwrap()
        .to_owned();
    let deleted = app
        .send(|c| {
            c.delete(app.url("users/me/"))
                .bearer_auth(&access)
                .json(&json!({"current_password": PASSWORD}))
        })
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert!(clears_both(&deleted), "{:?}", set_cookies(&deleted));
}

async fn registration_with_auto_login_sets_the_cookies(db: Backend) {
    let Some(app) = spawn_app_with(db, |settings| {
        browser_mode(settings);
        settings.djoser.send_activation_email = false;
        settings.djoser.register_returns_tokens = true;
    })
    .await
    else {
        return;
    };
    let created = app.register("alice@example.com", PASSWORD).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["refresh"], "");
    assert_eq!(created.body["user"]["email"], "alice@example.com");
    let refresh = cookie(&created, "refresh").unwrap();
    assert_eq!(app.refresh(&refresh).await.status, 200);
}

async fn credentials_and_x_requested_with_are_offered_to_allowed_origins_only(db: Backend) {
    let Some(app) = spawn_app_with(db, |settings| {
        browser_mode(settings);
        settings.cors.allowed_origins = vec!["http://localhost:3000".into()];
        settings.cors.allow_credentials = true;
    })
    .await
    else {
        return;
    };
    let allowed = preflight(&app, "http://localhost:3000").await;
    assert_eq!(allowed.header("access-control-allow-credentials"), Some("true"));
    assert!(
        allowed
            .header("access-control-allow-headers")
            .is_some_and(|headers| headers.contains("x-requested-with")),
        "{:?}",
        allowed.headers
    );
    let other = preflight(&app, EVIL).await;
    assert_eq!(other.header("access-control-allow-credentials"), None);
    assert_eq!(other.header("access-control-allow-origin"), None);
}

async fn preflight(app: &TestApp, origin: &str) -> Answer {
    app.send(|c| {
        c.request(reqwest::Method::OPTIONS, app.url("jwt/refresh/"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type,x-requested-with")
    })
    .await
}

async fn the_demo_page_is_served_only_when_asked_for(db: Backend) {
    let Some(app) = spawn_app_with(db, |settings| {
        browser_mode(settings);
        settings.cookies.demo_page = true;
    })
    .await
    else {
        return;
    };
    let page = app.send(|c| c.get(app.url("demo/"))).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(page.text.contains("credentials: \"include\""));
    // Browser mode alone does not serve it.
    let Some(plain) = spawn_app_with(db, browser_mode).await else {
        return;
    };
    assert_eq!(plain.send(|c| c.get(plain.url("demo/"))).await.status, 404);
}

crate::on_both_databases!(
    cookie_mode_is_off_by_default,
    login_sets_httponly_cookies_and_blanks_the_refresh_token,
    refresh_reads_the_cookie_when_the_body_has_no_token,
    a_cookie_is_only_used_by_a_trusted_origin_in_a_preflighted_shape,
    the_access_cookie_authenticates_after_the_authorization_header,
    logout_and_blacklist_clear_the_cookies_even_for_a_dead_token,
    password_change_and_account_deletion_clear_the_cookies,
    registration_with_auto_login_sets_the_cookies,
    credentials_and_x_requested_with_are_offered_to_allowed_origins_only,
    the_demo_page_is_served_only_when_asked_for,
);
