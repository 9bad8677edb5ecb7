//! Link e-mail requests on PostgreSQL: their resolution, whose claim uses `FOR UPDATE SKIP LOCKED`
//! so each request is handled by one instance (the shared throttle statements are in
//! `store::sql::throttle`), and reserving a user id from the identity sequence.

use super::PgStore;
use crate::store::{StoreError, now};

impl PgStore {
    pub async fn resolve_mail_requests(&self, limit: i64) -> Result<(u64, u64), StoreError> {
        let (handled, queued): (i64, i64) = sqlx::query_as(
            "WITH claimed AS ( \
                 DELETE FROM mail_requests WHERE id IN \
                     (SELECT id FROM mail_requests ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) \
                 RETURNING id, kind, email_key, want_active), \
             queued AS ( \
                 INSERT INTO email_outbox (kind, user_id, recipient, status, next_attempt_at, created_at) \
                 SELECT c.kind, u.id, u.email, 'pending', $2, $2 FROM claimed c \
                 JOIN users u ON u.email_key = c.email_key \
                 WHERE u.is_active = c.want_active AND u.suspended_at IS NULL AND u.password NOT LIKE '!%' \
                 RETURNING 1) \
             SELECT (SELECT count(*) FROM claimed), (SELECT count(*) FROM queued)",
        )
        .bind(limit)
        .bind(now())
        .fetch_one(&self.pool)
        .await?;
        Ok((handled.unsigned_abs(), queued.unsigned_abs()))
    }

    pub async fn reserve_user_id(&self) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('users', 'id'))")
            .fetch_one(&self.pool)
            .await?;
        Ok(id)
    }
}
