//! The e-mail outbox on PostgreSQL: workers in any number of server instances claim due rows with
//! `FOR UPDATE SKIP LOCKED`, so each row is handed to exactly one of them.

use chrono::{DateTime, Utc};

use super::PgStore;
use crate::store::models::{ClaimedMail, OutboxEntry};
use crate::store::{StoreError, now};

const ENTRY_COLUMNS: &str = "id, kind, recipient, status, attempts, next_attempt_at, last_error, created_at, sent_at";

impl PgStore {
    pub async fn claim_mail(&self, limit: i64, lease_until: DateTime<Utc>) -> Result<Vec<ClaimedMail>, StoreError> {
        let claimed = sqlx::query_as(
            "UPDATE email_outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = $2 \
             WHERE id IN (SELECT id FROM email_outbox \
                          WHERE status IN ('pending', 'sending') AND next_attempt_at <= $1 \
                          ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING id, kind, user_id, recipient, attempts",
        )
        .bind(now())
        .bind(lease_until)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(claimed)
    }

    pub async fn mark_mail_sent(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE email_outbox SET status = 'sent', sent_at = $2, last_error = NULL WHERE id = $1")
            .bind(id)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn reschedule_mail(&self, id: i64, at: DateTime<Utc>, error: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE email_outbox SET status = 'pending', next_attempt_at = $2, last_error = $3 WHERE id = $1")
            .bind(id)
            .bind(at)
            .bind(error)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn fail_mail(&self, id: i64, error: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE email_outbox SET status = 'failed', last_error = $2 WHERE id = $1")
            .bind(id)
            .bind(error)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn list_mail(&self, status: Option<&str>, limit: i64) -> Result<Vec<OutboxEntry>, StoreError> {
        let entries = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM email_outbox WHERE ($1::text IS NULL OR status = $1) ORDER BY id DESC LIMIT $2"
        )))
        .bind(status)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(entries)
    }

    pub async fn retry_mail(&self, id: i64) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE email_outbox SET status = 'pending', attempts = 0, next_attempt_at = $2, last_error = NULL \
             WHERE id = $1 AND status = 'failed'",
        )
        .bind(id)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }
}
