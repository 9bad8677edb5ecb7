//! Link e-mail requests on SQLite: their resolution in one `BEGIN IMMEDIATE` transaction (the
//! shared throttle statements are in `store::sql::throttle`), reserving a user id through
//! `sqlite_sequence`, and a login attempt with its user.

use super::SqliteStore;
use crate::store::models::User;
use crate::store::throttle::Hit;
use crate::store::{StoreError, now};

impl SqliteStore {
    /// The attempt (a write, in its turn), then the user (a read, which need not wait for one).
    pub async fn throttle_attempt_reading_user(
        &self,
        key: &str,
        now_ms: i64,
        window_ms: i64,
        threshold: i64,
        max_wait_ms: i64,
        email_key: Option<&str>,
    ) -> Result<(Hit, Option<User>), StoreError> {
        let hit = self
            .throttle_attempt(key, now_ms, window_ms, threshold, max_wait_ms)
            .await?;
        let user = match email_key {
            Some(email_key) => self.user_by_email(email_key).await?,
            None => None,
        };
        Ok((hit, user))
    }

    pub async fn resolve_mail_requests(&self, limit: i64) -> Result<(u64, u64), StoreError> {
        let at = now();
        let (_turn, mut tx) = self.begin_write().await?;
        let last: Option<i64> =
            sqlx::query_scalar("SELECT max(id) FROM (SELECT id FROM mail_requests ORDER BY id LIMIT $1)")
                .bind(limit)
                .fetch_one(&mut *tx)
                .await?;
        let Some(last) = last else {
            return Ok((0, 0));
        };
        let queued = sqlx::query(
            "INSERT INTO email_outbox (kind, user_id, recipient, status, next_attempt_at, created_at) \
             SELECT r.kind, u.id, u.email, 'pending', $1, $1 FROM mail_requests r \
             JOIN users u ON u.email_key = r.email_key \
             WHERE r.id <= $2 AND u.is_active = r.want_active AND u.suspended_at IS NULL AND u.password NOT LIKE '!%' ORDER BY r.id",
        )
        .bind(at)
        .bind(last)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let handled = sqlx::query("DELETE FROM mail_requests WHERE id <= $1")
            .bind(last)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok((handled, queued))
    }

    pub async fn reserve_user_id(&self) -> Result<i64, StoreError> {
        // AUTOINCREMENT keeps the highest id ever used in sqlite_sequence; raising it skips one id.
        let (_turn, mut tx) = self.begin_write().await?;
        let next: i64 = sqlx::query_scalar(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'users'), 0), \
                        coalesce((SELECT max(id) FROM users), 0)) + 1",
        )
        .fetch_one(&mut *tx)
        .await?;
        let updated = sqlx::query("UPDATE sqlite_sequence SET seq = $1 WHERE name = 'users'")
            .bind(next)
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() == 0 {
            sqlx::query("INSERT INTO sqlite_sequence (name, seq) VALUES ('users', $1)")
                .bind(next)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(next)
    }
}
