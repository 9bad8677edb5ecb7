//! What the shipped binary refuses or ignores at start-up, and what it shows: weak HMAC keys in
//! production, settings out of bounds, platform variables that are not settings (Kubernetes'
//! `IMHOTEP_PORT=tcp://...`), credentials in `imhotep check`'s output, and the SQLite file's mode.

use crate::binary::{self, Server, production};
use crate::helpers::{Backend, spawn_app};

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    binary::sqlite_url(dir, "startup.db")
}

/// `check` and `serve` both refuse, with a message containing `expected`.
#[track_caller]
fn both_refuse(env: &[(&str, &str)], expected: &str) {
    let (ok, output) = binary::run(&["check"], env);
    assert!(
        !ok && output.contains(expected),
        "check, expecting {expected:?}:\n{output}"
    );
    let (ok, output) = binary::serve_to_exit(env);
    assert!(
        !ok && output.contains(expected),
        "serve, expecting {expected:?}:\n{output}"
    );
}

#[test]
fn weak_hmac_keys_are_refused_in_production() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(&dir);
    let repeated = "a".repeat(48);
    let mut env = production(&url, &[]);
    env.retain(|(name, _)| *name != "SECRET_KEY");
    env.push(("SECRET_KEY", &repeated));
    both_refuse(&env, "SECRET_KEY is not random");
    both_refuse(
        &production(&url, &[("IMHOTEP_SIMPLE_JWT__SIGNING_KEY", "secret")]),
        "simple_jwt.signing_key is too short for HS256",
    );
    // The 48-byte test key is enough for HS384, not for HS512 (RFC 7518 §3.2).
    let (ok, output) = binary::run(
        &["check"],
        &production(&url, &[("IMHOTEP_SIMPLE_JWT__ALGORITHM", "HS384")]),
    );
    assert!(ok, "{output}");
    both_refuse(
        &production(&url, &[("IMHOTEP_SIMPLE_JWT__ALGORITHM", "HS512")]),
        "SECRET_KEY is too short for HS512",
    );
    // Each HMAC entry of keys.list is held to its own algorithm (a PEM entry is not an HMAC key).
    let list = r#"[{"kid": "k1", "algorithm": "HS512", "use": "sign", "signing_key": "0123456789abcdefghijklmnopqrstuvwxyz"}]"#;
    both_refuse(
        &production(&url, &[("IMHOTEP_KEYS__LIST", list)]),
        "keys.list[0].signing_key is too short for HS512",
    );
    // Messages say how to make a key, and never show the key.
    let (_, output) = binary::run(
        &["check"],
        &production(&url, &[("IMHOTEP_SIMPLE_JWT__SIGNING_KEY", "secret")]),
    );
    assert!(output.contains("openssl rand"), "{output}");
    assert!(
        !output.contains("\"secret\"") && !output.contains("= secret"),
        "{output}"
    );
    // In debug mode a weak key is not refused (a short one is replaced by a random one).
    let (ok, output) = binary::run(
        &["check"],
        &production(
            &url,
            &[("DEBUG", "true"), ("IMHOTEP_SIMPLE_JWT__SIGNING_KEY", "secret")],
        ),
    );
    assert!(ok, "{output}");
}

#[test]
fn a_missing_or_short_secret_key_is_refused_in_production() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(&dir);
    let without_key = |extra: &[(&'static str, &'static str)]| {
        let mut env = production(&url, &[]);
        env.retain(|(name, _)| *name != "SECRET_KEY");
        env.extend_from_slice(extra);
        env
    };
    both_refuse(&without_key(&[]), "SECRET_KEY is not set");
    both_refuse(&without_key(&[("SECRET_KEY", "")]), "SECRET_KEY is not set");
    both_refuse(
        &without_key(&[("SECRET_KEY", "0123456789abcdefghijklmnopqrstu")]),
        "SECRET_KEY is too short for HS256: 31 bytes",
    );
    // The same environment in debug mode starts, with a random key in place of the missing one.
    let (ok, output) = binary::run(&["check"], &without_key(&[("DEBUG", "true")]));
    assert!(ok, "{output}");
}

#[test]
fn a_zero_housekeeping_interval_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(&dir);
    both_refuse(
        &production(&url, &[("IMHOTEP_HOUSEKEEPING__FLUSH_INTERVAL", "0s")]),
        "housekeeping.flush_interval must be longer than 0s",
    );
    // Turning housekeeping off is its own setting.
    let off = production(&url, &[("IMHOTEP_HOUSEKEEPING__ENABLED", "false")]);
    let (ok, output) = binary::run(&["check"], &off);
    assert!(ok, "{output}");
}

#[test]
fn settings_out_of_bounds_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(&dir);
    for (name, value, expected) in [
        (
            "IMHOTEP_SIMPLE_JWT__LEEWAY",
            "10m",
            "simple_jwt.leeway must be at most 300s",
        ),
        (
            "IMHOTEP_SIMPLE_JWT__ACCESS_TOKEN_LIFETIME",
            "0s",
            "simple_jwt.access_token_lifetime must be longer than 0s",
        ),
        (
            "IMHOTEP_OUTBOX__BATCH_SIZE",
            "0",
            "outbox.batch_size must be at least 1",
        ),
        (
            "IMHOTEP_SERVER__REQUEST_TIMEOUT",
            "0s",
            "server.request_timeout must be longer than 0s",
        ),
        (
            "IMHOTEP_METRICS__BEARER_TOKEN",
            "short-token",
            "metrics.bearer_token is too short",
        ),
        (
            "IMHOTEP_OUTBOX__DRAIN_TIMEOUT",
            "0s",
            "outbox.drain_timeout must be longer than 0s",
        ),
        (
            "EMAIL_BACKEND",
            "memory",
            "found `memory`, expected ``console` or `smtp``",
        ),
        (
            "IMHOTEP_DJOSER__REQUIRED_FIELDS",
            "[\"password\"]",
            "found `password`, expected `one of `username`, `first_name`, `last_name`` for key \"DJOSER.REQUIRED_FIELDS.0\"",
        ),
        (
            "IMHOTEP_SIMPLE_JWT__EXTRA_CLAIMS",
            "[\"password\"]",
            "for key \"SIMPLE_JWT.EXTRA_CLAIMS.0\"",
        ),
        (
            "IMHOTEP_SIMPLE_JWT__ALGORITHM",
            "none",
            "\"none\" is not supported; use HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, \
             ES384 or EdDSA for key \"SIMPLE_JWT.ALGORITHM\"",
        ),
        (
            "IMHOTEP_KEYS__LIST",
            r#"[{"kid": "a", "algorithm": "RS257", "use": "sign"}]"#,
            "keys.list[0].algorithm \"RS257\" is not supported; use HS256",
        ),
    ] {
        let (ok, output) = binary::run(&["check"], &production(&url, &[(name, value)]));
        assert!(!ok && output.contains(expected), "{name}={value}:\n{output}");
    }
}

/// With `DEBUG=false` the console backend would print live reset links on stdout: refused unless the
/// operator says so; `DEBUG=true` (the README's first command) keeps it.
#[test]
fn production_refuses_the_console_backend_unless_allowed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(&dir);
    both_refuse(
        &production(&url, &[("EMAIL_BACKEND", "console")]),
        "email.allow_console_in_production",
    );
    let allowed = production(
        &url,
        &[
            ("EMAIL_BACKEND", "console"),
            ("IMHOTEP_EMAIL__ALLOW_CONSOLE_IN_PRODUCTION", "true"),
        ],
    );
    let (ok, output) = binary::run(&["check"], &allowed);
    assert!(ok, "{output}");
    let debug = production(&url, &[("EMAIL_BACKEND", "console"), ("DEBUG", "true")]);
    let (ok, output) = binary::run(&["check"], &debug);
    assert!(ok, "{output}");
}

/// `Application::build` (the library's entry point, which skips `Settings::ensure_secret_key`)
/// refuses to sign links and tokens with an empty key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_refuses_an_empty_secret_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = imhotep::config::Settings::default();
    settings.database.url = imhotep::config::Secret::new(sqlite_url(&dir));
    settings.server.host = "127.0.0.1".into();
    settings.server.port = 0;
    settings.secret_key = imhotep::config::Secret::new("");
    let refused = imhotep::app::Application::build(settings).await;
    let message = format!("{:#}", refused.err().expect("an empty SECRET_KEY is refused"));
    assert!(message.contains("SECRET_KEY is empty"), "{message}");
}

/// A Kubernetes Service named `imhotep` injects these into every pod of the namespace.
const KUBERNETES: [(&str, &str); 7] = [
    ("IMHOTEP_PORT", "tcp://10.0.0.1:8080"),
    ("IMHOTEP_PORT_8080_TCP", "tcp://10.0.0.1:8080"),
    ("IMHOTEP_PORT_8080_TCP_ADDR", "10.0.0.1"),
    ("IMHOTEP_PORT_8080_TCP_PORT", "8080"),
    ("IMHOTEP_PORT_8080_TCP_PROTO", "tcp"),
    ("IMHOTEP_SERVICE_HOST", "10.0.0.1"),
    ("IMHOTEP_SERVICE_PORT", "8080"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_variables_that_are_not_settings_are_ignored() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(&dir);
    let mut env = production(&url, &[("RUST_LOG", "debug")]);
    env.extend_from_slice(&KUBERNETES);
    let server = Server::start(&env).await;
    let healthz = reqwest::get(format!("{}/healthz", server.address))
        .await
        .expect("healthz");
    assert_eq!(healthz.status(), 200);
    let lines = server.stop();
    let ignored = lines
        .iter()
        .find(|line| line.contains("ignoring IMHOTEP_"))
        .unwrap_or_else(|| panic!("no debug line lists the ignored variables:\n{}", lines.join("\n")));
    for (name, _) in KUBERNETES {
        assert!(ignored.contains(name), "{name} not listed in {ignored}");
    }
    assert!(!ignored.contains("10.0.0.1"), "values are not logged: {ignored}");

    // A typo inside a known section is still an error.
    let (ok, output) = binary::run(&["check"], &production(&url, &[("IMHOTEP_SERVER__PORTT", "1")]));
    assert!(!ok && output.contains("portt"), "{output}");
}

#[test]
fn check_masks_credentials() {
    let admin = crate::helpers::postgres_admin_url();
    let with_password = format!("{admin}?password=query-Pa55word-in-url");
    let env = production(&with_password, &[("EMAIL_HOST_USER", "postmark-api-token-1234")]);
    let (ok, output) = binary::run(&["check"], &env);
    if skipped_without_postgres(ok, &output) {
        return;
    }
    assert!(ok, "{output}");
    assert!(output.contains("password=********"), "{output}");
    for secret in ["query-Pa55word-in-url", "postmark-api-token-1234"] {
        assert!(!output.contains(secret), "{secret} shown:\n{output}");
    }
}

#[test]
fn check_names_the_pool_size_its_backend_gets_unless_set() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = sqlite_url(&dir);
    let postgres = crate::helpers::postgres_admin_url();
    let (ok, output) = binary::run(&["check"], &production(&sqlite, &[]));
    assert!(ok && output.contains("(sqlite, a pool of 10)"), "{output}");
    let (ok, output) = binary::run(
        &["check"],
        &production(&sqlite, &[("IMHOTEP_DATABASE__MAX_CONNECTIONS", "3")]),
    );
    assert!(ok && output.contains("(sqlite, a pool of 3)"), "{output}");
    let (ok, output) = binary::run(
        &["check"],
        &production(&sqlite, &[("IMHOTEP_DATABASE__MAX_CONNECTIONS", "0")]),
    );
    assert!(
        !ok && output.contains("database.max_connections must be at least 1"),
        "{output}"
    );
    let (ok, output) = binary::run(&["check"], &production(&postgres, &[]));
    if skipped_without_postgres(ok, &output) {
        return;
    }
    assert!(ok && output.contains("(postgres, a pool of 20)"), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_database_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;

    let Some(app) = spawn_app(Backend::Sqlite).await else {
        return;
    };
    app.register("ada@example.com", crate::helpers::PASSWORD).await;
    let path = app
        .database_url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .expect("a path")
        .to_owned();
    for file in [path.clone(), format!("{path}-wal"), format!("{path}-shm")] {
        let mode = std::fs::metadata(&file)
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file} has mode {:o}", mode & 0o777);
    }
}

#[test]
fn browser_mode_settings_are_checked_and_check_prints_the_refresh_cookie_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(&dir);
    let on = ("IMHOTEP_COOKIES__JWT_AUTH_REFRESH_COOKIE", "refresh");
    both_refuse(
        &production(
            &url,
            &[
                on,
                ("IMHOTEP_COOKIES__JWT_AUTH_SAMESITE", "None"),
                ("IMHOTEP_COOKIES__JWT_AUTH_SECURE", "0"),
            ],
        ),
        "cookies.jwt_auth_samesite = \"None\" needs cookies.jwt_auth_secure = true",
    );
    both_refuse(
        &production(&url, &[on, ("IMHOTEP_COOKIES__HOST_PREFIX", "true")]),
        "cookies.host_prefix needs cookies.jwt_auth_refresh_cookie_path = \"/\"",
    );
    both_refuse(
        &production(&url, &[on, ("IMHOTEP_CORS__ALLOWED_ORIGINS", "*")]),
        "cannot be combined with cookies.jwt_auth_refresh_cookie",
    );
    let (ok, output) = binary::run(&["check"], &production(&url, &[]));
    assert!(ok && output.contains("browser mode: off"), "{output}");
    let (ok, output) = binary::run(&["check"], &production(&url, &[on]));
    assert!(
        ok && output.contains("refresh cookie refresh on path /api/auth/jwt/"),
        "{output}"
    );
    // SimpleJWT's paths serve jwt_refresh at /api/token/refresh/: the cookie must reach both.
    let preset = ("IMHOTEP_ROUTES__SIMPLEJWT_PATHS", "true");
    let (ok, output) = binary::run(&["check"], &production(&url, &[on, preset]));
    assert!(
        ok && output.contains("refresh cookie refresh on path /api/\n"),
        "{output}"
    );
    let host = [
        on,
        ("IMHOTEP_COOKIES__HOST_PREFIX", "yes"),
        ("IMHOTEP_COOKIES__JWT_AUTH_REFRESH_COOKIE_PATH", "/"),
    ];
    let (ok, output) = binary::run(&["check"], &production(&url, &host));
    assert!(
        ok && output.contains("refresh cookie __Host-refresh on path /\n"),
        "{output}"
    );
}

/// Whether a `check` against PostgreSQL failed only because it is unreachable and `REQUIRE_POSTGRES`
/// is not `1`: the test is then skipped, loudly.
fn skipped_without_postgres(ok: bool, output: &str) -> bool {
    let skip =
        !ok && output.contains("connecting to the database") && std::env::var("REQUIRE_POSTGRES").as_deref() != Ok("1");
    if skip {
        crate::helpers::announce_skip("PostgreSQL is unreachable");
    }
    skip
}
