//! Link e-mail requests on PostgreSQL: their resolution, whose claim uses `FOR UPDATE SKIP LOCKED`
//! so each request is handled by one instance (the shared throttle statements are in
//! `store::sql::throttle`), reserving a user id from the identity sequence, and a login attempt
//! counted in the statement that reads its user.

use std::sync::LazyLock;

use sqlx::{FromRow, Row};

use super::PgStore;
use crate::store::models::User;
use crate::store::throttle::{BACKOFF_ATTEMPT, Hit};
use crate::store::{StoreError, now, user_columns};

/// [`BACKOFF_ATTEMPT`] (`$1`-`$5`) and the user with e-mail key `$6`: one row, whose `hits` is NULL
/// when the attempt was refused and whose user columns are NULL when nobody has the key.
static ATTEMPT_READING_USER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH hit AS ({attempt}) \
         SELECT (SELECT hits FROM hit) AS hits, {columns} \
         FROM (SELECT 1) AS one LEFT JOIN users ON users.email_key = $6",
        attempt = BACKOFF_ATTEMPT.as_str(),
        columns = user_columns!(),
    )
});

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

    pub async fn throttle_attempt_reading_user(
        &self,
        key: &str,
        now_ms: i64,
        window_ms: i64,
        threshold: i64,
        max_wait_ms: i64,
        email_key: Option<&str>,
    ) -> Result<(Hit, Option<User>), StoreError> {
        let row = sqlx::query(ATTEMPT_READING_USER.as_str())
            .bind(key)
            .bind(now_ms)
            .bind(window_ms)
            .bind(threshold)
            .bind(max_wait_ms)
            .bind(email_key)
            .fetch_one(&self.pool)
            .await?;
        let user = match row.try_get::<Option<i64>, _>("id")? {
            Some(_) => Some(User::from_row(&row)?),
            None => None,
        };
        Ok((self.outcome(key, row.try_get("hits")?).await?, user))
    }

    pub async fn reserve_user_id(&self) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('users', 'id'))")
            .fetch_one(&self.pool)
            .await?;
        Ok(id)
    }
}
