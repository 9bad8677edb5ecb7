//! The SQLite store: the default for development and single-instance deployments.
//!
//! Every connection runs with foreign keys on (the token tables rely on `ON DELETE`), WAL
//! journaling, `synchronous = NORMAL`, a 5 s busy timeout and `temp_store = MEMORY`: the journal
//! that lets one statement of a transaction be undone alone stays in memory, where by default any
//! over 64 KiB (a batch of rotations writes more) went to a new file in the temporary directory,
//! opened, written and deleted for each such statement (no query here builds a large temporary
//! table, which the setting would keep in memory too). Multi-statement writes start with
//! `BEGIN IMMEDIATE`, taking the write lock up front: a deferred transaction that reads and then
//! writes can fail with `SQLITE_BUSY` when another writer got in between, whatever the timeout.
//! Every write first waits for its turn among this process's writers (`SqlStore::write_turn`), so
//! the busy timeout is only ever spent waiting for another process. The write-ahead log is copied
//! back into the database file by a task of the store's, not inside a writer's commit
//! (`checkpoints.rs`).
//! Timestamps are stored as sqlx encodes `DateTime<Utc>` (see `migrations/sqlite`). Connections
//! live inside the process and cannot be cut, so the pool lends them without sqlx's ping.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Sqlite;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::sql::SqlStore;
pub(super) use super::sql::{blacklist_in, record_in, revoke_in};
use super::{StoreError, StoreOptions};

mod checkpoints;
mod outbox;
mod sessions;
mod throttle;

/// How long a write waits for the database's write lock (SQLite's busy timeout), and for its turn
/// among this process's writers.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Creates a missing database file with mode 0600 before SQLite would create it with the process's
/// umask (usually world-readable: the file holds password hashes and e-mail addresses). SQLite gives
/// its `-wal` and `-shm` files the database file's permissions. A file that exists is left as it
/// is, and any problem creating it is left for SQLite to report when it opens the path.
#[cfg(unix)]
fn create_private_file(path: &std::path::Path) {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
}

#[cfg(not(unix))]
fn create_private_file(_path: &std::path::Path) {}

/// A pool of SQLite connections to one database file.
pub type SqliteStore = SqlStore<Sqlite>;

impl SqliteStore {
    /// Opens (creating it if missing, readable by its owner only) the database file named by a
    /// `sqlite:` URL.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::from_str(url)?;
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory {
            create_private_file(connect.get_filename());
        }
        let mut connect = connect
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .pragma("temp_store", "memory");
        if !in_memory {
            // Checkpoints are the checkpointer's (see `checkpoints.rs`).
            connect = connect.pragma("wal_autocheckpoint", "0");
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .test_before_acquire(false)
            .connect_with(connect.clone())
            .await?;
        // An open file cannot be cut off while idle: kept connections are never pinged.
        let store = Self::new(pool, options, Duration::MAX, Some(BUSY_TIMEOUT));
        if !in_memory && let Some(writers) = &store.writers {
            checkpoints::start(&connect, writers).await?;
        }
        Ok(store)
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        Ok(MIGRATOR.run(&self.pool).await?)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::Store;

    /// A statement's undo journal over 64 KiB would otherwise be a file in the temporary directory,
    /// created, written and deleted for each batch of rotations.
    #[tokio::test]
    async fn every_connection_keeps_its_temporary_journals_in_memory() {
        crate::store::tests::on_sqlite(
            |store| async move {
                let Store::Sqlite(lite) = &store else { unreachable!() };
                let mut lent = Vec::new();
                for _ in 0..3 {
                    let mut conn = lite.pool.acquire().await.expect("a connection");
                    let mode: i64 = sqlx::query_scalar("PRAGMA temp_store")
                        .fetch_one(&mut *conn)
                        .await
                        .expect("temp_store");
                    assert_eq!(mode, 2, "temp_store = MEMORY");
                    lent.push(conn);
                }
            },
            false,
        )
        .await;
    }
}
