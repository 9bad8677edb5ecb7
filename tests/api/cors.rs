//! CORS: exact origins from `[cors]` get the headers (preflights answered before the route's own
//! method handling); any other origin, or every origin when none is configured, gets none.

use crate::binary;
use crate::helpers::{Answer, Backend, TestApp, spawn_app_with};

const ORIGIN: &str = "https://app.example.test";

async fn app_allowing(db: Backend, allow_credentials: bool) -> Option<TestApp> {
    spawn_app_with(db, |s| {
        s.cors.allowed_origins = vec![ORIGIN.into(), "http://localhost:3000".into()];
        s.cors.allow_credentials = allow_credentials;
    })
    .await
}

async fn simple(app: &TestApp, origin: &str) -> Answer {
    app.send(|c| c.get(format!("{}/healthz", app.address)).header("Origin", origin))
        .await
}

async fn preflight(app: &TestApp, path: &str, origin: &str) -> Answer {
    app.send(|c| {
        c.request(reqwest::Method::OPTIONS, app.url(path))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type,authorization")
    })
    .await
}

fn vary(answer: &Answer) -> String {
    let values: Vec<&str> = answer
        .headers
        .get_all("vary")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    values.join(",").to_ascii_lowercase()
}

fn cors_headers(answer: &Answer) -> Vec<String> {
    answer
        .headers
        .keys()
        .map(|name| name.as_str().to_owned())
        .filter(|name| name.starts_with("access-control-"))
        .collect()
}

async fn an_allowed_origin_gets_its_own_origin_back(db: Backend) {
    let Some(app) = app_allowing(db, false).await else {
        return;
    };
    let answer = simple(&app, ORIGIN).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("access-control-allow-origin"), Some(ORIGIN));
    assert!(
        vary(&answer).split(',').any(|v| v.trim() == "origin"),
        "{}",
        vary(&answer)
    );
    assert_eq!(answer.header("access-control-allow-credentials"), None);
    let login = app
        .send(|c| {
            c.post(app.url("jwt/create/"))
                .header("Origin", ORIGIN)
                .json(&serde_json::json!({}))
        })
        .await;
    assert_eq!(
        login.header("access-control-allow-origin"),
        Some(ORIGIN),
        "error answers too"
    );
}

async fn a_preflight_is_answered_before_the_route(db: Backend) {
    let Some(app) = app_allowing(db, false).await else {
        return;
    };
    for path in ["jwt/create/", "users/me/", "users/"] {
        let answer = preflight(&app, path, ORIGIN).await;
        assert!(matches!(answer.status.as_u16(), 200 | 204), "{path}: {}", answer.status);
        assert_eq!(answer.header("access-control-allow-origin"), Some(ORIGIN));
        let methods = answer.header("access-control-allow-methods").unwrap_or_default();
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
            assert!(methods.contains(method), "{path}: {methods}");
        }
        let headers = answer.header("access-control-allow-headers").unwrap_or_default();
        assert!(
            headers.contains("content-type") && headers.contains("authorization"),
            "{headers}"
        );
        assert_eq!(answer.header("access-control-max-age"), Some("600"));
    }
}

async fn other_origins_get_no_cors_headers(db: Backend) {
    let Some(app) = app_allowing(db, true).await else {
        return;
    };
    for origin in [
        "https://evil.test",
        "null",
        "https://app.example.test.evil.test",
        "http://app.example.test",
        "https://app.example.test:8443",
        "https://APP.example.test",
    ] {
        for answer in [simple(&app, origin).await, preflight(&app, "jwt/create/", origin).await] {
            assert_eq!(answer.header("access-control-allow-origin"), None, "{origin}");
            assert_eq!(answer.header("access-control-allow-credentials"), None, "{origin}");
        }
    }
}

async fn credentials_are_allowed_only_when_configured(db: Backend) {
    let Some(app) = app_allowing(db, true).await else {
        return;
    };
    for answer in [simple(&app, ORIGIN).await, preflight(&app, "users/me/", ORIGIN).await] {
        assert_eq!(answer.header("access-control-allow-origin"), Some(ORIGIN));
        assert_eq!(answer.header("access-control-allow-credentials"), Some("true"));
    }
}

async fn without_allowed_origins_there_are_no_cors_headers(db: Backend) {
    let Some(app) = spawn_app_with(db, |_| {}).await else {
        return;
    };
    for answer in [simple(&app, ORIGIN).await, preflight(&app, "jwt/create/", ORIGIN).await] {
        assert_eq!(cors_headers(&answer), Vec::<String>::new());
        assert!(!vary(&answer).contains("origin"));
    }
}

crate::on_both_databases!(
    an_allowed_origin_gets_its_own_origin_back,
    a_preflight_is_answered_before_the_route,
    other_origins_get_no_cors_headers,
    credentials_are_allowed_only_when_configured,
    without_allowed_origins_there_are_no_cors_headers,
);

#[test]
fn a_wildcard_origin_with_credentials_refuses_to_start() {
    let (ok, output) = binary::run(
        &["check"],
        &[
            ("IMHOTEP_CORS__ALLOWED_ORIGINS", "*"),
            ("IMHOTEP_CORS__ALLOW_CREDENTIALS", "true"),
        ],
    );
    assert!(!ok, "{output}");
    assert!(output.contains("cors.allow_credentials"), "{output}");
}

#[test]
fn origins_can_come_from_the_environment_as_a_comma_separated_list() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = crate::binary::sqlite_url(&dir, "check.db");
    let (ok, output) = binary::run(
        &["check"],
        &[
            ("DATABASE_URL", &database_url),
            (
                "IMHOTEP_CORS__ALLOWED_ORIGINS",
                "https://a.example.test, http://localhost:3000",
            ),
        ],
    );
    assert!(ok, "{output}");
    let compact: String = output.split_whitespace().collect();
    assert!(
        compact.contains(r#""allowed_origins":["https://a.example.test","http://localhost:3000"]"#),
        "{output}"
    );
}
