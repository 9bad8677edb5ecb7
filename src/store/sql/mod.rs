//! The statements PostgreSQL and SQLite both accept, written once: [`SqlStore`] is generic over
//! sqlx's `Database`, and `PgStore` and `SqliteStore` are its two instances. SQLite reads `$n`
//! placeholders as PostgreSQL does, `CAST($n AS TEXT)` types a parameter that is only compared with
//! NULL, and `TRUE`/`FALSE`/`IS DISTINCT FROM` mean the same in both. What the dialects do
//! differently (row locks, `FOR UPDATE SKIP LOCKED`, the one-statement rotation, sequences) stays in
//! `store/postgres/` and `store/sqlite/`.
//!
//! Each file here has one `impl` whose `where` clause names what its statements bind and read: sqlx
//! has no way to say "a database that encodes `i64`" once for every impl.

mod accounts;
mod admin;
mod import;
mod kept;
mod lookups;
mod mfa;
mod outbox;
pub(super) mod rotations;
mod sessions;
mod throttle;
mod tokens;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::{Database, Executor, IntoArguments, Pool, Postgres, Sqlite, Transaction};
use tokio::sync::{Notify, Semaphore, SemaphorePermit};
use tokio::task::JoinHandle;

pub(super) use sessions::revoke_in;
pub(super) use tokens::{blacklist_in, record_in};

use self::kept::KeptConnections;
use self::lookups::Lookups;
use self::rotations::Rotations;
use super::models::{AccessCheck, User};
use super::{StoreError, StoreOptions};

/// A pool of connections to one database, of either kind.
pub struct SqlStore<DB: Database> {
    pub(super) pool: Pool<DB>,
    /// Part of the pool, lent without sqlx's release ping to the per-request queries.
    pub(super) kept: Arc<KeptConnections<DB>>,
    /// Lookups of users by id, answered together (see `lookups.rs`).
    pub(super) users: Arc<Lookups<i64, User>>,
    /// Bearer authentication's lookups (user and session), answered together.
    pub(super) access: Arc<Lookups<(i64, String), AccessCheck>>,
    /// `jwt/refresh/`'s rotations, written together (see `rotations.rs`).
    pub(super) rotations: Arc<Rotations>,
    /// SQLite's writers (see [`SqlStore::write_turn`]); `None` on PostgreSQL.
    pub(super) writers: Option<Arc<Writers>>,
}

/// SQLite's writers: one at a time, in arrival order, and what waits for them to finish.
pub(super) struct Writers {
    turns: Semaphore,
    /// The longest wait for a turn.
    wait: Duration,
    /// Woken when a turn ends, and by [`SqlStore::close`]: the log's checkpointer waits on it
    /// (`store/sqlite/checkpoints.rs`).
    pub(super) wrote: Notify,
    /// Set by [`SqlStore::close`]: the checkpointer stops.
    pub(super) closed: AtomicBool,
    /// The checkpointer's task, if it runs, for [`SqlStore::close`] to wait for.
    pub(super) checkpointer: Mutex<Option<JoinHandle<()>>>,
}

impl Writers {
    /// The next turn, waiting at most `wait`; `None` if that ran out.
    pub(super) async fn turn(&self) -> Option<SemaphorePermit<'_>> {
        // The semaphore is never closed, so `acquire` fails only by timing out.
        tokio::time::timeout(self.wait, self.turns.acquire()).await.ok()?.ok()
    }
}

/// A writer's turn (see [`SqlStore::write_turn`]), held until its write commits or rolls back.
/// Its end wakes the log's checkpointer.
pub(super) struct WriteTurn<'s> {
    _permit: SemaphorePermit<'s>,
    writers: &'s Writers,
}

impl Drop for WriteTurn<'_> {
    fn drop(&mut self) {
        self.writers.wrote.notify_one();
    }
}

impl<DB: Database> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            kept: Arc::clone(&self.kept),
            users: Arc::clone(&self.users),
            access: Arc::clone(&self.access),
            rotations: Arc::clone(&self.rotations),
            writers: self.writers.clone(),
        }
    }
}

impl<DB: Database> SqlStore<DB> {
    /// A store on `pool`, opened with `options`; a kept connection idle for `ping_after_idle` is
    /// pinged before it is lent again. `turns`: writes take turns, each waiting at most this long (SQLite).
    pub(super) fn new(
        pool: Pool<DB>,
        options: &StoreOptions,
        ping_after_idle: Duration,
        turns: Option<Duration>,
    ) -> Self {
        let kept = KeptConnections::new(
            pool.clone(),
            options.max_connections,
            options.acquire_timeout,
            ping_after_idle,
        );
        Self {
            pool,
            kept: Arc::new(kept),
            users: Arc::default(),
            access: Arc::default(),
            rotations: Arc::default(),
            writers: turns.map(|wait| {
                Arc::new(Writers {
                    turns: Semaphore::new(1),
                    wait,
                    wrote: Notify::new(),
                    closed: AtomicBool::new(false),
                    checkpointer: Mutex::default(),
                })
            }),
        }
    }

    /// Waits for this process's turn to write, to be held until the write commits or rolls back.
    ///
    /// SQLite lets one connection write at a time; a connection that finds the lock taken sleeps in
    /// SQLite's busy handler (1, 2, 5, 10, ... up to 100 ms a try) and tries again, so under a burst
    /// of writes the waits add up to seconds and the order is luck. Taking turns here first, in
    /// arrival order and before a connection is taken from the pool, means a writer finds the lock
    /// free (another process, such as an `imhotep` command, can still hold it: the busy timeout
    /// covers that). A write that waited its longest for a turn goes ahead without one, as every
    /// write did before turns: SQLite's busy timeout then decides. PostgreSQL locks rows, not the
    /// database: no turn, no wait.
    pub(super) async fn write_turn(&self) -> Option<WriteTurn<'_>> {
        let writers = self.writers.as_deref()?;
        let permit = writers.turn().await?;
        Some(WriteTurn {
            _permit: permit,
            writers,
        })
    }
}

impl<DB: Database> fmt::Debug for SqlStore<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore").field("pool", &self.pool).finish()
    }
}

/// What the shared code does differently per database.
pub trait Dialect: Database {
    /// What ends a `SELECT` that locks the rows it reads, in its order: `FOR UPDATE` on
    /// PostgreSQL; nothing on SQLite, whose writers hold the whole database.
    const LOCK_ROWS: &'static str;

    /// Rows changed by a statement (each driver has its own result type).
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// Starts a transaction that writes. PostgreSQL: a plain `BEGIN` (row locks and conditional
    /// updates do the rest). SQLite: `BEGIN IMMEDIATE`, which takes the write lock up front, so two
    /// writers never both hold a read lock and fail upgrading it; the second waits (`busy_timeout`).
    fn begin_write(pool: &Pool<Self>) -> impl Future<Output = Result<Transaction<'static, Self>, sqlx::Error>> + Send;

    /// After an import wrote users with their own ids: makes the next registration's id larger than
    /// any of them, and never moves the counter backwards (ids of deleted users stay unused).
    fn move_user_ids_past_imported(
        tx: &mut Transaction<'_, Self>,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

impl Dialect for Postgres {
    const LOCK_ROWS: &'static str = " FOR UPDATE";

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    fn begin_write(pool: &Pool<Self>) -> impl Future<Output = Result<Transaction<'static, Self>, sqlx::Error>> + Send {
        pool.begin()
    }

    async fn move_user_ids_past_imported(tx: &mut Transaction<'_, Self>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "SELECT setval(pg_get_serial_sequence('users', 'id'), GREATEST( \
             (SELECT COALESCE(MAX(id), 0) FROM users), \
             COALESCE(pg_sequence_last_value(pg_get_serial_sequence('users', 'id')::regclass), 0), \
             1))",
        )
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

impl Dialect for Sqlite {
    const LOCK_ROWS: &'static str = "";

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    fn begin_write(pool: &Pool<Self>) -> impl Future<Output = Result<Transaction<'static, Self>, sqlx::Error>> + Send {
        pool.begin_with("BEGIN IMMEDIATE")
    }

    /// Nothing to do: explicit ids move `sqlite_sequence` (AUTOINCREMENT) past them by themselves.
    async fn move_user_ids_past_imported(_tx: &mut Transaction<'_, Self>) -> Result<(), sqlx::Error> {
        Ok(())
    }
}

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
{
    /// A write transaction (see [`Dialect::begin_write`]) and the turn it holds (see
    /// [`SqlStore::write_turn`]): keep both until the transaction ends.
    pub(super) async fn begin_write(&self) -> Result<(Option<WriteTurn<'_>>, Transaction<'static, DB>), StoreError> {
        let turn = self.write_turn().await;
        Ok((turn, DB::begin_write(&self.pool).await?))
    }

    /// A `SELECT 1` round trip.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Waits for checked-out connections to come back, then closes them all (and SQLite's
    /// checkpointer's).
    pub async fn close(&self) {
        self.kept.close();
        self.pool.close().await;
        if let Some(writers) = &self.writers {
            writers.closed.store(true, Ordering::Release);
            writers.wrote.notify_one();
            let task = writers
                .checkpointer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take();
            if let Some(task) = task {
                // A task that panicked has already stopped.
                let _ = task.await;
            }
        }
    }
}
