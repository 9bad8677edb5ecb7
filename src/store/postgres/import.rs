//! Bulk import on PostgreSQL (`imhotep import-django`): one transaction, then the `users.id`
//! identity moved past the largest id so the next registration does not collide with an imported one.

use super::PgStore;
use crate::store::StoreError;
use crate::store::import_sql::{self, ROWS_PER_STATEMENT};
use crate::store::models::{ImportBatch, ImportCounts};

impl PgStore {
    pub async fn import_batch(
        &self,
        batch: &ImportBatch,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<ImportCounts, StoreError> {
        let mut counts = ImportCounts::default();
        let mut tx = self.pool.begin().await?;
        for chunk in batch.new_users.chunks(ROWS_PER_STATEMENT) {
            let result = import_sql::insert_users(chunk).build().execute(&mut *tx).await;
            counts.users_inserted += email_taken(result)?.rows_affected();
            progress(chunk.len() as u64);
        }
        for user in &batch.changed_users {
            let result = import_sql::update_user(user).build().execute(&mut *tx).await;
            counts.users_updated += email_taken(result)?.rows_affected();
            progress(1);
        }
        for chunk in batch.tokens.chunks(ROWS_PER_STATEMENT) {
            let result = import_sql::insert_tokens(chunk).build().execute(&mut *tx).await?;
            counts.tokens_inserted += result.rows_affected();
            progress(chunk.len() as u64);
        }
        for chunk in batch.blacklist.chunks(ROWS_PER_STATEMENT) {
            let result = import_sql::insert_blacklist(chunk).build().execute(&mut *tx).await?;
            counts.blacklisted_inserted += result.rows_affected();
            progress(chunk.len() as u64);
        }
        // Never backwards: ids of deleted users stay unused (see the users migration).
        if !batch.new_users.is_empty() {
            sqlx::query(
                "SELECT setval(pg_get_serial_sequence('users', 'id'), GREATEST( \
                 (SELECT COALESCE(MAX(id), 0) FROM users), \
                 COALESCE(pg_sequence_last_value(pg_get_serial_sequence('users', 'id')::regclass), 0), \
                 1))",
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(counts)
    }
}

/// Maps a violation of the unique e-mail key (a user registered meanwhile) to `EmailTaken`.
fn email_taken<T>(result: Result<T, sqlx::Error>) -> Result<T, StoreError> {
    match result {
        Err(sqlx::Error::Database(db)) if db.constraint() == Some("users_email_key_unique") => {
            Err(StoreError::EmailTaken)
        }
        other => Ok(other?),
    }
}
