//! Bulk import on SQLite (`imhotep import-django`): one `BEGIN IMMEDIATE` transaction. Explicit
//! ids move `sqlite_sequence` (AUTOINCREMENT) past them by themselves.

use super::SqliteStore;
use super::accounts::EMAIL_TAKEN;
use crate::store::StoreError;
use crate::store::import_sql::{self, ROWS_PER_STATEMENT};
use crate::store::models::{ImportBatch, ImportCounts};

impl SqliteStore {
    pub async fn import_batch(
        &self,
        batch: &ImportBatch,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<ImportCounts, StoreError> {
        let mut counts = ImportCounts::default();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
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
        tx.commit().await?;
        Ok(counts)
    }
}

/// Maps a violation of the unique e-mail key (a user registered meanwhile) to `EmailTaken`.
fn email_taken<T>(result: Result<T, sqlx::Error>) -> Result<T, StoreError> {
    match result {
        Err(sqlx::Error::Database(db)) if db.message() == EMAIL_TAKEN => Err(StoreError::EmailTaken),
        other => Ok(other?),
    }
}
