//! An import (`imhotep import-django`): multi-row statements built with sqlx's `QueryBuilder`, run in
//! one transaction; then the database moves its id counter past the imported ids
//! ([`Dialect::move_user_ids_past_imported`]).

use chrono::{DateTime, Utc};
use sqlx::{Database, Encode, Executor, IntoArguments, QueryBuilder, Type};

use super::{Dialect, SqlStore};
use crate::store::StoreError;
use crate::store::models::{ImportBatch, ImportCounts, ImportedBlacklisting, ImportedToken, ImportedUser};

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
    for<'t> DateTime<Utc>: Encode<'t, DB> + Type<DB>,
    for<'t> Option<i64>: Encode<'t, DB>,
    for<'t> Option<DateTime<Utc>>: Encode<'t, DB>,
{
    pub async fn import_batch(
        &self,
        batch: &ImportBatch,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<ImportCounts, StoreError> {
        let mut counts = ImportCounts::default();
        let (_turn, mut tx) = self.begin_write().await?;
        for chunk in batch.new_users.chunks(ROWS_PER_STATEMENT) {
            let result = insert_users(chunk).build().execute(&mut *tx).await;
            counts.users_inserted += DB::rows_affected(&result.map_err(StoreError::from_users_write)?);
            progress(chunk.len() as u64);
        }
        for user in &batch.changed_users {
            let result = update_user(user).build().execute(&mut *tx).await;
            counts.users_updated += DB::rows_affected(&result.map_err(StoreError::from_users_write)?);
            progress(1);
        }
        for chunk in batch.tokens.chunks(ROWS_PER_STATEMENT) {
            let result = insert_tokens(chunk).build().execute(&mut *tx).await?;
            counts.tokens_inserted += DB::rows_affected(&result);
            progress(chunk.len() as u64);
        }
        for chunk in batch.blacklist.chunks(ROWS_PER_STATEMENT) {
            let result = insert_blacklist(chunk).build().execute(&mut *tx).await?;
            counts.blacklisted_inserted += DB::rows_affected(&result);
            progress(chunk.len() as u64);
        }
        if !batch.new_users.is_empty() {
            DB::move_user_ids_past_imported(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(counts)
    }
}

/// Rows per statement: at 12 parameters a row, well inside both databases' parameter limits
/// (65 535 for PostgreSQL, 32 766 for SQLite), and few enough round trips for 100 000 users.
const ROWS_PER_STATEMENT: usize = 1000;

/// `INSERT` of whole user rows, ids included (the stores move their id counters past them).
fn insert_users<DB>(users: &[ImportedUser]) -> QueryBuilder<DB>
where
    DB: Database,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
    for<'t> DateTime<Utc>: Encode<'t, DB> + Type<DB>,
    for<'t> Option<DateTime<Utc>>: Encode<'t, DB> + Type<DB>,
{
    let mut builder = QueryBuilder::new(
        "INSERT INTO users (id, email, email_key, username, first_name, last_name, password, \
                            is_active, is_staff, is_superuser, last_login, date_joined) ",
    );
    builder.push_values(users, |mut row, imported| {
        let user = &imported.user;
        row.push_bind(user.id)
            .push_bind(user.email.as_str())
            .push_bind(imported.email_key.as_str())
            .push_bind(user.username.as_str())
            .push_bind(user.first_name.as_str())
            .push_bind(user.last_name.as_str())
            .push_bind(user.password.as_str())
            .push_bind(user.is_active)
            .push_bind(user.is_staff)
            .push_bind(user.is_superuser)
            .push_bind(user.last_login)
            .push_bind(user.date_joined);
    });
    builder
}

/// `UPDATE` of every column but the id of one user (`--update`, rare: one statement per row).
fn update_user<DB>(imported: &ImportedUser) -> QueryBuilder<DB>
where
    DB: Database,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
    for<'t> DateTime<Utc>: Encode<'t, DB> + Type<DB>,
    for<'t> Option<DateTime<Utc>>: Encode<'t, DB> + Type<DB>,
{
    let user = &imported.user;
    let mut builder = QueryBuilder::new("UPDATE users SET email = ");
    builder
        .push_bind(user.email.as_str())
        .push(", email_key = ")
        .push_bind(imported.email_key.as_str())
        .push(", username = ")
        .push_bind(user.username.as_str())
        .push(", first_name = ")
        .push_bind(user.first_name.as_str())
        .push(", last_name = ")
        .push_bind(user.last_name.as_str())
        .push(", password = ")
        .push_bind(user.password.as_str())
        .push(", is_active = ")
        .push_bind(user.is_active)
        .push(", is_staff = ")
        .push_bind(user.is_staff)
        .push(", is_superuser = ")
        .push_bind(user.is_superuser)
        .push(", last_login = ")
        .push_bind(user.last_login)
        .push(", date_joined = ")
        .push_bind(user.date_joined)
        .push(" WHERE id = ")
        .push_bind(user.id);
    builder
}

/// `INSERT` of outstanding tokens; a jti already recorded is skipped, and a `user_id` that names
/// no user becomes NULL, as in `record_outstanding`.
fn insert_tokens<DB>(tokens: &[ImportedToken]) -> QueryBuilder<DB>
where
    DB: Database,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> Option<i64>: Encode<'t, DB> + Type<DB>,
    for<'t> DateTime<Utc>: Encode<'t, DB> + Type<DB>,
    for<'t> Option<DateTime<Utc>>: Encode<'t, DB> + Type<DB>,
{
    // The WHERE keeps SQLite's parser from reading ON CONFLICT as a join constraint.
    let mut builder = QueryBuilder::new("WITH source (jti, user_id, created_at, expires_at) AS (");
    builder.push_values(tokens, |mut row, token| {
        row.push_bind(token.jti.as_str())
            .push_bind(token.user_id)
            .push_bind(token.created_at)
            .push_bind(token.expires_at);
    });
    builder.push(
        ") INSERT INTO outstanding_tokens (jti, user_id, created_at, expires_at) \
         SELECT source.jti, users.id, source.created_at, source.expires_at \
         FROM source LEFT JOIN users ON users.id = source.user_id WHERE TRUE \
         ON CONFLICT (jti) DO NOTHING",
    );
    builder
}

/// `INSERT` of blacklist rows by jti; a token already blacklisted is skipped.
fn insert_blacklist<DB>(rows: &[ImportedBlacklisting]) -> QueryBuilder<DB>
where
    DB: Database,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> DateTime<Utc>: Encode<'t, DB> + Type<DB>,
{
    let mut builder = QueryBuilder::new("WITH source (jti, blacklisted_at) AS (");
    builder.push_values(rows, |mut row, blacklisting| {
        row.push_bind(blacklisting.jti.as_str())
            .push_bind(blacklisting.blacklisted_at);
    });
    builder.push(
        ") INSERT INTO blacklisted_tokens (token_id, blacklisted_at) \
         SELECT outstanding_tokens.id, source.blacklisted_at \
         FROM source JOIN outstanding_tokens ON outstanding_tokens.jti = source.jti WHERE TRUE \
         ON CONFLICT (token_id) DO NOTHING",
    );
    builder
}
