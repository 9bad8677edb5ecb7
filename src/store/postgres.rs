//! The PostgreSQL store: production, and any number of server instances sharing one database.
//!
//! Each connection gets `statement_timeout = 5s`, so a stuck query frees its connection instead
//! of starving the pool. Concurrency is left to the database under READ COMMITTED: conditional
//! `UPDATE`s for once-only changes and `ON CONFLICT DO NOTHING` on the unique constraints for
//! blacklisting, where a concurrent writer waits for the first one's commit and then sees the
//! conflict.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

use super::models::{TokenRecord, User};
use super::{StoreError, StoreOptions, now, user_columns};

mod accounts;
mod admin;
mod import;
mod mfa;
mod outbox;
mod sessions;
mod throttle;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// A pool of PostgreSQL connections.
#[derive(Debug, Clone)]
pub struct PgStore {
    pub(super) pool: PgPool,
}

impl PgStore {
    /// Connects to the database named by a `postgres:` or `postgresql:` URL.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let connect = PgConnectOptions::from_str(url)?.options([("statement_timeout", "5s")]);
        let pool = PgPoolOptions::new()
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
        let exists = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE email_key = $1)")
            .bind(email_key)
            .fetch_one(&self.pool)
            .await?;
        Ok(exists)
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        let user = sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(user)
    }

    pub async fn user_by_email(&self, email_key: &str) -> Result<Option<User>, StoreError> {
        let user = sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users WHERE email_key = $1"))
            .bind(email_key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(user)
    }

    pub async fn replace_password_hash(&self, id: i64, old: &str, new: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("UPDATE users SET password = $1 WHERE id = $2 AND password = $3")
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
                            WHERE o.jti = $1)",
        )
        .bind(jti)
        .fetch_one(&self.pool)
        .await?;
        Ok(blacklisted)
    }

    pub async fn blacklist(&self, token: &TokenRecord) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let blacklisted = blacklist_in(&mut tx, token, now()).await?;
        tx.commit().await?;
        Ok(blacklisted)
    }

    pub async fn flush_expired_tokens(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM outstanding_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }
}

/// Inserts an outstanding row unless the jti is already there; `user_id` becomes NULL when that
/// user no longer exists (the token outlived its user).
async fn record_in(conn: &mut PgConnection, token: &TokenRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outstanding_tokens (jti, user_id, created_at, expires_at, session_id, parent_jti) \
         VALUES ($1, (SELECT id FROM users WHERE id = $2), $3, $4, (SELECT id FROM sessions WHERE id = $5), $6) \
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
async fn blacklist_in(conn: &mut PgConnection, token: &TokenRecord, at: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    record_in(conn, token).await?;
    let result = sqlx::query(
        "INSERT INTO blacklisted_tokens (token_id, blacklisted_at) \
         SELECT id, $1 FROM outstanding_tokens WHERE jti = $2 \
         ON CONFLICT (token_id) DO NOTHING",
    )
    .bind(at)
    .bind(&token.jti)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}
