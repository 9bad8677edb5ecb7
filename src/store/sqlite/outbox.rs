//! The e-mail outbox on SQLite: one writer at a time (`BEGIN IMMEDIATE`), so a claim is atomic and
//! each row goes to exactly one worker.

use chrono::{DateTime, Utc};

use super::SqliteStore;
use crate::store::models::ClaimedMail;
use crate::store::{StoreError, now};

impl SqliteStore {
    pub async fn claim_mail(&self, limit: i64, lease_until: DateTime<Utc>) -> Result<Vec<ClaimedMail>, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
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
}
