//! SQLite's checkpoints, off the writers' path.
//!
//! A checkpoint copies the pages of the write-ahead log back into the database file, flushing the
//! log to disk first and the file after. SQLite runs one inside the commit that takes the log past
//! 1,000 pages, and every writer of the process waits behind that commit for both flushes: tens of
//! milliseconds on a cloud disk, a third of the writers' time under a flood of refreshes.
//!
//! Here the pool's connections never checkpoint (`wal_autocheckpoint = 0`). A task of the store's
//! does, on a connection of its own, [`AFTER_WRITES`] after a write turn ends: passes while
//! writers go on, until one finds few pages added since the one before, then a last pass holding
//! the next write turn. SQLite starts the log over only when a writer finds all of it copied, so
//! that last pass is what keeps the log from growing while writes never pause; it copies only what
//! writers added during the pass before. Each pass flushes as SQLite's own checkpoint does, so the
//! durability of `synchronous = NORMAL` is unchanged, except that on a quiet server the log now
//! reaches the database file and the disk shortly after writes stop, not once it passes 1,000 pages.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::store::sql::Writers;

/// How long after a write the checkpointer copies the log: writes meanwhile share the copy.
const AFTER_WRITES: Duration = Duration::from_millis(200);

/// Passes at most while writers go on, before the last one that holds a write turn.
const MAX_PASSES_WHILE_WRITING: usize = 4;

/// Pages added to the log during a pass, few enough that the next pass is the last.
const FEW_PAGES: i64 = 500;

/// What `PRAGMA wal_checkpoint` answers: whether it was blocked, the pages in the log, and the
/// pages of it now in the database file.
type Checkpointed = (i64, i64, i64);

/// Opens the checkpointer's connection to the database of `connect` and starts its task, which
/// [`crate::store::sql::SqlStore::close`] stops.
pub(super) async fn start(connect: &SqliteConnectOptions, writers: &Arc<Writers>) -> Result<(), sqlx::Error> {
    let conn = SqliteConnection::connect_with(connect).await?;
    let task = tokio::spawn(run(conn, Arc::clone(writers)));
    *writers
        .checkpointer
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(task);
    Ok(())
}

async fn run(mut conn: SqliteConnection, writers: Arc<Writers>) {
    loop {
        writers.wrote.notified().await;
        if !writers.closed.load(Ordering::Acquire) {
            tokio::time::sleep(AFTER_WRITES).await;
        }
        if writers.closed.load(Ordering::Acquire) {
            break;
        }
        if let Err(error) = checkpoint(&mut conn, &writers).await {
            tracing::warn!(%error, "checkpointing SQLite's write-ahead log failed; trying again after the next write");
        }
    }
    let _ = conn.close().await;
}

/// Copies the log into the database file: as much as it can while writers go on, again until a
/// pass finds few pages added since the one before (each pass is then short, and so is what
/// writers add during it), then the rest holding a write turn, so that the next writer starts the
/// log over.
async fn checkpoint(conn: &mut SqliteConnection, writers: &Writers) -> Result<(), sqlx::Error> {
    let (_, mut log, _) = passive(conn).await?;
    if log == 0 {
        return Ok(());
    }
    for _ in 1..MAX_PASSES_WHILE_WRITING {
        let (_, now, _) = passive(conn).await?;
        let added = now - log;
        log = now;
        if added < FEW_PAGES {
            break;
        }
    }
    let _turn = writers.turn().await;
    passive(conn).await?;
    Ok(())
}

/// A checkpoint that waits for nobody: it copies the pages no reader still needs from the log.
async fn passive(conn: &mut SqliteConnection) -> Result<Checkpointed, sqlx::Error> {
    sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(conn).await
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use sqlx::Connection;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

    use crate::store::Store;
    use crate::store::tests::on_sqlite;

    /// The database file's path, as SQLite opened it.
    async fn database_file(store: &Store) -> String {
        let Store::Sqlite(lite) = store else { unreachable!() };
        let (_, _, file): (i64, String, String) = sqlx::query_as("PRAGMA database_list")
            .fetch_one(&lite.pool)
            .await
            .expect("database list");
        file
    }

    /// The log's checkpoint sequence number (bytes 12-15 of its header), which SQLite increases
    /// each time it starts the log over.
    fn log_starts(database: &str) -> Option<u32> {
        use std::io::Read;
        let mut header = [0; 16];
        std::fs::File::open(format!("{database}-wal"))
            .ok()?
            .read_exact(&mut header)
            .ok()?;
        Some(u32::from_be_bytes([header[12], header[13], header[14], header[15]]))
    }

    async fn write(store: &Store, n: usize) {
        store
            .throttle_hit(&format!("checkpoints-{n}"), 1_000, 60_000, 1_000)
            .await
            .expect("write");
    }

    /// Writes that never pause still see the log copied back and started over, by the checkpointer
    /// alone: the pool's connections never checkpoint.
    #[tokio::test]
    async fn the_log_starts_over_while_writes_go_on() {
        on_sqlite(
            |store| async move {
                let Store::Sqlite(lite) = &store else { unreachable!() };
                let interval: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
                    .fetch_one(&lite.pool)
                    .await
                    .expect("interval");
                assert_eq!(interval, 0, "the pool's connections checkpoint");
                let database = database_file(&store).await;
                // Four writers, so that one is always waiting for its turn when another ends.
                let until = Instant::now() + Duration::from_secs(3);
                let tasks: Vec<_> = (0..4)
                    .map(|writer| {
                        let store = store.clone();
                        tokio::spawn(async move {
                            let mut n = 0;
                            while Instant::now() < until {
                                write(&store, writer * 1_000_000 + n).await;
                                n += 1;
                            }
                            n
                        })
                    })
                    .collect();
                let mut starts = Vec::new();
                while Instant::now() < until {
                    if let Some(start) = log_starts(&database)
                        && starts.last() != Some(&start)
                    {
                        starts.push(start);
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                let mut writes = 0;
                for task in tasks {
                    writes += task.await.expect("writer");
                }
                assert!(
                    starts.len() >= 4,
                    "the log started over {} times in {writes} writes",
                    starts.len().saturating_sub(1)
                );
            },
            true,
        )
        .await;
    }

    /// Once writes stop, the database file alone holds them, shortly after.
    #[tokio::test]
    async fn the_last_writes_reach_the_database_file() {
        on_sqlite(
            |store| async move {
                for n in 0..200 {
                    write(&store, n).await;
                }
                let database = database_file(&store).await;
                // Immutable: SQLite reads the file as it is, without the log.
                let options = SqliteConnectOptions::new().filename(&database).immutable(true);
                let begun = Instant::now();
                loop {
                    let mut file = SqliteConnection::connect_with(&options).await.expect("open the file");
                    let copied: Result<i64, _> =
                        sqlx::query_scalar("SELECT count(*) FROM throttle_counters WHERE key LIKE 'checkpoints-%'")
                            .fetch_one(&mut file)
                            .await;
                    let _ = file.close().await;
                    if copied.ok() == Some(200) {
                        break;
                    }
                    assert!(begun.elapsed() < Duration::from_secs(5), "the log was not copied back");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            true,
        )
        .await;
    }
}
