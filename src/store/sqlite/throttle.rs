//! Throttle counters and link e-mail requests on SQLite: the shared statements of
//! `store::throttle` (with `?n` placeholders), and the request resolution in one `BEGIN IMMEDIATE`
//! transaction.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};

use super::SqliteStore;
use crate::store::throttle::{
    ACTIVE, BACKOFF_ATTEMPT, CLEAR_MATCHING, CLEAR_TWO, CounterRow, Hit, PURGE, REFUSED_UNTIL, WINDOW_HIT,
};
use crate::store::{StoreError, now};

/// SQLite numbers its parameters `?1`, `?2`, ... where PostgreSQL writes `$1`, `$2`, ...
fn dialect(sql: &str) -> String {
    sql.replace('$', "?")
}

static WINDOW_HIT_SQLITE: LazyLock<String> = LazyLock::new(|| dialect(WINDOW_HIT));
static BACKOFF_ATTEMPT_SQLITE: LazyLock<String> = LazyLock::new(|| dialect(&BACKOFF_ATTEMPT));
static REFUSED_UNTIL_SQLITE: LazyLock<String> = LazyLock::new(|| dialect(REFUSED_UNTIL));
static CLEAR_TWO_SQLITE: LazyLock<String> = LazyLock::new(|| dialect(CLEAR_TWO));
static CLEAR_MATCHING_SQLITE: LazyLock<String> = LazyLock::new(|| dialect(CLEAR_MATCHING));
static ACTIVE_SQLITE: LazyLock<String> = LazyLock::new(|| dialect(ACTIVE));
static PURGE_SQLITE: LazyLock<String> = LazyLock::new(|| dialect(PURGE));

fn sql(text: &'static LazyLock<String>) -> &'static str {
    text.as_str()
}

impl SqliteStore {
    pub async fn throttle_hit(&self, key: &str, limit: i64, period_ms: i64, now_ms: i64) -> Result<Hit, StoreError> {
        let hits: Option<i64> = sqlx::query_scalar(sql(&WINDOW_HIT_SQLITE))
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
        let hits: Option<i64> = sqlx::query_scalar(sql(&BACKOFF_ATTEMPT_SQLITE))
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
        let until_ms: Option<i64> = sqlx::query_scalar(sql(&REFUSED_UNTIL_SQLITE))
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(Hit::Refused {
            until_ms: until_ms.unwrap_or_default(),
        })
    }

    pub async fn throttle_clear(&self, first: &str, second: &str) -> Result<(), StoreError> {
        sqlx::query(sql(&CLEAR_TWO_SQLITE))
            .bind(first)
            .bind(second)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn throttle_clear_matching(&self, exact: &str, prefix: Option<&str>) -> Result<u64, StoreError> {
        let result = sqlx::query(sql(&CLEAR_MATCHING_SQLITE))
            .bind(exact)
            .bind(prefix)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

    pub async fn throttle_active(&self, now_ms: i64) -> Result<Vec<CounterRow>, StoreError> {
        Ok(sqlx::query_as(sql(&ACTIVE_SQLITE))
            .bind(now_ms)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn purge_throttle_counters(&self, now_ms: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(sql(&PURGE_SQLITE))
            .bind(now_ms)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    pub async fn request_mail(&self, kind: &str, email_key: &str, want_active: bool) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO mail_requests (kind, email_key, want_active, created_at) VALUES (?, ?, ?, ?)")
            .bind(kind)
            .bind(email_key)
            .bind(want_active)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn resolve_mail_requests(&self, limit: i64) -> Result<(u64, u64), StoreError> {
        let at = now();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let last: Option<i64> =
            sqlx::query_scalar("SELECT max(id) FROM (SELECT id FROM mail_requests ORDER BY id LIMIT ?)")
                .bind(limit)
                .fetch_one(&mut *tx)
                .await?;
        let Some(last) = last else {
            return Ok((0, 0));
        };
        let queued = sqlx::query(
            "INSERT INTO email_outbox (kind, user_id, recipient, status, next_attempt_at, created_at) \
             SELECT r.kind, u.id, u.email, 'pending', ?, ? FROM mail_requests r \
             JOIN users u ON u.email_key = r.email_key \
             WHERE r.id <= ? AND u.is_active = r.want_active AND u.suspended_at IS NULL AND u.password NOT LIKE '!%' ORDER BY r.id",
        )
        .bind(at)
        .bind(at)
        .bind(last)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let handled = sqlx::query("DELETE FROM mail_requests WHERE id <= ?")
            .bind(last)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok((handled, queued))
    }

    pub async fn reserve_user_id(&self) -> Result<i64, StoreError> {
        // AUTOINCREMENT keeps the highest id ever used in sqlite_sequence; raising it skips one id.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let next: i64 = sqlx::query_scalar(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'users'), 0), \
                        coalesce((SELECT max(id) FROM users), 0)) + 1",
        )
        .fetch_one(&mut *tx)
        .await?;
        let updated = sqlx::query("UPDATE sqlite_sequence SET seq = ? WHERE name = 'users'")
            .bind(next)
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() == 0 {
            sqlx::query("INSERT INTO sqlite_sequence (name, seq) VALUES ('users', ?)")
                .bind(next)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(next)
    }

    pub async fn purge_outbox(
        &self,
        sent_before: DateTime<Utc>,
        failed_before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "DELETE FROM email_outbox WHERE (status = 'sent' AND sent_at < ?) \
             OR (status = 'failed' AND created_at < ?)",
        )
        .bind(sent_before)
        .bind(failed_before)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }
}
