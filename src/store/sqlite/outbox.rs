//! The e-mail outbox on SQLite: one writer at a time (`BEGIN IMMEDIATE`), so a claim is atomic and
//! each row goes to exactly one worker.

use chrono::{DateTime, Utc};

use super::SqliteStore;
use crate::store::models::{ClaimedMail, OutboxEntry};
use crate::store::{StoreError, now};

const ENTRY_COLUMNS: &str = "id, kind, recipient, status, attempts, next_attempt_at, last_error, created_at, sent_at";

impl SqliteStore {
    pub async fn claim_mail(&self, limit: i64, lease_until: DateTime<Utc>) -> Result<Vec<ClaimedMail>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let claimed = sqlx::query_as(
            "UPDATE email_outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = ? \
             WHERE id IN (SELECT id FROM email_outbox \
                          WHERE status IN ('pending', 'sending') AND next_attempt_at <= ? \
                          ORDER BY next_attempt_at, id LIMIT ?) \
             RETURNING id, kind, user_id, recipient, attempts",
        )
        .bind(lease_until)
        .bind(now())
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(claimed)
    }

    pub async fn mark_mail_sent(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE email_outbox SET status = 'sent', sent_at = ?, last_error = NULL WHERE id = ?")
            .bind(now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn reschedule_mail(&self, id: i64, at: DateTime<Utc>, error: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE email_outbox SET status = 'pending', next_attempt_at = ?, last_error = ? WHERE id = ?")
            .bind(at)
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn fail_mail(&self, id: i64, error: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE email_outbox SET status = 'failed', last_error = ? WHERE id = ?")
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn list_mail(&self, status: Option<&str>, limit: i64) -> Result<Vec<OutboxEntry>, StoreError> {
        let entries = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM email_outbox WHERE (? IS NULL OR status = ?) ORDER BY id DESC LIMIT ?"
        )))
        .bind(status)
        .bind(status)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(entries)
    }

    pub async fn retry_mail(&self, id: i64) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE email_outbox SET status = 'pending', attempts = 0, next_attempt_at = ?, last_error = NULL \
             WHERE id = ? AND status = 'failed'",
        )
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }
}
