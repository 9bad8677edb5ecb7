//! The e-mail outbox after a claim: delivery outcomes, the operator's listing and retry, and the
//! purge of old rows. Claims differ per database (`store/postgres/outbox.rs`, `store/sqlite/outbox.rs`).

use chrono::{DateTime, Utc};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};

use super::{Dialect, SqlStore};
use crate::store::models::{OutboxEntry, OutboxStatus};
use crate::store::{StoreError, now};

const ENTRY_COLUMNS: &str = "id, kind, recipient, status, attempts, next_attempt_at, last_error, created_at, sent_at";

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> Option<&'t str>: Encode<'t, DB>,
    for<'t> DateTime<Utc>: Encode<'t, DB> + Type<DB>,
    OutboxEntry: for<'r> FromRow<'r, DB::Row>,
{
    pub async fn mark_mail_sent(&self, id: i64) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        sqlx::query("UPDATE email_outbox SET status = 'sent', sent_at = $2, last_error = NULL WHERE id = $1")
            .bind(id)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn reschedule_mail(&self, id: i64, at: DateTime<Utc>, error: &str) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        sqlx::query("UPDATE email_outbox SET status = 'pending', next_attempt_at = $2, last_error = $3 WHERE id = $1")
            .bind(id)
            .bind(at)
            .bind(error)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn fail_mail(&self, id: i64, error: &str) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        sqlx::query("UPDATE email_outbox SET status = 'failed', last_error = $2 WHERE id = $1")
            .bind(id)
            .bind(error)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn list_mail(&self, status: Option<OutboxStatus>, limit: i64) -> Result<Vec<OutboxEntry>, StoreError> {
        let entries = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ENTRY_COLUMNS} FROM email_outbox WHERE (CAST($1 AS TEXT) IS NULL OR status = $1) \
             ORDER BY id DESC LIMIT $2"
        )))
        .bind(status.map(OutboxStatus::as_str))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(entries)
    }

    pub async fn retry_mail(&self, id: i64) -> Result<bool, StoreError> {
        let _turn = self.write_turn().await;
        let result = sqlx::query(
            "UPDATE email_outbox SET status = 'pending', attempts = 0, next_attempt_at = $2, last_error = NULL \
             WHERE id = $1 AND status = 'failed'",
        )
        .bind(id)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(DB::rows_affected(&result) == 1)
    }

    pub async fn purge_outbox(
        &self,
        sent_before: DateTime<Utc>,
        failed_before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let _turn = self.write_turn().await;
        let result = sqlx::query(
            "DELETE FROM email_outbox WHERE (status = 'sent' AND sent_at < $1) \
             OR (status = 'failed' AND created_at < $2)",
        )
        .bind(sent_before)
        .bind(failed_before)
        .execute(&self.pool)
        .await?;
        Ok(DB::rows_affected(&result))
    }
}
