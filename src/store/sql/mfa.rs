//! Two-factor rows: the statements of `store::mfa_sql` on either database. Each write that goes
//! with an e-mail queues it in the same transaction.

use chrono::{DateTime, Utc};
use sqlx::{Decode, Encode, Executor, FromRow, IntoArguments, Type};

use super::accounts::queue_in;
use super::{Dialect, SqlStore};
use crate::store::mfa::{MfaFactor, NewTicket, TicketLookup};
use crate::store::mfa_sql::*;
use crate::store::models::{QueuedMail, UserId};
use crate::store::{StoreError, now};

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'t> i64: Encode<'t, DB> + Decode<'t, DB> + Type<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> Option<&'t str>: Encode<'t, DB>,
    for<'t> DateTime<Utc>: Encode<'t, DB> + Type<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
    MfaFactor: for<'r> FromRow<'r, DB::Row>,
{
    pub async fn mfa_factors(&self, user_id: i64) -> Result<Vec<MfaFactor>, StoreError> {
        Ok(sqlx::query_as(FACTORS).bind(user_id).fetch_all(&self.pool).await?)
    }

    pub async fn mfa_active_factors(&self, user_id: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(ACTIVE_FACTORS)
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn mfa_start_factor(&self, user_id: i64, id: &str, sealed: &str) -> Result<(), StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        sqlx::query(DELETE_PENDING).bind(user_id).execute(&mut *tx).await?;
        sqlx::query(INSERT_FACTOR)
            .bind(id)
            .bind(user_id)
            .bind(sealed)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn mfa_confirm_factor(
        &self,
        UserId(user_id): UserId,
        id: &str,
        step: i64,
        code_hashes: &[String],
        mails: &[QueuedMail],
    ) -> Result<bool, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let confirmed = sqlx::query(CONFIRM_FACTOR)
            .bind(id)
            .bind(user_id)
            .bind(now())
            .bind(step)
            .execute(&mut *tx)
            .await?;
        if DB::rows_affected(&confirmed) != 1 {
            return Ok(false);
        }
        replace_codes_in(&mut tx, user_id, code_hashes).await?;
        queue_in(&mut tx, user_id, mails).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn mfa_spend_step(&self, UserId(user_id): UserId, id: &str, step: i64) -> Result<bool, StoreError> {
        let _turn = self.write_turn().await;
        let spent = sqlx::query(SPEND_STEP)
            .bind(id)
            .bind(user_id)
            .bind(step)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&spent) == 1)
    }

    pub async fn mfa_delete_factor(&self, user_id: i64, id: &str, mails: &[QueuedMail]) -> Result<bool, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let deleted = sqlx::query(DELETE_FACTOR)
            .bind(id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if DB::rows_affected(&deleted) != 1 {
            return Ok(false);
        }
        sqlx::query(DELETE_ORPHAN_CODES).bind(user_id).execute(&mut *tx).await?;
        queue_in(&mut tx, user_id, mails).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn mfa_reset(&self, user_id: i64, mails: &[QueuedMail]) -> Result<u64, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let deleted = sqlx::query(DELETE_FACTORS).bind(user_id).execute(&mut *tx).await?;
        let deleted = DB::rows_affected(&deleted);
        sqlx::query(DELETE_CODES).bind(user_id).execute(&mut *tx).await?;
        sqlx::query(DELETE_TICKETS).bind(user_id).execute(&mut *tx).await?;
        if deleted > 0 {
            queue_in(&mut tx, user_id, mails).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    pub async fn mfa_replace_codes(
        &self,
        user_id: i64,
        code_hashes: &[String],
        mails: &[QueuedMail],
    ) -> Result<(), StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        replace_codes_in(&mut tx, user_id, code_hashes).await?;
        queue_in(&mut tx, user_id, mails).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn mfa_use_code(&self, user_id: i64, hash: &str, mails: &[QueuedMail]) -> Result<bool, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let used = sqlx::query(USE_CODE)
            .bind(user_id)
            .bind(hash)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        if DB::rows_affected(&used) != 1 {
            return Ok(false);
        }
        queue_in(&mut tx, user_id, mails).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn mfa_codes_left(&self, user_id: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(CODES_LEFT)
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn mfa_insert_ticket(&self, ticket: &NewTicket<'_>) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        sqlx::query(INSERT_TICKET)
            .bind(ticket.hash)
            .bind(ticket.user_id)
            .bind(ticket.purpose.as_str())
            .bind(ticket.expires_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn mfa_ticket_user(&self, lookup: &TicketLookup<'_>) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(TICKET_USER)
            .bind(lookup.hash)
            .bind(lookup.purpose.as_str())
            .bind(lookup.now_ms)
            .bind(lookup.max_failures)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn mfa_ticket_failed(&self, hash: &str) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        sqlx::query(TICKET_FAILED).bind(hash).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn mfa_use_ticket(&self, lookup: &TicketLookup<'_>) -> Result<bool, StoreError> {
        let _turn = self.write_turn().await;
        let used = sqlx::query(USE_TICKET)
            .bind(lookup.hash)
            .bind(lookup.purpose.as_str())
            .bind(lookup.now_ms)
            .bind(lookup.max_failures)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&used) == 1)
    }

    pub async fn mfa_purge_tickets(&self, now_ms: i64) -> Result<u64, StoreError> {
        let _turn = self.write_turn().await;
        let purged = sqlx::query(PURGE_TICKETS).bind(now_ms).execute(&self.pool).await?;
        Ok(DB::rows_affected(&purged))
    }
}

/// Replaces a user's recovery codes inside the caller's transaction.
async fn replace_codes_in<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    user_id: i64,
    code_hashes: &[String],
) -> Result<(), sqlx::Error>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
{
    sqlx::query(DELETE_CODES).bind(user_id).execute(&mut **tx).await?;
    for hash in code_hashes {
        sqlx::query(INSERT_CODE)
            .bind(user_id)
            .bind(hash.as_str())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
