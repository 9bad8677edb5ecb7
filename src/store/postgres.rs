//! The PostgreSQL store: production, and any number of server instances sharing one database.
//!
//! Each connection gets `statement_timeout = 5s`, so a stuck query frees its connection instead
//! of starving the pool. Concurrency is left to the database under READ COMMITTED: conditional
//! `UPDATE`s for once-only changes and `ON CONFLICT DO NOTHING` on the unique constraints for
//! blacklisting, where a concurrent writer waits for the first one's commit and then sees the
//! conflict.
//!
//! sqlx pings a connection (one round trip) before lending it out by default; here only a
//! connection idle for `PING_AFTER_IDLE` is pinged, one in steady use is lent as it is. The
//! per-request queries also skip the ping sqlx makes when a connection is given back (`sql/kept.rs`).

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Postgres};

use super::sql::SqlStore;
pub(super) use super::sql::{blacklist_in, revoke_in};
use super::{StoreError, StoreOptions};

mod outbox;
mod sessions;
mod throttle;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// A connection that sat idle this long may have been cut (database restart, failover, a proxy's idle
/// timeout): it is pinged before being lent out, and replaced if the ping fails. Connections in
/// steady use skip the ping, saving a round trip per query.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// A pool of PostgreSQL connections.
pub type PgStore = SqlStore<Postgres>;

impl PgStore {
    /// Connects to the database named by a `postgres:` or `postgresql:` URL.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let connect = PgConnectOptions::from_str(url)?.options([("statement_timeout", "5s")]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .test_before_acquire(false)
            .before_acquire(|connection, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_AFTER_IDLE {
                        connection.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(connect)
            .await?;
        Ok(Self::new(pool, options, PING_AFTER_IDLE, None))
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        Ok(MIGRATOR.run(&self.pool).await?)
    }
}
