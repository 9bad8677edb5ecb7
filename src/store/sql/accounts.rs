//! Account writes, each one transaction together with the e-mails it promises.

use chrono::{DateTime, Utc};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Transaction, Type};

use super::{Dialect, SqlStore, revoke_in};
use crate::store::models::{EmailChange, NewUser, PasswordChange, QueuedMail, Revocation, User};
use crate::store::{StoreError, now, user_columns};

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> Option<&'t str>: Encode<'t, DB>,
    for<'t> Option<i64>: Encode<'t, DB>,
    for<'t> DateTime<Utc>: Encode<'t, DB> + Type<DB>,
    User: for<'r> FromRow<'r, DB::Row>,
{
    pub async fn create_user(&self, user: &NewUser, email_key: &str, mails: &[QueuedMail]) -> Result<User, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let created = sqlx::query_as::<_, User>(concat!(
            "INSERT INTO users (email, email_key, username, first_name, last_name, password, \
                                is_active, is_staff, is_superuser, date_joined) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ",
            user_columns!()
        ))
        .bind(user.email.as_str())
        .bind(email_key)
        .bind(user.username.as_str())
        .bind(user.first_name.as_str())
        .bind(user.last_name.as_str())
        .bind(user.password.as_str())
        .bind(user.is_active)
        .bind(user.is_staff)
        .bind(user.is_superuser)
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::from_users_write)?;
        queue_in(&mut tx, created.id, mails).await?;
        tx.commit().await?;
        Ok(created)
    }

    pub async fn activate_user(&self, id: i64, mails: &[QueuedMail]) -> Result<bool, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let result =
            sqlx::query("UPDATE users SET is_active = TRUE WHERE id = $1 AND NOT is_active AND suspended_at IS NULL")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        let changed = DB::rows_affected(&result) == 1;
        if changed {
            queue_in(&mut tx, id, mails).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    pub async fn queue_mail(&self, user_id: i64, mails: &[QueuedMail]) -> Result<(), StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        queue_in(&mut tx, user_id, mails).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn change_password(
        &self,
        id: i64,
        change: &PasswordChange<'_>,
        mails: &[QueuedMail],
    ) -> Result<bool, StoreError> {
        let at = now();
        let (_turn, mut tx) = self.begin_write().await?;
        let result = sqlx::query(
            "UPDATE users SET password = $1, last_login = CASE WHEN $2 THEN $3 ELSE last_login END \
             WHERE id = $4 AND (CAST($5 AS TEXT) IS NULL OR password = $5)",
        )
        .bind(change.new_hash)
        .bind(change.touch_last_login)
        .bind(at)
        .bind(id)
        .bind(change.expected_hash)
        .execute(&mut *tx)
        .await?;
        if DB::rows_affected(&result) != 1 {
            return Ok(false);
        }
        if change.revoke_tokens {
            revoke_in(
                &mut tx,
                Revocation::User {
                    user_id: id,
                    keep: None,
                },
                at,
            )
            .await?;
        }
        queue_in(&mut tx, id, mails).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn change_email(
        &self,
        id: i64,
        change: &EmailChange<'_>,
        mails: &[QueuedMail],
    ) -> Result<bool, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let result = sqlx::query(
            "UPDATE users SET email = $1, email_key = $2, pending_email = NULL, \
                              last_login = CASE WHEN $3 THEN $4 ELSE last_login END \
             WHERE id = $5 AND (CAST($6 AS TEXT) IS NULL OR email = $6)",
        )
        .bind(change.new_email)
        .bind(change.new_key)
        .bind(change.touch_last_login)
        .bind(now())
        .bind(id)
        .bind(change.expected_email)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_users_write)?;
        let updated = DB::rows_affected(&result) == 1;
        if updated {
            queue_in(&mut tx, id, mails).await?;
            tx.commit().await?;
        }
        Ok(updated)
    }

    pub async fn request_email_change(&self, id: i64, pending: &str, mails: &[QueuedMail]) -> Result<bool, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let result = sqlx::query("UPDATE users SET pending_email = $1 WHERE id = $2")
            .bind(pending)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if DB::rows_affected(&result) != 1 {
            return Ok(false);
        }
        queue_in(&mut tx, id, mails).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn suspend_user(&self, id: i64) -> Result<bool, StoreError> {
        let at = now();
        let (_turn, mut tx) = self.begin_write().await?;
        let result =
            sqlx::query("UPDATE users SET is_active = FALSE, suspended_at = COALESCE(suspended_at, $1) WHERE id = $2")
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        if DB::rows_affected(&result) != 1 {
            return Ok(false);
        }
        revoke_in(
            &mut tx,
            Revocation::User {
                user_id: id,
                keep: None,
            },
            at,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn set_email_key(&self, id: i64, email_key: &str) -> Result<bool, StoreError> {
        let _turn = self.write_turn().await;
        let result = sqlx::query("UPDATE users SET email_key = $1 WHERE id = $2 AND email_key <> $1")
            .bind(email_key)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(StoreError::from_users_write)?;
        Ok(DB::rows_affected(&result) == 1)
    }

    pub async fn delete_user(&self, id: i64, delete_tokens: bool) -> Result<bool, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        if delete_tokens {
            // The sessions take their tokens with them (CASCADE); then tokens that had none.
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM outstanding_tokens WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let result = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(DB::rows_affected(&result) == 1)
    }
}

/// Queues `mails` about `user_id`, due now, inside the caller's transaction.
pub(super) async fn queue_in<DB>(
    tx: &mut Transaction<'_, DB>,
    user_id: i64,
    mails: &[QueuedMail],
) -> Result<(), sqlx::Error>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> Option<&'t str>: Encode<'t, DB>,
    for<'t> DateTime<Utc>: Encode<'t, DB> + Type<DB>,
{
    let at = now();
    for mail in mails {
        sqlx::query(
            "INSERT INTO email_outbox (kind, user_id, recipient, status, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, 'pending', $4, $4)",
        )
        .bind(mail.kind.name())
        .bind(user_id)
        .bind(mail.recipient.as_str())
        .bind(at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
