//! Throttle counters and link e-mail requests on PostgreSQL: the shared statements of
//! `store::throttle`, and the request resolution, whose claim uses `FOR UPDATE SKIP LOCKED` so each
//! request is handled by one instance.

use chrono::{DateTime, Utc};

use super::PgStore;
use crate::store::throttle::{
    ACTIVE, BACKOFF_ATTEMPT, CLEAR_MATCHING, CLEAR_TWO, CounterRow, Hit, PURGE, REFUSED_UNTIL, WINDOW_HIT,
};
use crate::store::{StoreError, now};

impl PgStore {
    pub async fn throttle_hit(&self, key: &str, limit: i64, period_ms: i64, now_ms: i64) -> Result<Hit, StoreError> {
        let hits: Option<i64> = sqlx::query_scalar(WINDOW_HIT)
            .bind(key)
            .bind(now_ms)
            .bind(period_ms)
            .bind(limit)
            .fetch_optional(&self.pool)
            .await?;
        self.outcome(key, hits).await
    }

    pub async fn throttle_attempt(
        &self,
        key: &str,
        now_ms: i64,
        window_ms: i64,
        threshold: i64,
        max_wait_ms: i64,
    ) -> Result<Hit, StoreError> {
        let hits: Option<i64> = sqlx::query_scalar(BACKOFF_ATTEMPT.as_str())
            .bind(key)
            .bind(now_ms)
            .bind(window_ms)
            .bind(threshold)
            .bind(max_wait_ms)
            .fetch_optional(&self.pool)
            .await?;
        self.outcome(key, hits).await
    }

    async fn outcome(&self, key: &str, hits: Option<i64>) -> Result<Hit, StoreError> {
        if let Some(hits) = hits {
            return Ok(Hit::Allowed { hits });
        }
        let until_ms: Option<i64> = sqlx::query_scalar(REFUSED_UNTIL)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(Hit::Refused {
            until_ms: until_ms.unwrap_or_default(),
        })
    }

    pub async fn throttle_clear(&self, first: &str, second: &str) -> Result<(), StoreError> {
        sqlx::query(CLEAR_TWO)
            .bind(first)
            .bind(second)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn throttle_clear_matching(&self, exact: &str, prefix: Option<&str>) -> Result<u64, StoreError> {
        let result = sqlx::query(CLEAR_MATCHING)
            .bind(exact)
            .bind(prefix)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

    pub async fn throttle_active(&self, now_ms: i64) -> Result<Vec<CounterRow>, StoreError> {
        Ok(sqlx::query_as(ACTIVE).bind(now_ms).fetch_all(&self.pool).await?)
    }

    pub async fn purge_throttle_counters(&self, now_ms: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(PURGE)
            .bind(now_ms)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    pub async fn request_mail(&self, kind: &str, email_key: &str, want_active: bool) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO mail_requests (kind, email_key, want_active, created_at) VALUES ($1, $2, $3, $4)")
            .bind(kind)
            .bind(email_key)
            .bind(want_active)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

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

    pub async fn purge_outbox(
        &self,
        sent_before: DateTime<Utc>,
        failed_before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "DELETE FROM email_outbox WHERE (status = 'sent' AND sent_at < $1) \
             OR (status = 'failed' AND created_at < $2)",
        )
        .bind(sent_before)
        .bind(failed_before)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }
}
