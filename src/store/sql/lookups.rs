//! Per-request lookups that arrive together, folded into one query: the user behind every access
//! token (with its session), and the other lookups of a user by id.
//!
//! A lookup joins a waiting list, then waits for one of its kind's batch slots. Whichever lookup
//! gets a slot takes the waiting list and answers it with one statement (`WITH k(n, ...) AS (VALUES
//! ...)` joined to the tables, each row carrying its lookup's position `n`): under load, the
//! lookups that queued while the batches were in flight share the next round trip and statement, so the
//! database does a fraction of the work per request (on PostgreSQL a batch of eight costs about
//! what one and a half single lookups do). A lookup that finds a slot free is a batch of one and
//! runs the one-row statement at once, as before.
//!
//! A lookup is only answered by a statement sent after it joined, so it sees every write that
//! committed before it arrived. A batch whose statement fails, or whose request is cancelled
//! mid-query, drops its answers: each lookup it took then runs alone, and gets its own error if
//! there is one.

use std::future::Future;
use std::sync::{LazyLock, Mutex};

use sqlx::{ColumnIndex, Decode, FromRow, Row, Type};
use tokio::sync::{Semaphore, oneshot};

use crate::store::StoreError;
use crate::store::user_columns;

/// The most lookups one statement answers.
const MAX_BATCH: usize = 32;

/// Batches of one kind in flight at once: one being answered while the next is sent, so one slow
/// statement does not hold up every lookup. (On two cores, one and two measured the same, four
/// made batches smaller and `users/me/` 15-20 % slower.)
const BATCHES_IN_FLIGHT: usize = 2;

/// A row of a batch's answer: the value for the lookup at position `n`.
pub struct Numbered<V> {
    n: i64,
    value: V,
}

impl<'r, R, V> FromRow<'r, R> for Numbered<V>
where
    R: Row,
    V: FromRow<'r, R>,
    &'static str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self {
            n: row.try_get("n")?,
            value: V::from_row(row)?,
        })
    }
}

/// The lookups of one kind waiting for a batch slot.
pub(crate) struct Lookups<K, V> {
    waiting: Mutex<Waiting<K, V>>,
    slots: Semaphore,
    /// Batches taken so far, to show in tests that lookups were folded.
    #[cfg(test)]
    pub(crate) batches: std::sync::atomic::AtomicUsize,
}

/// Keys in arrival order, and where each one's answer goes.
struct Waiting<K, V> {
    keys: Vec<K>,
    answers: Vec<oneshot::Sender<Option<V>>>,
}

impl<K, V> Default for Lookups<K, V> {
    fn default() -> Self {
        Self {
            waiting: Mutex::new(Waiting {
                keys: Vec::new(),
                answers: Vec::new(),
            }),
            slots: Semaphore::new(BATCHES_IN_FLIGHT),
            #[cfg(test)]
            batches: Default::default(),
        }
    }
}

impl<K: Clone, V> Lookups<K, V> {
    /// The value for `key`, from a batch: `run` answers a batch's keys (one or more, in order)
    /// with the values found and their positions.
    pub(super) async fn look_up<F, Fut>(&self, key: K, run: F) -> Result<Option<V>, StoreError>
    where
        F: Fn(Vec<K>) -> Fut,
        Fut: Future<Output = Result<Vec<Numbered<V>>, StoreError>>,
    {
        let mut answer = self.join(key.clone());
        let slot = tokio::select! {
            biased;
            answered = &mut answer => return alone_unless_answered(answered, key, run).await,
            // The semaphore is never closed.
            slot = self.slots.acquire() => slot.ok(),
        };
        let (keys, answers) = self.take();
        if !keys.is_empty() {
            // On an error the answers are dropped: the lookups in `keys` run alone.
            let rows = run(keys).await?;
            send(answers, rows);
        }
        drop(slot);
        alone_unless_answered(answer.await, key, run).await
    }

    fn join(&self, key: K) -> oneshot::Receiver<Option<V>> {
        let (sender, answer) = oneshot::channel();
        let mut waiting = self.waiting_list();
        waiting.keys.push(key);
        waiting.answers.push(sender);
        answer
    }

    /// The oldest waiting lookups, at most [`MAX_BATCH`]; none if a batch took them all.
    fn take(&self) -> (Vec<K>, Vec<oneshot::Sender<Option<V>>>) {
        let mut waiting = self.waiting_list();
        let taken = if waiting.keys.len() <= MAX_BATCH {
            (std::mem::take(&mut waiting.keys), std::mem::take(&mut waiting.answers))
        } else {
            (
                waiting.keys.drain(..MAX_BATCH).collect(),
                waiting.answers.drain(..MAX_BATCH).collect(),
            )
        };
        #[cfg(test)]
        if !taken.0.is_empty() {
            self.batches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        taken
    }

    /// Holds every batch slot, so that lookups wait until it is dropped.
    #[cfg(test)]
    pub(crate) async fn hold_slots(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.slots
            .acquire_many(BATCHES_IN_FLIGHT as u32)
            .await
            .expect("never closed")
    }

    /// Drops the waiting lookups' answers, as a batch cancelled mid-query does.
    #[cfg(test)]
    pub(crate) fn drop_waiting(&self) {
        drop(self.take());
    }

    /// How many lookups are waiting now.
    #[cfg(test)]
    pub(crate) fn waiting_count(&self) -> usize {
        self.waiting_list().keys.len()
    }

    fn waiting_list(&self) -> std::sync::MutexGuard<'_, Waiting<K, V>> {
        self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The answer a batch sent, or, if the batch was dropped, the lookup run as a batch of its own.
async fn alone_unless_answered<K, V, F, Fut>(
    answered: Result<Option<V>, oneshot::error::RecvError>,
    key: K,
    run: F,
) -> Result<Option<V>, StoreError>
where
    F: Fn(Vec<K>) -> Fut,
    Fut: Future<Output = Result<Vec<Numbered<V>>, StoreError>>,
{
    match answered {
        Ok(value) => Ok(value),
        Err(_) => Ok(run(vec![key]).await?.into_iter().next().map(|row| row.value)),
    }
}

/// Sends each lookup its value from `rows`, or none.
fn send<V>(answers: Vec<oneshot::Sender<Option<V>>>, rows: Vec<Numbered<V>>) {
    let mut answers: Vec<Option<oneshot::Sender<Option<V>>>> = answers.into_iter().map(Some).collect();
    for row in rows {
        let sender = usize::try_from(row.n).ok().and_then(|n| answers.get_mut(n)?.take());
        if let Some(sender) = sender {
            // A lookup whose request went away no longer listens.
            let _ = sender.send(Some(row.value));
        }
    }
    for sender in answers.into_iter().flatten() {
        let _ = sender.send(None);
    }
}

/// A batch statement and its parameters: `keys` padded to the statement's size by repeating the
/// last one (the padding's rows have positions past the batch, and are ignored).
///
/// Statements come in sizes 2, 4, 8, 16 and 32, so a connection prepares five per kind, not
/// thirty-one.
pub(super) fn batch<'k, K>(
    statements: &'static [String],
    keys: &'k [K],
) -> (&'static str, impl Iterator<Item = &'k K>) {
    let size = keys.len().next_power_of_two().max(2);
    let statement = statements[size.ilog2() as usize - 1].as_str();
    let padding = std::iter::repeat(keys.last()).flatten();
    (statement, keys.iter().chain(padding).take(size))
}

/// The batch statements for every size, from `values` (one lookup's row of the `VALUES` list, given
/// its position and first placeholder number) and `select` (what follows the `WITH k(...) AS (...)`).
fn statements(columns: &str, values: fn(usize, usize) -> String, select: &str) -> Vec<String> {
    // Every column but `n` is a parameter.
    let params = columns.split(',').count() - 1;
    (1..=MAX_BATCH.ilog2())
        .map(|power| {
            let rows: Vec<String> = (0..1_usize << power).map(|n| values(n, n * params + 1)).collect();
            format!("WITH k({columns}) AS (VALUES {}) {select}", rows.join(", "))
        })
        .collect()
}

/// Users by id: `WITH k(n, uid) ...`, then the user columns and `n`.
pub(super) static USERS: LazyLock<Vec<String>> = LazyLock::new(|| {
    statements(
        "n, uid",
        |n, p| format!("(CAST({n} AS BIGINT), CAST(${p} AS BIGINT))"),
        concat!(
            "SELECT k.n, u.* FROM k JOIN (SELECT ",
            user_columns!(),
            " FROM users) u ON u.id = k.uid"
        ),
    )
});

/// Users by id with their session's state: `WITH k(n, uid, sid) ...`, then as
/// [`crate::store::models::AccessCheck`] and `n`.
pub(super) static ACCESS: LazyLock<Vec<String>> = LazyLock::new(|| {
    statements(
        "n, uid, sid",
        |n, p| format!("(CAST({n} AS BIGINT), CAST(${p} AS BIGINT), CAST(${} AS TEXT))", p + 1),
        concat!(
            "SELECT k.n, u.*, (s.id IS NOT NULL AND s.revoked_at IS NULL) AS session_live FROM k JOIN (SELECT ",
            user_columns!(),
            " FROM users) u ON u.id = k.uid LEFT JOIN sessions s ON s.id = k.sid AND s.user_id = u.id"
        ),
    )
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_padded_to_the_next_statement_size() {
        let (statement, ids) = batch(&USERS, &[7, 3, 9]);
        assert!(
            statement.starts_with(
                "WITH k(n, uid) AS (VALUES (CAST(0 AS BIGINT), CAST($1 AS BIGINT)), (CAST(1 AS BIGINT), \
                 CAST($2 AS BIGINT)), (CAST(2 AS BIGINT), CAST($3 AS BIGINT)), (CAST(3 AS BIGINT), CAST($4 AS BIGINT))) SELECT"
            ),
            "{statement}"
        );
        assert_eq!(ids.copied().collect::<Vec<_>>(), [7, 3, 9, 9]);
        let (statement, keys) = batch(&ACCESS, &[(1, "a"), (2, "b")]);
        assert!(
            statement.contains("(CAST(1 AS BIGINT), CAST($3 AS BIGINT), CAST($4 AS TEXT)))"),
            "{statement}"
        );
        assert_eq!(keys.count(), 2);
    }

    #[test]
    fn a_batch_takes_at_most_the_largest_statement() {
        let lookups: Lookups<i64, ()> = Lookups::default();
        let _answers: Vec<_> = (0..MAX_BATCH as i64 + 3).map(|id| lookups.join(id)).collect();
        let (keys, answers) = lookups.take();
        assert_eq!((keys.len(), answers.len()), (MAX_BATCH, MAX_BATCH));
        assert!(batch(&USERS, &keys).0.contains(&format!("${MAX_BATCH} AS BIGINT)))")));
        assert_eq!(lookups.take().0, [32, 33, 34]);
        assert!(lookups.take().0.is_empty());
    }

    #[tokio::test]
    async fn rows_go_to_their_positions_and_the_rest_get_none() {
        let lookups: Lookups<i64, &str> = Lookups::default();
        let answers: Vec<_> = [5, 6, 7].into_iter().map(|id| lookups.join(id)).collect();
        let (_, senders) = lookups.take();
        let rows = [(2, "seven"), (0, "five"), (3, "padding")];
        send(
            senders,
            rows.into_iter().map(|(n, value)| Numbered { n, value }).collect(),
        );
        let mut got = Vec::new();
        for answer in answers {
            got.push(answer.await.expect("answered"));
        }
        assert_eq!(got, [Some("five"), None, Some("seven")]);
    }
}
