//! The statements of two-factor login, written once for both databases with `$n` placeholders
//! (SQLite gets `?n`, see [`for_sqlite`]), and [`mfa_queries!`], which implements the store
//! functions that run them on each backend from one source. Times that SQL compares are Unix
//! milliseconds; timestamps are bound from Rust and only compared with NULL.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

/// A user's factors, oldest first: `$1` user.
pub(super) const FACTORS: &str = "SELECT id, kind, secret, created_at, confirmed_at, last_step \
     FROM mfa_factors WHERE user_id = $1 ORDER BY created_at, id";

/// How many confirmed factors a user has: `$1` user.
pub(super) const ACTIVE_FACTORS: &str =
    "SELECT count(*) FROM mfa_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL";

/// Enrolment keeps one pending factor per user: `$1` user.
pub(super) const DELETE_PENDING: &str = "DELETE FROM mfa_factors WHERE user_id = $1 AND confirmed_at IS NULL";

/// A pending factor: `$1` id, `$2` user, `$3` sealed secret, `$4` now.
pub(super) const INSERT_FACTOR: &str =
    "INSERT INTO mfa_factors (id, user_id, kind, secret, created_at) VALUES ($1, $2, 'totp', $3, $4)";

/// Activates a pending factor with the step of its first code: `$1` id, `$2` user, `$3` now, `$4` step.
pub(super) const CONFIRM_FACTOR: &str = "UPDATE mfa_factors SET confirmed_at = $3, last_step = $4 \
     WHERE id = $1 AND user_id = $2 AND confirmed_at IS NULL";

/// Spends time step `$3` of an active factor (`$1` id, `$2` user): changes nothing when that step
/// or a later one was already used, so one code passes once.
pub(super) const SPEND_STEP: &str = "UPDATE mfa_factors SET last_step = $3 \
     WHERE id = $1 AND user_id = $2 AND confirmed_at IS NOT NULL AND last_step < $3";

/// `$1` id, `$2` user.
pub(super) const DELETE_FACTOR: &str = "DELETE FROM mfa_factors WHERE id = $1 AND user_id = $2";

/// Every factor of user `$1`.
pub(super) const DELETE_FACTORS: &str = "DELETE FROM mfa_factors WHERE user_id = $1";

/// Recovery codes of user `$1` once no confirmed factor is left (they would unlock nothing, and a
/// new enrolment issues new ones).
pub(super) const DELETE_ORPHAN_CODES: &str = "DELETE FROM mfa_recovery_codes WHERE user_id = $1 AND NOT EXISTS \
     (SELECT 1 FROM mfa_factors WHERE mfa_factors.user_id = $1 AND confirmed_at IS NOT NULL)";

/// Every recovery code of user `$1`.
pub(super) const DELETE_CODES: &str = "DELETE FROM mfa_recovery_codes WHERE user_id = $1";

/// `$1` user, `$2` code hash.
pub(super) const INSERT_CODE: &str = "INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES ($1, $2)";

/// Uses a recovery code once: `$1` user, `$2` code hash, `$3` now.
pub(super) const USE_CODE: &str = "UPDATE mfa_recovery_codes SET used_at = $3 \
     WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL";

/// Unused recovery codes of user `$1`.
pub(super) const CODES_LEFT: &str = "SELECT count(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL";

/// `$1` ticket hash, `$2` user, `$3` purpose, `$4` expiry (ms).
pub(super) const INSERT_TICKET: &str =
    "INSERT INTO mfa_tickets (ticket_hash, user_id, purpose, expires_ms) VALUES ($1, $2, $3, $4)";

/// The user of a live ticket: `$1` hash, `$2` purpose, `$3` now (ms), `$4` failures that burn it.
pub(super) const TICKET_USER: &str = "SELECT user_id FROM mfa_tickets \
     WHERE ticket_hash = $1 AND purpose = $2 AND expires_ms > $3 AND failures < $4";

/// Counts a wrong code against ticket `$1`.
pub(super) const TICKET_FAILED: &str = "UPDATE mfa_tickets SET failures = failures + 1 WHERE ticket_hash = $1";

/// Spends a live ticket (same parameters as [`TICKET_USER`]): of two requests, one deletes it.
pub(super) const USE_TICKET: &str = "DELETE FROM mfa_tickets \
     WHERE ticket_hash = $1 AND purpose = $2 AND expires_ms > $3 AND failures < $4";

/// Every ticket of user `$1`.
pub(super) const DELETE_TICKETS: &str = "DELETE FROM mfa_tickets WHERE user_id = $1";

/// Tickets expired at `$1` (ms).
pub(super) const PURGE_TICKETS: &str = "DELETE FROM mfa_tickets WHERE expires_ms <= $1";

/// The PostgreSQL text of a statement: as written.
pub(super) fn for_postgres(statement: &'static str) -> &'static str {
    statement
}

/// The SQLite text of a statement: `$n` becomes `?n` (the statements hold no other `$`). Made once
/// per statement and kept: the set of statements is fixed, so the cache is bounded.
pub(super) fn for_sqlite(statement: &'static str) -> &'static str {
    static CACHE: LazyLock<Mutex<HashMap<&'static str, &'static str>>> = LazyLock::new(Default::default);
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    cache
        .entry(statement)
        .or_insert_with(|| Box::leak(statement.replace('$', "?").into_boxed_str()))
}

/// Implements the two-factor store functions on one backend: `$store` (with a `pool`), the
/// function giving its text of a statement, and how it opens a write transaction (SQLite takes
/// the write lock up front with `BEGIN IMMEDIATE`). Both backends' `accounts` module provides
/// `queue_in`, which queues e-mail inside the transaction.
macro_rules! mfa_queries {
    ($store:ty, $sql:path, $begin:ident $(, $begin_arg:literal)?) => {
        impl $store {
            pub async fn mfa_factors(&self, user_id: i64) -> Result<Vec<MfaFactor>, StoreError> {
                Ok(sqlx::query_as($sql(FACTORS)).bind(user_id).fetch_all(&self.pool).await?)
            }

            pub async fn mfa_active_factors(&self, user_id: i64) -> Result<i64, StoreError> {
                Ok(sqlx::query_scalar($sql(ACTIVE_FACTORS)).bind(user_id).fetch_one(&self.pool).await?)
            }

            pub async fn mfa_start_factor(&self, user_id: i64, id: &str, sealed: &str) -> Result<(), StoreError> {
                let mut tx = self.pool.$begin($($begin_arg)?).await?;
                sqlx::query($sql(DELETE_PENDING)).bind(user_id).execute(&mut *tx).await?;
                sqlx::query($sql(INSERT_FACTOR))
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
                user_id: i64,
                id: &str,
                step: i64,
                code_hashes: &[String],
                mails: &[QueuedMail],
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool.$begin($($begin_arg)?).await?;
                let confirmed = sqlx::query($sql(CONFIRM_FACTOR))
                    .bind(id)
                    .bind(user_id)
                    .bind(now())
                    .bind(step)
                    .execute(&mut *tx)
                    .await?;
                if confirmed.rows_affected() != 1 {
                    return Ok(false);
                }
                sqlx::query($sql(DELETE_CODES)).bind(user_id).execute(&mut *tx).await?;
                for hash in code_hashes {
                    sqlx::query($sql(INSERT_CODE)).bind(user_id).bind(hash).execute(&mut *tx).await?;
                }
                super::accounts::queue_in(&mut tx, user_id, mails).await?;
                tx.commit().await?;
                Ok(true)
            }

            pub async fn mfa_spend_step(&self, user_id: i64, id: &str, step: i64) -> Result<bool, StoreError> {
                let spent = sqlx::query($sql(SPEND_STEP))
                    .bind(id)
                    .bind(user_id)
                    .bind(step)
                    .execute(&self.pool)
                    .await?;
                Ok(spent.rows_affected() == 1)
            }

            pub async fn mfa_delete_factor(
                &self,
                user_id: i64,
                id: &str,
                mails: &[QueuedMail],
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool.$begin($($begin_arg)?).await?;
                let deleted = sqlx::query($sql(DELETE_FACTOR)).bind(id).bind(user_id).execute(&mut *tx).await?;
                if deleted.rows_affected() != 1 {
                    return Ok(false);
                }
                sqlx::query($sql(DELETE_ORPHAN_CODES)).bind(user_id).execute(&mut *tx).await?;
                super::accounts::queue_in(&mut tx, user_id, mails).await?;
                tx.commit().await?;
                Ok(true)
            }

            pub async fn mfa_reset(&self, user_id: i64, mails: &[QueuedMail]) -> Result<u64, StoreError> {
                let mut tx = self.pool.$begin($($begin_arg)?).await?;
                let deleted = sqlx::query($sql(DELETE_FACTORS)).bind(user_id).execute(&mut *tx).await?;
                sqlx::query($sql(DELETE_CODES)).bind(user_id).execute(&mut *tx).await?;
                sqlx::query($sql(DELETE_TICKETS)).bind(user_id).execute(&mut *tx).await?;
                if deleted.rows_affected() > 0 {
                    super::accounts::queue_in(&mut tx, user_id, mails).await?;
                }
                tx.commit().await?;
                Ok(deleted.rows_affected())
            }

            pub async fn mfa_replace_codes(
                &self,
                user_id: i64,
                code_hashes: &[String],
                mails: &[QueuedMail],
            ) -> Result<(), StoreError> {
                let mut tx = self.pool.$begin($($begin_arg)?).await?;
                sqlx::query($sql(DELETE_CODES)).bind(user_id).execute(&mut *tx).await?;
                for hash in code_hashes {
                    sqlx::query($sql(INSERT_CODE)).bind(user_id).bind(hash).execute(&mut *tx).await?;
                }
                super::accounts::queue_in(&mut tx, user_id, mails).await?;
                tx.commit().await?;
                Ok(())
            }

            pub async fn mfa_use_code(&self, user_id: i64, hash: &str, mails: &[QueuedMail]) -> Result<bool, StoreError> {
                let mut tx = self.pool.$begin($($begin_arg)?).await?;
                let used = sqlx::query($sql(USE_CODE))
                    .bind(user_id)
                    .bind(hash)
                    .bind(now())
                    .execute(&mut *tx)
                    .await?;
                if used.rows_affected() != 1 {
                    return Ok(false);
                }
                super::accounts::queue_in(&mut tx, user_id, mails).await?;
                tx.commit().await?;
                Ok(true)
            }

            pub async fn mfa_codes_left(&self, user_id: i64) -> Result<i64, StoreError> {
                Ok(sqlx::query_scalar($sql(CODES_LEFT)).bind(user_id).fetch_one(&self.pool).await?)
            }

            pub async fn mfa_insert_ticket(&self, ticket: &NewTicket<'_>) -> Result<(), StoreError> {
                sqlx::query($sql(INSERT_TICKET))
                    .bind(ticket.hash)
                    .bind(ticket.user_id)
                    .bind(ticket.purpose.as_str())
                    .bind(ticket.expires_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            pub async fn mfa_ticket_user(&self, lookup: &TicketLookup<'_>) -> Result<Option<i64>, StoreError> {
                Ok(sqlx::query_scalar($sql(TICKET_USER))
                    .bind(lookup.hash)
                    .bind(lookup.purpose.as_str())
                    .bind(lookup.now_ms)
                    .bind(lookup.max_failures)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            pub async fn mfa_ticket_failed(&self, hash: &str) -> Result<(), StoreError> {
                sqlx::query($sql(TICKET_FAILED)).bind(hash).execute(&self.pool).await?;
                Ok(())
            }

            pub async fn mfa_use_ticket(&self, lookup: &TicketLookup<'_>) -> Result<bool, StoreError> {
                let used = sqlx::query($sql(USE_TICKET))
                    .bind(lookup.hash)
                    .bind(lookup.purpose.as_str())
                    .bind(lookup.now_ms)
                    .bind(lookup.max_failures)
                    .execute(&self.pool)
                    .await?;
                Ok(used.rows_affected() == 1)
            }

            pub async fn mfa_purge_tickets(&self, now_ms: i64) -> Result<u64, StoreError> {
                let purged = sqlx::query($sql(PURGE_TICKETS)).bind(now_ms).execute(&self.pool).await?;
                Ok(purged.rows_affected())
            }
        }
    };
}
pub(super) use mfa_queries;
