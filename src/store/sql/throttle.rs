//! Throttle counters and link e-mail requests: the statements of `store::throttle`, and recording a
//! request. Resolving requests differs per database (its claim).

use sqlx::{Decode, Encode, Executor, FromRow, IntoArguments, Type};

use super::{Dialect, SqlStore};
use crate::mail::EmailKind;
use crate::store::throttle::{
    ACTIVE, BACKOFF_ATTEMPT, CLEAR_MATCHING, CLEAR_TWO, CounterRow, Hit, PURGE, REFUSED_UNTIL, WINDOW_HIT,
};
use crate::store::{StoreError, now};

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'t> i64: Encode<'t, DB> + Decode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> Option<&'t str>: Encode<'t, DB>,
    for<'t> chrono::DateTime<chrono::Utc>: Encode<'t, DB> + Type<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
    CounterRow: for<'r> FromRow<'r, DB::Row>,
{
    pub async fn throttle_hit(&self, key: &str, limit: i64, period_ms: i64, now_ms: i64) -> Result<Hit, StoreError> {
        let _turn = self.write_turn().await;
        let hits: Option<i64> = sqlx::query_scalar(WINDOW_HIT)
            .bind(key)
            .bind(now_ms)
            .bind(period_ms)
            .bind(limit)
            .fetch_optional(&self.pool)
            .await?;
        self.outcome(key, hits).await
    }

    pub async fn throttle_attempt(
        &self,
        key: &str,
        now_ms: i64,
        window_ms: i64,
        threshold: i64,
        max_wait_ms: i64,
    ) -> Result<Hit, StoreError> {
        let _turn = self.write_turn().await;
        let hits: Option<i64> = sqlx::query_scalar(BACKOFF_ATTEMPT.as_str())
            .bind(key)
            .bind(now_ms)
            .bind(window_ms)
            .bind(threshold)
            .bind(max_wait_ms)
            .fetch_optional(&self.pool)
            .await?;
        self.outcome(key, hits).await
    }

    /// A counted hit's outcome: `hits` as its statement returned it (NULL: refused, and until when).
    pub(in crate::store) async fn outcome(&self, key: &str, hits: Option<i64>) -> Result<Hit, StoreError> {
        if let Some(hits) = hits {
            return Ok(Hit::Allowed { hits });
        }
        let until_ms: Option<i64> = sqlx::query_scalar(REFUSED_UNTIL)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(Hit::Refused {
            until_ms: until_ms.unwrap_or_default(),
        })
    }

    pub async fn throttle_clear(&self, first: &str, second: &str) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        sqlx::query(CLEAR_TWO)
            .bind(first)
            .bind(second)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn throttle_clear_matching(&self, exact: &str, prefix: Option<&str>) -> Result<u64, StoreError> {
        let _turn = self.write_turn().await;
        let result = sqlx::query(CLEAR_MATCHING)
            .bind(exact)
            .bind(prefix)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&result))
    }

    pub async fn throttle_active(&self, now_ms: i64) -> Result<Vec<CounterRow>, StoreError> {
        Ok(sqlx::query_as(ACTIVE).bind(now_ms).fetch_all(&self.pool).await?)
    }

    pub async fn purge_throttle_counters(&self, now_ms: i64) -> Result<u64, StoreError> {
        let _turn = self.write_turn().await;
        let result = sqlx::query(PURGE).bind(now_ms).execute(&self.pool).await?;
        Ok(DB::rows_affected(&result))
    }

    pub async fn request_mail(&self, kind: EmailKind, email_key: &str, want_active: bool) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        sqlx::query("INSERT INTO mail_requests (kind, email_key, want_active, created_at) VALUES ($1, $2, $3, $4)")
            .bind(kind.name())
            .bind(email_key)
            .bind(want_active)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
