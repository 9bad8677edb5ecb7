//! `spawn_app`: the real server on port 0 with its own fresh database (a new SQLite file, or a new
//! PostgreSQL database dropped afterwards) and a real SMTP sink; one method per endpoint.

use std::time::Duration;

use imhotep::app::Application;
use imhotep::config::{EmailBackendKind, Secret, Settings};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, SqliteConnection};
use tokio::sync::oneshot;

use crate::smtp::SmtpSink;

/// The `SECRET_KEY` of every test server (tests mint and forge tokens with it).
pub const SECRET_KEY: &str = "test-secret-key-0123456789abcdef0123456789abcdef";
pub const PASSWORD: &str = "Tr1cky-Horse-Battery-9";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one `#[tokio::test]` per database for each listed `async fn(Backend)`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name($crate::helpers::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name($crate::helpers::Backend::Postgres).await } )*
        }
    };
}

/// A database made for one test and removed after it.
pub enum TestDb {
    Sqlite { _dir: tempfile::TempDir },
    Postgres { admin_url: String, name: String },
}

/// The PostgreSQL database tests connect to first (`TEST_DATABASE_URL`, else the local server's
/// `postgres` database); test databases are created from it.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

impl TestDb {
    /// `None` when PostgreSQL is unreachable and `REQUIRE_POSTGRES` is not `1` (the test is skipped, loudly).
    async fn create(backend: Backend) -> Option<(TestDb, String)> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = crate::binary::sqlite_url(&dir, "test.db");
                Some((TestDb::Sqlite { _dir: dir }, url))
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let mut admin = match PgConnection::connect(&admin_url).await {
                    Ok(connection) => connection,
                    Err(error) if std::env::var("REQUIRE_POSTGRES").as_deref() != Ok("1") => {
                        announce_skip(&format!(
                            "PostgreSQL at {admin_url} is unreachable ({error}); set REQUIRE_POSTGRES=1 to fail instead"
                        ));
                        return None;
                    }
                    Err(error) => panic!("REQUIRE_POSTGRES=1 but PostgreSQL at {admin_url} is unreachable: {error}"),
                };
                let name = format!("imhotep_test_{}", uuid::Uuid::new_v4().simple());
                admin
                    .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .await
                    .expect("create test database");
                let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
                let url = format!("{base}/{name}");
                Some((TestDb::Postgres { admin_url, name }, url))
            }
        }
    }
}

/// Tells the person running the tests that the current test was skipped and passes without
/// having run. Written to the process's stderr directly: libtest captures `eprintln!` of passing
/// tests, so the notice would otherwise never be seen.
pub fn announce_skip(reason: &str) {
    use std::io::Write;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let _ = writeln!(std::io::stderr().lock(), "\n*** SKIPPED {test}: {reason} ***");
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, name } = self {
            drop_postgres_database(admin_url, name);
        }
    }
}

/// Drops a PostgreSQL database made for a test, from a `Drop` impl (which cannot await: a short-lived
/// runtime on its own thread does it).
pub fn drop_postgres_database(admin_url: &str, name: &str) {
    let (admin_url, name) = (admin_url.to_owned(), name.to_owned());
    let _ = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                let _ = admin
                    .execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .await;
            }
        });
    })
    .join();
}

/// A running server and everything a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub mail: SmtpSink,
    pub database_url: String,
    _stop: oneshot::Sender<()>,
    _db: TestDb,
}

/// Spawns the server with the default (seed) settings.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

/// Spawns the server after `configure` adjusted its settings.
pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> Option<TestApp> {
    let (db, database_url) = TestDb::create(backend).await?;
    let mail = SmtpSink::start().await;
    let mut settings = test_settings(&database_url, mail.port);
    configure(&mut settings);
    let (address, stop) = serve(settings).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    Some(TestApp {
        address,
        client,
        mail,
        database_url,
        _stop: stop,
        _db: db,
    })
}

/// The settings of a test server: the test secret, a random port, no separate metrics port, fast
/// outbox retries, e-mail to `smtp_port`.
pub fn test_settings(database_url: &str, smtp_port: u16) -> Settings {
    let mut settings = Settings {
        debug: false,
        secret_key: Secret::new(SECRET_KEY),
        ..Settings::default()
    };
    settings.server.port = 0;
    settings.database.url = Secret::new(database_url);
    settings.database.max_connections = Some(5);
    // Many test servers run at once: none takes the default metrics port.
    settings.metrics.bind = None;
    settings.email.backend = EmailBackendKind::Smtp;
    settings.email.host = "127.0.0.1".into();
    settings.email.port = smtp_port;
    settings.email.default_from_email = "noreply@example.com".into();
    settings.outbox.poll_interval = Duration::from_millis(200);
    settings.outbox.backoff_base = Duration::from_millis(100);
    settings.outbox.backoff_ceiling = Duration::from_millis(500);
    settings
}

/// Starts a server with `settings`; it runs until the returned sender is dropped.
pub async fn serve(settings: Settings) -> (String, oneshot::Sender<()>) {
    let app = Application::build(settings).await.expect("the application builds");
    let address = format!("http://{}", app.local_addr().expect("bound address"));
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    (address, stop)
}

/// Polls `check` every 100 ms for up to 10 s; panics naming `what` if it never holds.
pub async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within 10 s");
}

/// A response read whole: status, headers and JSON body (`Value::Null` when empty).
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Answer {
    pub async fn read(response: Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("response body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::Null)
        };
        Answer {
            status,
            headers,
            text,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts status and exact body text (key order included).
    #[track_caller]
    pub fn assert(&self, status: u16, body: &str) {
        assert_eq!((self.status.as_u16(), self.text.as_str()), (status, body));
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/auth/{}", self.address, path)
    }

    /// POSTs a JSON body, with an optional bearer token.
    pub async fn post(&self, path: &str, body: &Value, bearer: Option<&str>) -> Answer {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        Answer::read(request.send().await.expect("request sent")).await
    }

    /// POSTs raw bytes with the given Content-Type (or none).
    pub async fn post_raw(&self, path: &str, content_type: Option<&str>, body: &'static str) -> Answer {
        let mut request = self.client.post(self.url(path)).body(body);
        if let Some(value) = content_type {
            request = request.header("Content-Type", value);
        }
        Answer::read(request.send().await.expect("request sent")).await
    }

    /// Sends any request built by `build`.
    pub async fn send(&self, build: impl FnOnce(&reqwest::Client) -> reqwest::RequestBuilder) -> Answer {
        Answer::read(build(&self.client).send().await.expect("request sent")).await
    }

    pub async fn register(&self, email: &str, password: &str) -> Answer {
        let body = serde_json::json!({ "email": email, "password": password, "re_password": password });
        self.post("users/", &body, None).await
    }

    pub async fn activate(&self, uid: &str, token: &str) -> Answer {
        self.post(
            "users/activation/",
            &serde_json::json!({ "uid": uid, "token": token }),
            None,
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Answer {
        self.post(
            "jwt/create/",
            &serde_json::json!({ "email": email, "password": password }),
            None,
        )
        .await
    }

    pub async fn refresh(&self, refresh: &str) -> Answer {
        self.post("jwt/refresh/", &serde_json::json!({ "refresh": refresh }), None)
            .await
    }

    pub async fn verify(&self, token: &str) -> Answer {
        self.post("jwt/verify/", &serde_json::json!({ "token": token }), None)
            .await
    }

    pub async fn me(&self, bearer: &str) -> Answer {
        self.send(|c| c.get(self.url("users/me/")).bearer_auth(bearer)).await
    }

    /// Registers and activates through the activation e-mail; returns the user's id.
    pub async fn active_user(&self, email: &str) -> i64 {
        let created = self.register(email, PASSWORD).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let (uid, token) = self.mail.next().await.link("activate");
        self.activate(&uid, &token).await.assert(204, "");
        // The confirmation e-mail that activation sends.
        self.mail.next().await;
        created.body["id"].as_i64().expect("id")
    }

    /// An active user's login: `(access, refresh)`.
    pub async fn tokens_for(&self, email: &str) -> (String, String) {
        self.active_user(email).await;
        let login = self.login(email, PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text);
        (
            login.body["access"].as_str().unwrap().to_owned(),
            login.body["refresh"].as_str().unwrap().to_owned(),
        )
    }

    /// Reads one integer from the app's real database, e.g. `SELECT count(*) FROM users`.
    pub async fn scalar(&self, query: &str) -> i64 {
        if self.database_url.starts_with("sqlite") {
            let mut connection = SqliteConnection::connect(&self.database_url).await.expect("sqlite");
            sqlx::query_scalar::<_, i64>(AssertSqlSafe(query.to_owned()))
                .fetch_one(&mut connection)
                .await
                .expect(query)
        } else {
            let mut connection = PgConnection::connect(&self.database_url).await.expect("postgres");
            sqlx::query_scalar::<_, i64>(AssertSqlSafe(query.to_owned()))
                .fetch_one(&mut connection)
                .await
                .expect(query)
        }
    }

    /// Runs one statement on the app's real database (to arrange state a test needs).
    pub async fn execute(&self, statement: &str) {
        if self.database_url.starts_with("sqlite") {
            let mut connection = SqliteConnection::connect(&self.database_url).await.expect("sqlite");
            connection
                .execute(AssertSqlSafe(statement.to_owned()))
                .await
                .expect(statement);
        } else {
            let mut connection = PgConnection::connect(&self.database_url).await.expect("postgres");
            connection
                .execute(AssertSqlSafe(statement.to_owned()))
                .await
                .expect(statement);
        }
    }
}
