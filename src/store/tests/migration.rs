//! Migrations on a database that already holds data (a deployment upgrading): 0005 makes every
//! outstanding refresh token a session of its own, revoked when the token was blacklisted; 0008
//! moves PostgreSQL's abuse-protection counters out of the write-ahead log with their rows.

use std::path::Path;

use sqlx::migrate::Migrator;

use super::{on_postgres, on_sqlite};
use crate::store::Store;

/// The migrations numbered below `first`, copied to `dir` (the embedded ones are applied afterwards
/// and find these already applied, with the same checksums).
async fn before(first: &str, backend: &str, dir: &Path) -> Migrator {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
    for entry in std::fs::read_dir(&source).expect("migrations") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if name.as_str() < first {
            std::fs::copy(&path, dir.join(name)).expect("copy migration");
        }
    }
    Migrator::new(dir).await.expect("older migrations")
}

const ARRANGE: [&str; 3] = [
    "INSERT INTO users (email, email_key, password, is_active, is_staff, is_superuser, date_joined) \
     VALUES ('a@example.com', 'a@example.com', 'x', TRUE, FALSE, FALSE, '2026-01-01T00:00:00+00:00')",
    "INSERT INTO outstanding_tokens (jti, user_id, created_at, expires_at) VALUES \
     ('live', 1, '2026-01-01T00:00:00+00:00', '2999-01-01T00:00:00+00:00'), \
     ('gone', 1, NULL, '2999-01-02T00:00:00+00:00')",
    "INSERT INTO blacklisted_tokens (token_id, blacklisted_at) \
     SELECT id, '2026-01-02T00:00:00+00:00' FROM outstanding_tokens WHERE jti = 'gone'",
];

/// `(jti, session revoked)` per token, after the upgrade, and the number of sessions.
const READ: &str = "SELECT o.jti, s.revoked_at IS NOT NULL FROM outstanding_tokens o \
                    JOIN sessions s ON s.id = o.session_id AND s.user_id = o.user_id ORDER BY o.jti";

async fn tokens_become_one_session_each(store: Store) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let rows: Vec<(String, bool)> = match &store {
        Store::Sqlite(lite) => {
            let older = before("0005", "sqlite", dir.path()).await;
            older.run(&lite.pool).await.expect("older migrations");
            for statement in ARRANGE {
                sqlx::query(statement).execute(&lite.pool).await.expect(statement);
            }
            store.migrate().await.expect("upgrade");
            sqlx::query_as(READ).fetch_all(&lite.pool).await.expect("read")
        }
        Store::Postgres(pg) => {
            let older = before("0005", "postgres", dir.path()).await;
            older.run(&pg.pool).await.expect("older migrations");
            for statement in ARRANGE {
                sqlx::query(statement).execute(&pg.pool).await.expect(statement);
            }
            store.migrate().await.expect("upgrade");
            sqlx::query_as(READ).fetch_all(&pg.pool).await.expect("read")
        }
    };
    assert_eq!(rows, [("gone".to_owned(), true), ("live".to_owned(), false)]);
    assert_eq!(super::count(&store, "SELECT COUNT(*) FROM sessions").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite() {
    on_sqlite(tokens_become_one_session_each, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres() {
    on_postgres(tokens_become_one_session_each, false).await;
}

/// A counter written before 0008 is still there after it, in a table that skips the write-ahead
/// log (`relpersistence` 'u'), and goes on counting.
async fn counters_keep_their_rows_out_of_the_write_ahead_log(store: Store) {
    let Store::Postgres(pg) = &store else {
        unreachable!("PostgreSQL only")
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let older = before("0008", "postgres", dir.path()).await;
    older.run(&pg.pool).await.expect("older migrations");
    let persistence = "SELECT relpersistence::TEXT FROM pg_class WHERE relname = 'throttle_counters'";
    let logged: String = sqlx::query_scalar(persistence).fetch_one(&pg.pool).await.expect("read");
    assert_eq!(logged, "p", "before 0008 the counters are an ordinary table");
    sqlx::query("INSERT INTO throttle_counters (key, hits, window_ends_ms) VALUES ('w', 2, 9000000000000)")
        .execute(&pg.pool)
        .await
        .expect("a counter");
    store.migrate().await.expect("upgrade");
    let unlogged: String = sqlx::query_scalar(persistence).fetch_one(&pg.pool).await.expect("read");
    assert_eq!(unlogged, "u");
    let hit = store.throttle_hit("w", 5, 60_000, 1_000).await.expect("hit");
    assert_eq!(hit, crate::store::throttle::Hit::Allowed { hits: 3 });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_counters() {
    on_postgres(counters_keep_their_rows_out_of_the_write_ahead_log, false).await;
}
