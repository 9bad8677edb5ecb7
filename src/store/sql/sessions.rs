//! Sessions as both databases run them: listing, bearer authentication's lookup and revocation.
//! Starting, rotating and ending a session by its token differ per database (locks, one-statement
//! rotation) and live in `store/postgres/sessions.rs` and `store/sqlite/sessions.rs`.

use chrono::{DateTime, Utc};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Transaction, Type};

use super::lookups::{self, Numbered};
use super::{Dialect, SqlStore};
use crate::store::models::{AccessCheck, Revocation, SessionRow};
use crate::store::{StoreError, now, user_columns};

/// Columns of [`SessionRow`].
const SESSION_COLUMNS: &str = "id, user_id, created_at, last_used_at, expires_at, user_agent, ip, revoked_at";

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
    SessionRow: for<'r> FromRow<'r, DB::Row>,
    AccessCheck: for<'r> FromRow<'r, DB::Row>,
    Numbered<AccessCheck>: for<'r> FromRow<'r, DB::Row>,
{
    pub async fn revoke_sessions(&self, revocation: Revocation<'_>) -> Result<u64, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let revoked = revoke_in(&mut tx, revocation, now()).await?;
        tx.commit().await?;
        Ok(revoked)
    }

    pub async fn list_sessions(&self, user_id: Option<i64>, now: DateTime<Utc>) -> Result<Vec<SessionRow>, StoreError> {
        let sessions = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions \
             WHERE revoked_at IS NULL AND expires_at > $1 AND user_id IS NOT NULL \
               AND (CAST($2 AS BIGINT) IS NULL OR user_id = $2) \
             ORDER BY created_at DESC, id"
        )))
        .bind(now)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(sessions)
    }

    pub async fn user_for_access(&self, id: i64, sid: &str) -> Result<Option<AccessCheck>, StoreError> {
        self.access
            .look_up((id, sid.to_owned()), |keys| async move {
                let mut lent = self.kept.lend().await?;
                let rows: Vec<Numbered<AccessCheck>> = if let [(id, sid)] = &keys[..] {
                    sqlx::query_as(concat!(
                        "SELECT CAST(0 AS BIGINT) AS n, u.*, (s.id IS NOT NULL AND s.revoked_at IS NULL) AS session_live \
                         FROM (SELECT ",
                        user_columns!(),
                        " FROM users WHERE id = $1) u LEFT JOIN sessions s ON s.id = $2 AND s.user_id = u.id"
                    ))
                    .bind(*id)
                    .bind(sid.as_str())
                    .fetch_all(lent.connection())
                    .await?
                } else {
                    let (statement, keys) = lookups::batch(&lookups::ACCESS, &keys);
                    keys.fold(sqlx::query_as(statement), |query, (id, sid)| query.bind(*id).bind(sid.as_str()))
                        .fetch_all(lent.connection())
                        .await?
                };
                lent.finished();
                Ok(rows)
            })
            .await
    }
}

/// Revokes sessions as [`crate::store::Store::revoke_sessions`] describes, inside the caller's
/// transaction: the session rows first (on PostgreSQL this locks them), then their tokens.
pub(in crate::store) async fn revoke_in<DB>(
    tx: &mut Transaction<'_, DB>,
    revocation: Revocation<'_>,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error>
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
    match revocation {
        Revocation::Session { id, owner } => {
            let result = sqlx::query(
                "UPDATE sessions SET revoked_at = $2 \
                 WHERE id = $1 AND revoked_at IS NULL AND (CAST($3 AS BIGINT) IS NULL OR user_id = $3)",
            )
            .bind(id)
            .bind(at)
            .bind(owner)
            .execute(&mut **tx)
            .await?;
            let revoked = DB::rows_affected(&result);
            if revoked > 0 {
                sqlx::query(
                    "INSERT INTO blacklisted_tokens (token_id, blacklisted_at) \
                     SELECT id, $2 FROM outstanding_tokens WHERE session_id = $1 AND expires_at > $2 \
                     ON CONFLICT (token_id) DO NOTHING",
                )
                .bind(id)
                .bind(at)
                .execute(&mut **tx)
                .await?;
            }
            Ok(revoked)
        }
        Revocation::User { user_id, keep } => {
            // The sessions are locked in order of their ids, as a batch of rotations locks them
            // (`store/postgres/sessions.rs`), so neither waits for the other in opposite orders.
            let result = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE sessions SET revoked_at = $2 WHERE id IN (\
                     SELECT id FROM sessions \
                     WHERE user_id = $1 AND revoked_at IS NULL AND (CAST($3 AS TEXT) IS NULL OR id <> $3) \
                     ORDER BY id{})",
                DB::LOCK_ROWS
            )))
            .bind(user_id)
            .bind(at)
            .bind(keep)
            .execute(&mut **tx)
            .await?;
            let revoked = DB::rows_affected(&result);
            sqlx::query(
                "INSERT INTO blacklisted_tokens (token_id, blacklisted_at) \
                 SELECT id, $2 FROM outstanding_tokens \
                 WHERE user_id = $1 AND expires_at > $2 \
                   AND (CAST($3 AS TEXT) IS NULL OR session_id IS DISTINCT FROM $3) \
                 ON CONFLICT (token_id) DO NOTHING",
            )
            .bind(user_id)
            .bind(at)
            .bind(keep)
            .execute(&mut **tx)
            .await?;
            Ok(revoked)
        }
    }
}
