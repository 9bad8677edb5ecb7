//! The shipped binary's logs, as an operator's log pipeline receives them: JSON lines that say which
//! request, route, method, status, latency and user each answer was for, and never a password, token,
//! e-mailed link, secret key or `Authorization` value, even at `RUST_LOG=debug`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::binary::{self, Server};
use crate::helpers::{PASSWORD, SECRET_KEY};
use crate::smtp::SmtpSink;

const SMTP_PASSWORD: &str = "smtp-Pa55word-for-the-log-test";

/// POSTs JSON to `/api/auth/<path>` with an optional bearer token: `(status, body)`.
async fn post(server: &Server, path: &str, body: Value, bearer: Option<&str>) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/auth/{path}", server.address))
        .json(&body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn text(body: &Value, key: &str) -> String {
    body[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {body}"))
        .to_owned()
}

/// The environment of a production server (`DEBUG=false`, debug logs) on `database_url`, mailing
/// through SMTP on `smtp_port`, followed by `extra`.
fn production<'a>(database_url: &'a str, smtp_port: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = binary::production(
        database_url,
        &[
            ("RUST_LOG", "debug"),
            ("EMAIL_HOST", "127.0.0.1"),
            ("EMAIL_PORT", smtp_port),
        ],
    );
    env.extend_from_slice(extra);
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_logs_requests_but_no_secret() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = binary::sqlite_url(&dir, "logs.db");
    let mail = SmtpSink::start().await;
    let smtp_port = mail.port.to_string();
    let server = Server::start(&production(
        &database_url,
        &smtp_port,
        &[
            ("EMAIL_HOST_USER", "mailer"),
            ("EMAIL_HOST_PASSWORD", SMTP_PASSWORD),
            ("DEFAULT_FROM_EMAIL", "noreply@example.com"),
            ("IMHOTEP_SESSIONS__REUSE_INTERVAL", "0s"),
        ],
    ))
    .await;

    let registration = json!({ "email": "ada@example.com", "password": PASSWORD, "re_password": PASSWORD });
    assert_eq!(post(&server, "users/", registration, None).await.0, StatusCode::CREATED);
    let (uid, token) = mail.next().await.link("activate");
    let activation = json!({ "uid": uid, "token": token });
    assert_eq!(
        post(&server, "users/activation/", activation, None).await.0,
        StatusCode::NO_CONTENT
    );
    mail.next().await;
    let wrong = json!({ "email": "ada@example.com", "password": "Wr0ng-Horse-Battery-7" });
    assert_eq!(
        post(&server, "jwt/create/", wrong, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let credentials = json!({ "email": "ada@example.com", "password": PASSWORD });
    let (status, login) = post(&server, "jwt/create/", credentials, None).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let (access, refresh) = (text(&login, "access"), text(&login, "refresh"));
    let me = reqwest::Client::new()
        .get(format!("{}/api/auth/users/me/", server.address))
        .bearer_auth(&access)
        .send()
        .await
        .expect("request sent");
    assert_eq!(me.status(), StatusCode::OK);
    let (status, rotated) = post(&server, "jwt/refresh/", json!({ "refresh": refresh }), None).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let (access2, refresh2) = (text(&rotated, "access"), text(&rotated, "refresh"));
    let change = json!({ "current_password": PASSWORD, "new_email": "ada@example.org" });
    let changing = post(&server, "users/set_email/", change, Some(&access2)).await;
    assert_eq!(changing.0, StatusCode::NO_CONTENT);
    let (first, second) = (mail.next().await, mail.next().await);
    let to_new = if first.data.contains("/set-email/") {
        first
    } else {
        second
    };
    let (change_uid, change_token) = to_new.link("set-email");
    let confirm = json!({ "uid": change_uid, "token": change_token });
    assert_eq!(
        post(&server, "users/set_email_confirm/", confirm, None).await.0,
        StatusCode::NO_CONTENT
    );
    let logout = post(&server, "jwt/logout/", json!({ "refresh": refresh2 }), Some(&access2)).await;
    assert_eq!(logout.0, StatusCode::RESET_CONTENT);
    // A second login (at the confirmed new address) whose grandparent refresh token is replayed after
    // the (zero) reuse interval: reuse, logged as a warning that names the session but no token.
    let credentials = json!({ "email": "ada@example.org", "password": PASSWORD });
    let (status, login2) = post(&server, "jwt/create/", credentials, None).await;
    assert_eq!(status, StatusCode::OK, "{login2}");
    let grandparent = text(&login2, "refresh");
    let (_, parent) = post(&server, "jwt/refresh/", json!({ "refresh": grandparent }), None).await;
    let parent = text(&parent, "refresh");
    let (_, live) = post(&server, "jwt/refresh/", json!({ "refresh": parent }), None).await;
    let live = text(&live, "refresh");
    let (status, _) = post(&server, "jwt/refresh/", json!({ "refresh": grandparent }), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A client-chosen request id that would forge log fields is replaced, never logged.
    let forged = reqwest::Client::new()
        .get(format!("{}/healthz", server.address))
        .header("x-request-id", "x\" status=500 user_id=\"forged-by-client")
        .send()
        .await
        .expect("request sent");
    assert_eq!(forged.status(), StatusCode::OK);

    let lines = server.stop();
    let log = lines.join("\n");
    let secrets = [
        ("password", PASSWORD.to_owned()),
        ("wrong password", "Wr0ng-Horse-Battery-7".to_owned()),
        ("SECRET_KEY", SECRET_KEY.to_owned()),
        ("SMTP password", SMTP_PASSWORD.to_owned()),
        ("activation token", token.clone()),
        ("activation uid/token", format!("{uid}/{token}")),
        ("e-mail change token", change_token),
        ("access token", access.clone()),
        ("refresh token", refresh),
        ("rotated access token", access2.clone()),
        ("rotated refresh token", refresh2),
        ("second login's refresh token", grandparent),
        ("its rotation", parent),
        ("its second rotation", live),
        ("Authorization value", format!("Bearer {access}")),
        ("Authorization value", format!("Bearer {access2}")),
        ("forged request id", "forged-by-client".to_owned()),
    ];
    for (what, secret) in &secrets {
        let hits: Vec<&String> = lines.iter().filter(|line| line.contains(secret.as_str())).collect();
        assert!(hits.is_empty(), "the {what} appears in the logs:\n{hits:#?}");
    }

    assert!(
        lines
            .iter()
            .any(|line| line.contains("session revoked") && line.contains("WARN")),
        "the reuse warning is logged:\n{log}"
    );
    let answers: Vec<Value> = lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["fields"]["message"] == "finished processing request")
        .collect();
    assert!(answers.len() >= 7, "one line per request expected:\n{log}");
    let me_line = answers
        .iter()
        .find(|event| event["span"]["route"] == "/api/auth/users/me/")
        .unwrap_or_else(|| panic!("no line for users/me/:\n{log}"));
    let span = &me_line["span"];
    assert_eq!(
        (&span["method"], &span["user_id"]),
        (&json!("GET"), &json!(1)),
        "{me_line}"
    );
    assert!(
        span["request_id"].as_str().is_some_and(|id| id.len() >= 32),
        "{me_line}"
    );
    assert_eq!(me_line["fields"]["status"], json!(200), "{me_line}");
    assert!(me_line["fields"]["latency"].is_string(), "{me_line}");
    assert!(
        answers.iter().all(|event| event["span"].get("path").is_none()),
        "paths (which can hold links) are not logged"
    );
}

/// The `Set-Cookie` value of cookie `name` in `response`.
fn set_cookie(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|line| line.strip_prefix(&format!("{name}=")))
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_mode_cookies_never_reach_the_logs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = binary::sqlite_url(&dir, "cookies.db");
    let server = Server::start(&production(
        &database_url,
        "1",
        &[
            ("IMHOTEP_DJOSER__SEND_ACTIVATION_EMAIL", "false"),
            ("IMHOTEP_COOKIES__JWT_AUTH_REFRESH_COOKIE", "refresh"),
            ("IMHOTEP_COOKIES__JWT_AUTH_COOKIE", "access"),
        ],
    ))
    .await;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}/api/auth/{path}", server.address);
    let registration = json!({ "email": "ada@example.com", "password": PASSWORD, "re_password": PASSWORD });
    assert_eq!(post(&server, "users/", registration, None).await.0, StatusCode::CREATED);
    let credentials = json!({ "email": "ada@example.com", "password": PASSWORD });
    let login = client.post(url("jwt/create/")).json(&credentials).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let (access, refresh) = (set_cookie(&login, "access"), set_cookie(&login, "refresh"));
    let own = server.address.clone();
    let refreshed = client
        .post(url("jwt/refresh/"))
        .header("Cookie", format!("refresh={refresh}"))
        .header("Origin", &own)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
    let (access2, refresh2) = (set_cookie(&refreshed, "access"), set_cookie(&refreshed, "refresh"));
    let me = client
        .get(url("users/me/"))
        .header("Cookie", format!("access={access2}"))
        .header("X-Requested-With", "fetch")
        .header("Origin", &own)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let refused = client
        .post(url("jwt/logout/"))
        .header("Cookie", format!("access={access2}; refresh={refresh2}"))
        .header("Origin", "https://evil.test")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let logout = client
        .post(url("jwt/logout/"))
        .header("Cookie", format!("access={access2}; refresh={refresh2}"))
        .header("Origin", &own)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::RESET_CONTENT);

    let lines = server.stop();
    for (what, secret) in [
        ("password", PASSWORD),
        ("access cookie", access.as_str()),
        ("refresh cookie", refresh.as_str()),
        ("rotated access cookie", access2.as_str()),
        ("rotated refresh cookie", refresh2.as_str()),
    ] {
        let hits: Vec<&String> = lines.iter().filter(|line| line.contains(secret)).collect();
        assert!(hits.is_empty(), "the {what} appears in the logs:\n{hits:#?}");
    }
    assert!(
        lines
            .iter()
            .any(|line| line.contains("/api/auth/jwt/logout/") && line.contains("403")),
        "the refused logout is logged:\n{}",
        lines.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_keys_never_reach_the_logs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = binary::sqlite_url(&dir, "keys.db");
    let (rsa, ed) = (crate::keys::fixture("rsa.pem"), crate::keys::fixture("ed25519.pem"));
    let list = json!([
        { "kid": "rsa", "algorithm": "RS256", "use": "sign", "signing_key": rsa },
        { "kid": "ed", "algorithm": "EdDSA", "use": "verify", "signing_key": ed },
    ])
    .to_string();
    let server = Server::start(&production(
        &database_url,
        "1",
        &[
            ("IMHOTEP_DJOSER__SEND_ACTIVATION_EMAIL", "false"),
            ("IMHOTEP_KEYS__LIST", &list),
        ],
    ))
    .await;
    let registration = json!({ "email": "ada@example.com", "password": PASSWORD, "re_password": PASSWORD });
    assert_eq!(post(&server, "users/", registration, None).await.0, StatusCode::CREATED);
    let credentials = json!({ "email": "ada@example.com", "password": PASSWORD });
    let (status, login) = post(&server, "jwt/create/", credentials, None).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let (status, _) = post(
        &server,
        "jwt/refresh/",
        json!({ "refresh": text(&login, "refresh") }),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let lines = server.stop();
    for (what, pem) in [("RSA private key", &rsa), ("Ed25519 private key", &ed)] {
        for part in pem.lines().filter(|line| !line.starts_with("-----")) {
            let hits: Vec<&String> = lines.iter().filter(|line| line.contains(part)).collect();
            assert!(hits.is_empty(), "the {what} appears in the logs:\n{hits:#?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_logged_with_its_group_and_masked_client_and_account_never_the_password() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = binary::sqlite_url(&dir, "logs.db");
    let server = Server::start(&production(
        &database_url,
        "1",
        &[
            ("IMHOTEP_THROTTLE__FAILURES_BEFORE_BACKOFF", "1"),
            ("IMHOTEP_THROTTLE__LOGIN", "2/m"),
        ],
    ))
    .await;
    let guess = json!({ "email": "grace@example.com", "password": "Wr0ng-Horse-Battery-7" });
    assert_eq!(
        post(&server, "jwt/create/", guess.clone(), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let right = json!({ "email": "grace@example.com", "password": PASSWORD });
    assert_eq!(
        post(&server, "jwt/create/", right, None).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        post(&server, "jwt/create/", guess, None).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    let reset = json!({ "email": "grace@example.com" });
    assert_eq!(
        post(&server, "users/reset_password/", reset.clone(), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        post(&server, "users/reset_password/", reset, None).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );

    let lines = server.stop();
    for secret in [PASSWORD, "Wr0ng-Horse-Battery-7"] {
        assert!(
            !lines.iter().any(|line| line.contains(secret)),
            "a password is in the logs"
        );
    }
    let refusals: Vec<Value> = lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["level"] == "WARN" && event["fields"].get("group").is_some())
        .collect();
    let groups: Vec<&str> = refusals.iter().filter_map(|e| e["fields"]["group"].as_str()).collect();
    assert_eq!(groups, ["login_backoff", "login", "email_recipient"], "{refusals:#?}");
    for refusal in &refusals {
        assert_eq!(refusal["fields"]["client"], "127.0.x.x", "{refusal}");
        assert!(!refusal.to_string().contains("grace@"), "{refusal}");
    }
    assert_eq!(refusals[0]["fields"]["account"], "g***@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_factor_secrets_never_reach_the_logs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = binary::sqlite_url(&dir, "mfa.db");
    let mail = SmtpSink::start().await;
    let smtp_port = mail.port.to_string();
    let server = Server::start(&production(
        &database_url,
        &smtp_port,
        &[
            ("DEFAULT_FROM_EMAIL", "noreply@example.com"),
            ("IMHOTEP_DJOSER__SEND_ACTIVATION_EMAIL", "false"),
            ("IMHOTEP_DJOSER__SEND_CONFIRMATION_EMAIL", "false"),
        ],
    ))
    .await;
    let registration = json!({ "email": "ada@example.com", "password": PASSWORD, "re_password": PASSWORD });
    assert_eq!(post(&server, "users/", registration, None).await.0, StatusCode::CREATED);
    let credentials = json!({ "email": "ada@example.com", "password": PASSWORD });
    let (_, login) = post(&server, "jwt/create/", credentials.clone(), None).await;
    let access = text(&login, "access");
    let (status, enrolment) = post(&server, "mfa/totp/", json!({}), Some(&access)).await;
    assert_eq!(status, StatusCode::CREATED, "{enrolment}");
    let (secret, id) = (text(&enrolment, "secret"), text(&enrolment, "id"));
    let first = crate::mfa::code(&secret, 0);
    let (status, confirmed) = post(
        &server,
        &format!("mfa/totp/{id}/confirm/"),
        json!({ "code": first }),
        Some(&access),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    let codes: Vec<String> = confirmed["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let (_, challenge) = post(&server, "jwt/create/", credentials.clone(), None).await;
    let ticket = text(&challenge, "ticket");
    let wrong = post(
        &server,
        "jwt/create/mfa/",
        json!({ "ticket": ticket, "code": "000000" }),
        None,
    )
    .await;
    assert_eq!(wrong.0, StatusCode::BAD_REQUEST);
    let second = crate::mfa::code(&secret, 1);
    let (status, _) = post(
        &server,
        "jwt/create/mfa/",
        json!({ "ticket": ticket, "code": second }),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, challenge) = post(&server, "jwt/create/", credentials, None).await;
    let ticket2 = text(&challenge, "ticket");
    let recovery = json!({ "ticket": ticket2, "recovery_code": codes[0] });
    assert_eq!(post(&server, "jwt/create/mfa/", recovery, None).await.0, StatusCode::OK);

    let lines = server.stop();
    // (Six-digit codes are left out: any timestamp's microseconds could hold one by chance.)
    let mut secrets = vec![("TOTP secret", secret), ("ticket", ticket), ("second ticket", ticket2)];
    secrets.extend(codes.into_iter().map(|code| ("recovery code", code)));
    for (what, secret) in &secrets {
        let hits: Vec<&String> = lines.iter().filter(|line| line.contains(secret.as_str())).collect();
        assert!(hits.is_empty(), "the {what} appears in the logs:\n{hits:#?}");
    }
}
