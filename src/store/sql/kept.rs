//! Connections kept out of sqlx's pool for the per-request queries (the user lookup behind every
//! access token, `jwt/refresh/`'s rotation): each use costs one round trip, where a connection lent
//! by the pool costs two.
//!
//! sqlx 0.9 tests every connection given back to its pool with a ping, in a spawned task, before
//! another query may use it (`Floating::return_to_pool`), so each query through `&pool` is the query's
//! round trip, the ping's, and a task. A kept connection is taken from the pool once and lent again
//! directly after a query that finished; the pool's checks still apply where they matter:
//! - a query that failed or was cancelled (the request dropped mid-query) leaves its connection to
//!   the pool's drop path, which pings it and closes it if it is broken;
//! - a connection idle for `ping_after_idle` is pinged before it is lent, and dropped if that fails
//!   (a database restart, a proxy's idle timeout);
//! - a connection is given back to the pool after `RETURN_AFTER` (when its query finishes, or when
//!   another kept query finds it idle), so the pool's `max_lifetime` and idle timeout, and its share
//!   between kept and other connections, are kept up.
//!
//! At most half the pool is kept: transactions and the other queries keep the rest.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Connection, Database, Pool};
use tokio::sync::{Semaphore, SemaphorePermit};

/// How long a connection stays kept before it is given back to the pool.
const RETURN_AFTER: Duration = Duration::from_secs(60);

struct Idle<DB: Database> {
    connection: PoolConnection<DB>,
    taken_at: Instant,
    idle_since: Instant,
}

/// Up to `max_connections / 2` connections taken from a pool and lent without its release ping.
pub(crate) struct KeptConnections<DB: Database> {
    pool: Pool<DB>,
    permits: Semaphore,
    idle: Mutex<Vec<Idle<DB>>>,
    closed: AtomicBool,
    acquire_timeout: Duration,
    ping_after_idle: Duration,
}

/// A kept connection lent to one query; [`Lent::finished`] after the query succeeded lets it be
/// lent again, otherwise dropping it gives it back to the pool.
pub(crate) struct Lent<'a, DB: Database> {
    connection: Option<PoolConnection<DB>>,
    taken_at: Instant,
    finished: bool,
    kept: &'a KeptConnections<DB>,
    permit: Option<SemaphorePermit<'a>>,
}

impl<DB: Database> KeptConnections<DB> {
    pub(crate) fn new(
        pool: Pool<DB>,
        max_connections: u32,
        acquire_timeout: Duration,
        ping_after_idle: Duration,
    ) -> Self {
        let kept = (max_connections / 2) as usize;
        Self {
            pool,
            permits: Semaphore::new(kept),
            idle: Mutex::new(Vec::with_capacity(kept)),
            closed: AtomicBool::new(kept == 0),
            acquire_timeout,
            ping_after_idle,
        }
    }

    /// A connection for one query: a kept one if there is one, or one taken from the pool. With
    /// nothing kept (a pool of one connection, or closing), the pool's connection is lent as it is.
    pub(crate) async fn lend(&self) -> Result<Lent<'_, DB>, sqlx::Error> {
        if self.closed.load(Ordering::Acquire) {
            return Ok(self.lent(self.pool.acquire().await?, Instant::now(), None));
        }
        let permit = tokio::time::timeout(self.acquire_timeout, self.permits.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        while let Some(mut idle) = self.take_idle() {
            if idle.idle_since.elapsed() >= self.ping_after_idle && idle.connection.ping().await.is_err() {
                // Dropped: the pool's release path finds it broken and closes it.
                continue;
            }
            return Ok(self.lent(idle.connection, idle.taken_at, Some(permit)));
        }
        Ok(self.lent(self.pool.acquire().await?, Instant::now(), Some(permit)))
    }

    /// Drops every idle kept connection and keeps none from now on, so that closing the pool, which
    /// waits for all its connections, does not wait for these.
    pub(crate) fn close(&self) {
        let idle = {
            let mut idle = self.idle_list();
            self.closed.store(true, Ordering::Release);
            std::mem::take(&mut *idle)
        };
        drop(idle);
    }

    /// How many connections are kept idle now.
    #[cfg(test)]
    pub(crate) fn idle_count(&self) -> usize {
        self.idle_list().len()
    }

    fn take_idle(&self) -> Option<Idle<DB>> {
        self.idle_list().pop()
    }

    /// The idle list; `closed` is set under its lock, so nothing is pushed after `close` emptied it.
    fn idle_list(&self) -> std::sync::MutexGuard<'_, Vec<Idle<DB>>> {
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lent<'a>(
        &'a self,
        connection: PoolConnection<DB>,
        taken_at: Instant,
        permit: Option<SemaphorePermit<'a>>,
    ) -> Lent<'a, DB> {
        Lent {
            connection: Some(connection),
            taken_at,
            finished: false,
            kept: self,
            permit,
        }
    }
}

impl<DB: Database> Lent<'_, DB> {
    /// The connection, for one query.
    pub(crate) fn connection(&mut self) -> &mut DB::Connection {
        self.connection.as_mut().expect("present until dropped")
    }

    /// The query succeeded: the connection is in a clean state and may be lent again as it is.
    pub(crate) fn finished(mut self) {
        self.finished = true;
    }
}

impl<DB: Database> Drop for Lent<'_, DB> {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        if !self.finished || self.permit.is_none() {
            return; // `connection` goes back through the pool's own release path
        }
        let now = Instant::now();
        let mut idle = self.kept.idle_list();
        if self.kept.closed.load(Ordering::Acquire) {
            return; // the lock is released first, then `connection` goes back to the pool
        }
        // Pushed before the permit is released (fields drop after this), so the next holder of
        // the permit finds it.
        idle.push(Idle {
            connection,
            taken_at: self.taken_at,
            idle_since: now,
        });
        // Kept for `RETURN_AFTER`: back to the pool, this one or one left idle at the bottom of the
        // stack since a burst (the pool's idle timeout then closes it).
        let stale: Vec<Idle<DB>> = idle
            .extract_if(.., |idle| now.duration_since(idle.taken_at) >= RETURN_AFTER)
            .collect();
        drop(idle);
        drop(stale);
    }
}
