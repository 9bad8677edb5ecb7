//! The e-mail outbox on PostgreSQL: workers in any number of server instances claim due rows with
//! `FOR UPDATE SKIP LOCKED`, so each row is handed to exactly one of them.

use chrono::{DateTime, Utc};

use super::PgStore;
use crate::store::models::ClaimedMail;
use crate::store::{StoreError, now};

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
}
