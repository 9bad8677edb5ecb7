//! Browser mode in a real, headless Chromium: the demo page logs in, survives a reload and logs
//! out without JavaScript ever seeing the refresh token, and pages on other origins cannot use the
//! victim's cookies while a listed origin can. SQLite only: what is tested here is the browser's
//! side (cookie flags, SameSite, CORS with credentials); both databases run the HTTP-level tests in
//! `cookies`.

mod driver;
mod second_origin;

use fantoccini::Client;
use imhotep::config::{SameSite, Settings};
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, spawn_app_with};
use driver::{click, cookies_for, fill, run_script, wait_for_text};
use second_origin::SecondOrigin;

const EMAIL: &str = "alice@example.com";

/// Browser mode with the demo page, auto-login at registration, and plain HTTP cookies (the test
/// servers have no TLS); `allowed` origins may call with credentials.
fn demo_settings(settings: &mut Settings, same_site: SameSite, allowed: Vec<String>) {
    settings.cookies.jwt_auth_refresh_cookie = Some("refresh".into());
    settings.cookies.jwt_auth_cookie = Some("access".into());
    settings.cookies.demo_page = true;
    settings.cookies.jwt_auth_samesite = same_site;
    // SameSite=None needs Secure; Chromium keeps Secure cookies from http://127.0.0.1 (a
    // potentially trustworthy origin), so both variants run over plain HTTP.
    settings.cookies.jwt_auth_secure = Some(same_site == SameSite::None);
    settings.djoser.send_activation_email = false;
    settings.djoser.register_returns_tokens = true;
    settings.cors.allowed_origins = allowed;
    settings.cors.allow_credentials = true;
    // A replayed rotated token is then always refused, and the counts of blacklisted tokens below
    // tell every use of a token apart.
    settings.sessions.reuse_detection = false;
}

fn demo(app: &TestApp) -> String {
    app.url("demo/")
}

/// The refresh and access cookies the browser holds for the API (`None` when absent).
async fn browser_cookies(client: &Client, app: &TestApp) -> (Option<(String, bool)>, Option<(String, bool)>) {
    let cookies = cookies_for(client, &app.url("jwt/")).await;
    let find = |name: &str| {
        cookies
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, value, http_only)| (value.clone(), *http_only))
    };
    (find("refresh"), find("access"))
}

/// Registers through the demo page's form and waits until it shows the account.
async fn register_on_demo(client: &Client, app: &TestApp) {
    client.goto(&demo(app)).await.expect("demo page");
    wait_for_text(client, "#status", |s| s == "Logged out").await;
    fill(client, "#register input[name=email]", EMAIL).await;
    fill(client, "#register input[name=password]", PASSWORD).await;
    click(client, "#register button").await;
    wait_for_text(client, "#status", |s| s == format!("Logged in as {EMAIL}")).await;
}

async fn blacklisted(app: &TestApp) -> i64 {
    app.scalar("SELECT count(*) FROM blacklisted_tokens").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_page_logs_in_reloads_and_logs_out_without_seeing_the_refresh_token() {
    let Some(browser) = driver::start("the_demo_page_logs_in_reloads_and_logs_out").await else {
        return;
    };
    let app = spawn_app_with(Backend::Sqlite, |s| demo_settings(s, SameSite::Lax, vec![]))
        .await
        .expect("sqlite app");
    browser
        .run(move |client| async move {
            register_on_demo(&client, &app).await;
            let me = driver::text(&client, "#me").await;
            assert!(me.contains(EMAIL), "{me}");
            // JavaScript on the demo page sees no token: the access cookie (path /) is HttpOnly too.
            let visible = client.execute("return document.cookie", vec![]).await.unwrap();
            assert_eq!(visible, json!(""));
            let (refresh, access) = browser_cookies(&client, &app).await;
            let (first, http_only) = refresh.expect("the refresh cookie");
            assert!(http_only && access.is_some_and(|(_, http_only)| http_only));
            // Not even a script on a page under the cookie's path can read it.
            let visible = client.execute("return document.cookie", vec![]).await.unwrap();
            assert!(!visible.as_str().unwrap().contains(&first), "{visible}");

            // A reload keeps the session: the page refreshes through the cookie, which rotates.
            client.goto(&demo(&app)).await.unwrap();
            wait_for_text(&client, "#status", |s| s == format!("Logged in as {EMAIL}")).await;
            client.refresh().await.unwrap();
            wait_for_text(&client, "#status", |s| s == format!("Logged in as {EMAIL}")).await;
            let (refresh, _) = browser_cookies(&client, &app).await;
            let (rotated, _) = refresh.expect("a rotated refresh cookie");
            assert_ne!(rotated, first);
            assert_eq!(
                app.refresh(&first).await.status,
                401,
                "the first token was rotated away"
            );

            // Logout clears both cookies and ends the session.
            client.goto(&demo(&app)).await.unwrap();
            wait_for_text(&client, "#status", |s| s.starts_with("Logged in")).await;
            let before = blacklisted(&app).await;
            click(&client, "#logout").await;
            wait_for_text(&client, "#answer", |s| s.contains("jwt/logout/ → 205")).await;
            let (refresh, access) = browser_cookies(&client, &app).await;
            assert!(refresh.is_none() && access.is_none(), "{refresh:?} {access:?}");
            assert_eq!(blacklisted(&app).await, before + 1);
            client.goto(&demo(&app)).await.unwrap();
            wait_for_text(&client, "#status", |s| s == "Logged out").await;

            // And the login form brings the session back.
            fill(&client, "#login input[name=email]", EMAIL).await;
            fill(&client, "#login input[name=password]", PASSWORD).await;
            click(&client, "#login button").await;
            wait_for_text(&client, "#status", |s| s == format!("Logged in as {EMAIL}")).await;
        })
        .await;
}

/// The attacks a page on another origin can make with the victim's cookies: a credentialed JSON
/// `fetch` (preflighted) and a bodiless `no-cors` POST (a "simple" request, never preflighted) to
/// refresh and to log out. Each answers what the page could observe.
const ATTACKS: &str = r#"
const [api] = args;
const outcomes = [];
for (const path of ["jwt/refresh/", "jwt/logout/"]) {
  try {
    const response = await fetch(api + path, {
      method: "POST", credentials: "include", body: "{}",
      headers: { "Content-Type": "application/json", "X-Requested-With": "fetch" },
    });
    outcomes.push(`json ${path} ${response.status}`);
  } catch (error) {
    outcomes.push(`json ${path} blocked`);
  }
  try {
    const response = await fetch(api + path, { method: "POST", credentials: "include", mode: "no-cors" });
    outcomes.push(`simple ${path} ${response.type}`);
  } catch (error) {
    outcomes.push(`simple ${path} blocked`);
  }
}
done(outcomes);
"#;

/// A credentialed JSON refresh, as an SPA on an allowed origin makes it: `status body`.
const REFRESH: &str = r#"
const [api] = args;
fetch(api + "jwt/refresh/", {
  method: "POST", credentials: "include", body: "{}",
  headers: { "Content-Type": "application/json", "X-Requested-With": "fetch" },
}).then(async (response) => done(`${response.status} ${await response.text()}`))
  .catch((error) => done(`blocked ${error}`));
"#;

/// From the page at `origin`, runs `script` against the API.
async fn from_page(client: &Client, origin: &str, app: &TestApp, script: &str) -> Value {
    client.goto(&format!("{origin}/")).await.expect("second origin page");
    run_script(client, script, vec![json!(app.url(""))]).await
}

/// Victim logged in on the demo page; pages on two untrusted origins (same site, other site) try
/// every attack; then an allowed origin refreshes with the cookie.
async fn other_origins_cannot_use_the_cookie(same_site: SameSite) {
    let name = format!("other_origins_cannot_use_the_cookie_{same_site:?}");
    let Some(browser) = driver::start(&name).await else {
        return;
    };
    let attacker = SecondOrigin::start().await;
    let friend = SecondOrigin::start().await;
    let allowed = vec![friend.same_site(), friend.cross_site()];
    let app = spawn_app_with(Backend::Sqlite, |s| demo_settings(s, same_site, allowed))
        .await
        .expect("sqlite app");
    browser
        .run(move |client| async move {
            register_on_demo(&client, &app).await;
            let (refresh, _) = browser_cookies(&client, &app).await;
            let (victim, _) = refresh.expect("the victim's refresh cookie");
            assert_eq!(blacklisted(&app).await, 0);

            for origin in [attacker.same_site(), attacker.cross_site()] {
                let outcomes = from_page(&client, &origin, &app, ATTACKS).await;
                // The JSON calls die at the preflight; the simple ones reach the server, which
                // refuses them (opaque to the page).
                assert_eq!(
                    outcomes,
                    json!([
                        "json jwt/refresh/ blocked",
                        "simple jwt/refresh/ opaque",
                        "json jwt/logout/ blocked",
                        "simple jwt/logout/ opaque"
                    ]),
                    "{origin}"
                );
            }
            assert_eq!(blacklisted(&app).await, 0, "no attack rotated or ended the session");
            let (refresh, _) = browser_cookies(&client, &app).await;
            assert_eq!(
                refresh.map(|(value, _)| value),
                Some(victim.clone()),
                "the cookie is untouched"
            );

            // A listed origin on the same site gets the cookie sent and may use it.
            let answer = from_page(&client, &friend.same_site(), &app, REFRESH).await;
            let answer = answer.as_str().unwrap().to_owned();
            assert!(answer.starts_with("200 "), "{answer}");
            assert_eq!(blacklisted(&app).await, 1, "the victim's token was rotated");
            // A listed origin on another site: only SameSite=None lets the browser send the cookie.
            let answer = from_page(&client, &friend.cross_site(), &app, REFRESH).await;
            let answer = answer.as_str().unwrap().to_owned();
            match same_site {
                SameSite::None => {
                    assert!(answer.starts_with("200 "), "{answer}");
                    assert_eq!(blacklisted(&app).await, 2);
                }
                _ => {
                    assert_eq!(answer, r#"400 {"refresh":["This field is required."]}"#);
                    assert_eq!(blacklisted(&app).await, 1);
                }
            }
            drop((attacker, friend));
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_origins_cannot_use_the_cookie_with_samesite_lax() {
    other_origins_cannot_use_the_cookie(SameSite::Lax).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_origins_cannot_use_the_cookie_with_samesite_none() {
    other_origins_cannot_use_the_cookie(SameSite::None).await;
}
