//! The SQLite store: the default for development and single-instance deployments.
//!
//! Every connection runs with foreign keys on (the token tables rely on `ON DELETE`), WAL
//! journaling, `synchronous = NORMAL` and a 5 s busy timeout. Multi-statement writes start with
//! `BEGIN IMMEDIATE`, taking the write lock up front: a deferred transaction that reads and then
//! writes can fail with `SQLITE_BUSY` when another writer got in between, whatever the timeout.
//! Timestamps are stored as sqlx encodes `DateTime<Utc>` (see `migrations/sqlite`).

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::models::{TokenRecord, User};
use super::{StoreError, StoreOptions, now, user_columns};

mod accounts;
mod admin;
mod import;
mod mfa;
mod outbox;
mod sessions;
mod throttle;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Creates a missing database file with mode 0600 before SQLite would create it with the process's
/// umask (usually world-readable: the file holds password hashes and e-mail addresses). SQLite gives
/// its `-wal` and `-shm` files the database file's permissions. A file that exists is left as it
/// is, and any problem creating it is left for SQLite to report when it opens the path.
#[cfg(unix)]
fn create_private_file(path: &std::path::Path) {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
}

#[cfg(not(unix))]
fn create_private_file(_path: &std::path::Path) {}

/// A pool of SQLite connections to one database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(super) pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating it if missing, readable by its owner only) the database file named by a
    /// `sqlite:` URL.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::from_str(url)?;
        if !url.contains(":memory:") && !url.contains("mode=memory") {
            create_private_file(connect.get_filename());
        }
        let connect = connect
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        Ok(Self { pool })
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        Ok(MIGRATOR.run(&self.pool).await?)
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn email_exists(&self, email_key: &str) -> Result<bool, StoreError> {
        let exists = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE email_key = ?)")
            .bind(email_key)
            .fetch_one(&self.pool)
            .await?;
        Ok(exists)
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        let user = sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(user)
    }

    pub async fn user_by_email(&self, email_key: &str) -> Result<Option<User>, StoreError> {
        let user = sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users WHERE email_key = ?"))
            .bind(email_key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(user)
    }

    pub async fn replace_password_hash(&self, id: i64, old: &str, new: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("UPDATE users SET password = ? WHERE id = ? AND password = ?")
            .bind(new)
            .bind(id)
            .bind(old)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() == 1)
    }

    pub async fn record_outstanding(&self, token: &TokenRecord) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        record_in(&mut conn, token).await?;
        Ok(())
    }

    pub async fn is_blacklisted(&self, jti: &str) -> Result<bool, StoreError> {
        let blacklisted = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM outstanding_tokens o \
                            JOIN blacklisted_tokens b ON b.token_id = o.id \
                            WHERE o.jti = ?)",
        )
        .bind(jti)
        .fetch_one(&self.pool)
        .await?;
        Ok(blacklisted)
    }

    pub async fn blacklist(&self, token: &TokenRecord) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let blacklisted = blacklist_in(&mut tx, token, now()).await?;
        tx.commit().await?;
        Ok(blacklisted)
    }

    pub async fn flush_expired_tokens(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM outstanding_tokens WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }
}

/// Inserts an outstanding row unless the jti is already there; `user_id` becomes NULL when that
/// user no longer exists (the token outlived its user).
async fn record_in(conn: &mut SqliteConnection, token: &TokenRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outstanding_tokens (jti, user_id, created_at, expires_at, session_id, parent_jti) \
         VALUES (?, (SELECT id FROM users WHERE id = ?), ?, ?, (SELECT id FROM sessions WHERE id = ?), ?) \
         ON CONFLICT (jti) DO NOTHING",
    )
    .bind(&token.jti)
    .bind(token.user_id)
    .bind(token.created_at)
    .bind(token.expires_at)
    .bind(token.session_id.as_deref())
    .bind(token.parent_jti.as_deref())
    .execute(conn)
    .await?;
    Ok(())
}

/// Records `token` if needed, then blacklists it; false when it already was.
async fn blacklist_in(
    conn: &mut SqliteConnection,
    token: &TokenRecord,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    record_in(conn, token).await?;
    let result = sqlx::query(
        "INSERT INTO blacklisted_tokens (token_id, blacklisted_at) \
         SELECT id, ? FROM outstanding_tokens WHERE jti = ? \
         ON CONFLICT (token_id) DO NOTHING",
    )
    .bind(at)
    .bind(&token.jti)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}
