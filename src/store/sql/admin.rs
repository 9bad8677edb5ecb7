//! User administration: listing, profile fields, flags, `last_login`.

use chrono::{DateTime, Utc};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};

use super::{Dialect, SqlStore};
use crate::store::models::{ProfileChange, User};
use crate::store::{StoreError, user_columns};

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> Option<&'t str>: Encode<'t, DB>,
    for<'t> Option<bool>: Encode<'t, DB>,
    for<'t> DateTime<Utc>: Encode<'t, DB> + Type<DB>,
    User: for<'r> FromRow<'r, DB::Row>,
{
    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let users = sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users ORDER BY id"))
            .fetch_all(&self.pool)
            .await?;
        Ok(users)
    }

    pub async fn update_profile(&self, id: i64, change: &ProfileChange) -> Result<bool, StoreError> {
        let _turn = self.write_turn().await;
        let result = sqlx::query(
            "UPDATE users SET username = COALESCE($1, username), first_name = COALESCE($2, first_name), \
                              last_name = COALESCE($3, last_name) WHERE id = $4",
        )
        .bind(change.username.as_deref())
        .bind(change.first_name.as_deref())
        .bind(change.last_name.as_deref())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(DB::rows_affected(&result) == 1)
    }

    pub async fn set_flags(
        &self,
        id: i64,
        is_active: Option<bool>,
        is_staff: Option<bool>,
    ) -> Result<bool, StoreError> {
        let _turn = self.write_turn().await;
        let result = sqlx::query(
            "UPDATE users SET is_active = COALESCE($1, is_active), is_staff = COALESCE($2, is_staff), \
                              suspended_at = CASE WHEN $1 THEN NULL ELSE suspended_at END WHERE id = $3",
        )
        .bind(is_active)
        .bind(is_staff)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(DB::rows_affected(&result) == 1)
    }

    pub async fn touch_last_login(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        sqlx::query("UPDATE users SET last_login = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
