//! Reading users by key, and the refresh-token records shared by login, rotation and logout:
//! outstanding rows, blacklisting, and the expiry flush.

use chrono::{DateTime, Utc};
use sqlx::query::Query;
use sqlx::{Decode, Encode, Executor, FromRow, IntoArguments, Transaction, Type};

use super::lookups::{self, Numbered};
use super::{Dialect, SqlStore};
use crate::store::models::{TokenRecord, User};
use crate::store::{StoreError, now, user_columns};

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> Option<&'t str>: Encode<'t, DB>,
    for<'t> Option<i64>: Encode<'t, DB>,
    for<'t> DateTime<Utc>: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Decode<'t, DB> + Type<DB>,
    (bool,): for<'r> FromRow<'r, DB::Row>,
    User: for<'r> FromRow<'r, DB::Row>,
    Numbered<User>: for<'r> FromRow<'r, DB::Row>,
{
    pub async fn email_exists(&self, email_key: &str) -> Result<bool, StoreError> {
        let exists = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE email_key = $1)")
            .bind(email_key)
            .fetch_one(&self.pool)
            .await?;
        Ok(exists)
    }

    /// A user by id (the bearer check with session checks off, the reuse rules' reissue, staff and
    /// MFA lookups, the outbox): folded with the lookups that arrive beside it into one query on a
    /// kept connection (see `lookups.rs`).
    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        self.users
            .look_up(id, |ids| async move {
                let mut lent = self.kept.lend().await?;
                let users: Vec<Numbered<User>> = if let [id] = ids[..] {
                    sqlx::query_as(concat!(
                        "SELECT CAST(0 AS BIGINT) AS n, ",
                        user_columns!(),
                        " FROM users WHERE id = $1"
                    ))
                    .bind(id)
                    .fetch_all(lent.connection())
                    .await?
                } else {
                    let (statement, ids) = lookups::batch(&lookups::USERS, &ids);
                    ids.fold(sqlx::query_as(statement), |query, id| query.bind(*id))
                        .fetch_all(lent.connection())
                        .await?
                };
                lent.finished();
                Ok(users)
            })
            .await
    }

    pub async fn user_by_email(&self, email_key: &str) -> Result<Option<User>, StoreError> {
        let user = sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users WHERE email_key = $1"))
            .bind(email_key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(user)
    }

    pub async fn replace_password_hash(&self, id: i64, old: &str, new: &str) -> Result<bool, StoreError> {
        let _turn = self.write_turn().await;
        let result = sqlx::query("UPDATE users SET password = $1 WHERE id = $2 AND password = $3")
            .bind(new)
            .bind(id)
            .bind(old)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&result) == 1)
    }

    pub async fn record_outstanding(&self, token: &TokenRecord) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        record(token).execute(&self.pool).await?;
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
        let (_turn, mut tx) = self.begin_write().await?;
        let blacklisted = blacklist_in(&mut tx, token, now()).await?;
        tx.commit().await?;
        Ok(blacklisted)
    }

    pub async fn flush_expired_tokens(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let _turn = self.write_turn().await;
        let result = sqlx::query("DELETE FROM outstanding_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&result))
    }
}

/// Inserts an outstanding row unless the jti is already there; `user_id` becomes NULL when that
/// user no longer exists (the token outlived its user), `session_id` when that session does not.
fn record<DB>(token: &TokenRecord) -> Query<'static, DB, DB::Arguments>
where
    DB: Dialect,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> Option<&'t str>: Encode<'t, DB>,
    for<'t> Option<i64>: Encode<'t, DB>,
    for<'t> DateTime<Utc>: Encode<'t, DB> + Type<DB>,
{
    sqlx::query(
        "INSERT INTO outstanding_tokens (jti, user_id, created_at, expires_at, session_id, parent_jti) \
         VALUES ($1, (SELECT id FROM users WHERE id = $2), $3, $4, (SELECT id FROM sessions WHERE id = $5), $6) \
         ON CONFLICT (jti) DO NOTHING",
    )
    .bind(token.jti.as_str())
    .bind(token.user_id)
    .bind(token.created_at)
    .bind(token.expires_at)
    .bind(token.session_id.as_deref())
    .bind(token.parent_jti.as_deref())
}

/// [`record`] inside the caller's transaction.
pub(in crate::store) async fn record_in<DB>(
    tx: &mut Transaction<'_, DB>,
    token: &TokenRecord,
) -> Result<(), sqlx::Error>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> Option<&'t str>: Encode<'t, DB>,
    for<'t> Option<i64>: Encode<'t, DB>,
    for<'t> DateTime<Utc>: Encode<'t, DB> + Type<DB>,
{
    record(token).execute(&mut **tx).await?;
    Ok(())
}

/// Records `token` if needed, then blacklists it; false when it already was.
pub(in crate::store) async fn blacklist_in<DB>(
    tx: &mut Transaction<'_, DB>,
    token: &TokenRecord,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> Option<&'t str>: Encode<'t, DB>,
    for<'t> Option<i64>: Encode<'t, DB>,
    for<'t> DateTime<Utc>: Encode<'t, DB> + Type<DB>,
{
    record_in(tx, token).await?;
    let result = sqlx::query(
        "INSERT INTO blacklisted_tokens (token_id, blacklisted_at) \
         SELECT id, $1 FROM outstanding_tokens WHERE jti = $2 \
         ON CONFLICT (token_id) DO NOTHING",
    )
    .bind(at)
    .bind(token.jti.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(DB::rows_affected(&result) == 1)
}
