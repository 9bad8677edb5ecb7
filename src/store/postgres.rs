//! The PostgreSQL store: production, and any number of server instances sharing one database.
//!
//! Each connection gets `statement_timeout = 5s`, so a stuck query frees its connection instead
//! of starving the pool. Concurrency is left to the database under READ COMMITTED: conditional
//! `UPDATE`s for once-only changes and `ON CONFLICT DO NOTHING` on the unique constraints for
//! blacklisting, where a concurrent writer waits for the first one's commit and then sees the
//! conflict.

use std::str::FromStr;

use sqlx::Postgres;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::sql::SqlStore;
pub(super) use super::sql::{blacklist_in, revoke_in};
use super::{StoreError, StoreOptions};

mod outbox;
mod sessions;
mod throttle;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// A pool of PostgreSQL connections.
pub type PgStore = SqlStore<Postgres>;

impl PgStore {
    /// Connects to the database named by a `postgres:` or `postgresql:` URL.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let connect = PgConnectOptions::from_str(url)?.options([("statement_timeout", "5s")]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        Ok(Self { pool })
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        Ok(MIGRATOR.run(&self.pool).await?)
    }
}
