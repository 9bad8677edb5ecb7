//! Contract tests for [`Store`]: every test runs once against a fresh SQLite file in a temporary
//! directory and once against a fresh PostgreSQL database, created on the server named by
//! `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) and dropped
//! afterwards, even when the test fails. Without a reachable server the PostgreSQL half is skipped,
//! with a notice in the test output, unless `REQUIRE_POSTGRES=1`.

mod account_states;
mod admin;
mod import;
mod kept;
mod lookups;
mod mfa;
mod migration;
mod outbox;
mod rotations;
mod sessions;
mod throttle;
mod tokens;
mod users;
mod writers;

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tokio::task::JoinError;

use super::models::{NewSession, NewUser, TokenRecord};
use super::{Store, StoreOptions};

/// Declares, for each async `fn name(store: Store)` in scope, a module `name` with a `sqlite`
/// and a `postgres` test.
macro_rules! contract_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                crate::store::tests::on_sqlite(super::$name, true).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                crate::store::tests::on_postgres(super::$name, true).await;
            }
        }
    )*};
}
use contract_tests;

/// Runs `$body` with `$batches` bound to the store's `$kind` batcher (lookups or rotations),
/// whichever the database.
macro_rules! with_batches {
    ($store:expr, $kind:ident, |$batches:ident| $body:expr) => {
        match &$store {
            crate::store::Store::Postgres(store) => {
                let $batches = &*store.$kind;
                $body
            }
            crate::store::Store::Sqlite(store) => {
                let $batches = &*store.$kind;
                $body
            }
        }
    };
}
use with_batches;

/// Waits until `count` requests wait for a batch (spawned tasks reach the list on their first poll).
async fn until_waiting(count: impl Fn() -> usize, expected: usize) {
    for _ in 0..500 {
        if count() == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} waiting for a batch, expected {expected}", count());
}

const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn options() -> StoreOptions {
    StoreOptions {
        max_connections: 10,
        acquire_timeout: Duration::from_secs(10),
    }
}

/// Runs `test` on a fresh SQLite database, migrated unless `migrate` is false.
pub(in crate::store) async fn on_sqlite<F, Fut>(test: F, migrate: bool)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("imhotep.db").display());
    let store = Store::connect(&url, &options()).await.expect("open SQLite");
    if migrate {
        store.migrate().await.expect("migrate SQLite");
    }
    rethrow(run_then_close(test, store).await);
}

/// Runs `test` on a fresh PostgreSQL database, migrated unless `migrate` is false.
async fn on_postgres<F, Fut>(test: F, migrate: bool)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let admin_url = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.into());
    let name = format!("imhotep_store_{}", uuid::Uuid::new_v4().simple());
    let mut admin = match PgConnection::connect(&admin_url).await {
        Ok(admin) => admin,
        Err(error) if std::env::var("REQUIRE_POSTGRES").as_deref() != Ok("1") => {
            announce_skip(&format!("PostgreSQL at {admin_url} is unreachable ({error})"));
            return;
        }
        Err(error) => panic!("REQUIRE_POSTGRES=1 but PostgreSQL at {admin_url} is unreachable: {error}"),
    };
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let store = Store::connect(&with_database(&admin_url, &name), &options())
        .await
        .expect("connect");
    if migrate {
        store.migrate().await.expect("migrate PostgreSQL");
    }
    let outcome = run_then_close(test, store).await;
    sqlx::query(AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
        .execute(&mut admin)
        .await
        .expect("drop test database");
    admin.close().await.expect("close admin connection");
    rethrow(outcome);
}

/// Tells the person running the tests that the current test was skipped (it passes without having
/// run), on the process's stderr directly: libtest hides what passing tests print with `eprintln!`.
fn announce_skip(reason: &str) {
    use std::io::Write;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let _ = writeln!(
        std::io::stderr().lock(),
        "\n*** SKIPPED {test}: {reason}; set REQUIRE_POSTGRES=1 to fail instead ***"
    );
}

/// Runs the test on its own task, so that a failing assertion still lets us clean up.
async fn run_then_close<F, Fut>(test: F, store: Store) -> Result<(), JoinError>
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let outcome = tokio::spawn(test(store.clone())).await;
    store.close().await;
    outcome
}

/// Fails the calling test the way the test task failed.
fn rethrow(outcome: Result<(), JoinError>) {
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// `url` with its database name replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, ""), |(base, query)| (base, query));
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{server}/{database}{query}")
}

/// Creates a user with that e-mail; its id.
async fn user_id(store: &Store, email: &str) -> i64 {
    store
        .create_user(&new_user(email), email, &[])
        .await
        .expect("create user")
        .id
}

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.to_owned(),
        username: String::new(),
        first_name: String::new(),
        last_name: String::new(),
        password: "pbkdf2_sha256$600000$salt$hash".to_owned(),
        is_active: false,
        is_staff: false,
        is_superuser: false,
    }
}

fn token(jti: &str, user_id: Option<i64>, expires_at: DateTime<Utc>) -> TokenRecord {
    TokenRecord {
        jti: jti.to_owned(),
        user_id,
        created_at: expires_at - chrono::Duration::days(1),
        expires_at,
        session_id: None,
        parent_jti: None,
    }
}

/// A token of session `sid`, rotated from `parent` if given.
fn token_in(jti: &str, user_id: i64, sid: &str, parent: Option<&str>) -> TokenRecord {
    TokenRecord {
        session_id: Some(sid.to_owned()),
        parent_jti: parent.map(str::to_owned),
        ..token(jti, Some(user_id), Utc::now() + chrono::Duration::days(1))
    }
}

/// A session of `user_id` starting now, with a User-Agent and address.
fn session(id: &str, user_id: i64) -> NewSession {
    let now = Utc::now().trunc_subsecs(6);
    NewSession {
        id: id.to_owned(),
        user_id: Some(user_id),
        created_at: now,
        expires_at: now + chrono::Duration::days(1),
        user_agent: Some("curl/8".to_owned()),
        ip: Some("127.0.0.1".to_owned()),
    }
}

/// The `user_id` of the outstanding row for `jti`; `None` when there is no such row.
async fn outstanding_user_id(store: &Store, jti: &str) -> Option<Option<i64>> {
    match store {
        Store::Postgres(pg) => {
            sqlx::query_scalar("SELECT user_id FROM outstanding_tokens WHERE jti = $1")
                .bind(jti)
                .fetch_optional(&pg.pool)
                .await
        }
        Store::Sqlite(lite) => {
            sqlx::query_scalar("SELECT user_id FROM outstanding_tokens WHERE jti = ?")
                .bind(jti)
                .fetch_optional(&lite.pool)
                .await
        }
    }
    .expect("query outstanding_tokens")
}

/// Runs a parameterless statement that returns no rows.
async fn execute(store: &Store, sql: &'static str) {
    match store {
        Store::Postgres(pg) => sqlx::query(sql).execute(&pg.pool).await.map(drop),
        Store::Sqlite(lite) => sqlx::query(sql).execute(&lite.pool).await.map(drop),
    }
    .expect("execute");
}

/// Runs a parameterless `SELECT COUNT(*) ...`.
async fn count(store: &Store, sql: &'static str) -> i64 {
    match store {
        Store::Postgres(pg) => sqlx::query_scalar(sql).fetch_one(&pg.pool).await,
        Store::Sqlite(lite) => sqlx::query_scalar(sql).fetch_one(&lite.pool).await,
    }
    .expect("count rows")
}

#[test]
fn with_database_replaces_only_the_database_name() {
    assert_eq!(
        with_database("postgres://u@h:5432/postgres", "x"),
        "postgres://u@h:5432/x"
    );
    assert_eq!(
        with_database("postgres://u@h/postgres?sslmode=disable", "x"),
        "postgres://u@h/x?sslmode=disable"
    );
}
