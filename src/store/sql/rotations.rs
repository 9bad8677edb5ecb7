//! Refresh rotations that arrive together, written together: on PostgreSQL by one statement for
//! the whole batch, on SQLite in one transaction.
//!
//! A rotation joins a waiting list, then waits for a batch slot or for its answer. Whichever
//! rotation gets a slot takes the waiting list and starts a batch in a task of its own, so the
//! batch is written and every rotation in it answered even if the request that started it goes
//! away: a write cut off by a cancelled request would leave the others to find their tokens
//! rotated by nobody they know of. Under load the rotations that queued while the batches were in
//! flight share the next statement and commit; a rotation that finds a slot free is a batch of one
//! and runs the one-rotation statement at once, as before.
//!
//! A batch never holds two rotations of one token, nor of tokens naming one session (the second
//! waits for the next batch), so each rotation's outcome is what it would be alone, and concurrent
//! refreshes of one token still race exactly as before: one rotates, the others find it rotated. A batch that fails as a whole writes nothing
//! (one statement, or one transaction): its rotations then run one by one, each getting its own
//! answer or error.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, oneshot};

use crate::store::StoreError;
use crate::store::models::{RefreshOutcome, RefreshRotation};

/// The most rotations one batch writes.
const MAX_BATCH: usize = 32;

/// Batches in flight at once: one being written while the next is sent.
const BATCHES_IN_FLIGHT: usize = 2;

type Answer = oneshot::Sender<Result<RefreshOutcome, StoreError>>;

/// The rotations waiting for a batch slot.
pub(crate) struct Rotations {
    waiting: Mutex<Vec<(RefreshRotation, Answer)>>,
    slots: Arc<Semaphore>,
    /// Batches taken so far, to show in tests that rotations were written together.
    #[cfg(test)]
    pub(crate) batches: std::sync::atomic::AtomicUsize,
    /// Batches whose joint write failed, so that they were written one by one.
    #[cfg(test)]
    pub(crate) written_one_by_one: std::sync::atomic::AtomicUsize,
}

impl Default for Rotations {
    fn default() -> Self {
        Self {
            waiting: Mutex::default(),
            slots: Arc::new(Semaphore::new(BATCHES_IN_FLIGHT)),
            #[cfg(test)]
            batches: Default::default(),
            #[cfg(test)]
            written_one_by_one: Default::default(),
        }
    }
}

impl Rotations {
    /// The outcome of `rotation`, from a batch: `write` writes a batch's rotations (one or more)
    /// and answers each, in order.
    ///
    /// A caller that gets a slot takes the waiting rotations, which need not include its own (it may
    /// meet an older one of its token): it then goes on competing for a slot until its rotation is
    /// taken, and only then waits for the answer alone.
    pub(crate) async fn rotate<F, Fut>(&self, rotation: RefreshRotation, write: F) -> Result<RefreshOutcome, StoreError>
    where
        F: Fn(Vec<RefreshRotation>) -> Fut,
        Fut: Future<Output = Vec<Result<RefreshOutcome, StoreError>>> + Send + 'static,
    {
        let mut answer = self.join(rotation);
        loop {
            let slot = tokio::select! {
                biased;
                answered = &mut answer => return received(answered),
                // The semaphore is never closed.
                slot = Arc::clone(&self.slots).acquire_owned() => slot.ok(),
            };
            let (rotations, answers) = self.take();
            if rotations.is_empty() {
                // Nothing waits that a batch may take, so this rotation is in a batch already.
                drop(slot);
                return received(answer.await);
            }
            let batch = write(rotations);
            tokio::spawn(async move {
                let outcomes = batch.await;
                drop(slot);
                for (answer, outcome) in answers.into_iter().zip(outcomes) {
                    // A rotation whose request went away no longer listens.
                    let _ = answer.send(outcome);
                }
            });
        }
    }

    fn join(&self, rotation: RefreshRotation) -> oneshot::Receiver<Result<RefreshOutcome, StoreError>> {
        let (sender, answer) = oneshot::channel();
        self.waiting_list().push((rotation, sender));
        answer
    }

    /// The oldest waiting rotations, at most [`MAX_BATCH`] and at most one per token and per
    /// session named by a token; none if a batch took them all. A rotation whose request went away
    /// before a batch took it is dropped unwritten, as a request cancelled before its statement was
    /// sent writes nothing.
    fn take(&self) -> (Vec<RefreshRotation>, Vec<Answer>) {
        let mut waiting = self.waiting_list();
        let mut taken: Vec<(RefreshRotation, Answer)> = Vec::with_capacity(waiting.len().min(MAX_BATCH));
        let mut left = Vec::new();
        for (rotation, answer) in waiting.drain(..) {
            if answer.is_closed() {
                continue;
            }
            let meets = |other: &RefreshRotation| {
                other.old.jti == rotation.old.jti
                    || (other.old.session_id.is_some() && other.old.session_id == rotation.old.session_id)
            };
            if taken.len() == MAX_BATCH || taken.iter().any(|(other, _)| meets(other)) {
                left.push((rotation, answer));
            } else {
                taken.push((rotation, answer));
            }
        }
        *waiting = left;
        #[cfg(test)]
        if !taken.is_empty() {
            self.batches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        taken.into_iter().unzip()
    }

    /// Writes `batch` with `write` (which answers each rotation it is given, in order): all together
    /// when it holds more than one rotation; one by one when it holds one, or when writing it together
    /// failed as a whole.
    pub(crate) async fn together_or_alone<'s, W, WF>(
        &self,
        batch: &'s [RefreshRotation],
        write: W,
    ) -> Vec<Result<RefreshOutcome, StoreError>>
    where
        W: Fn(&'s [RefreshRotation]) -> WF,
        WF: Future<Output = Result<Vec<RefreshOutcome>, StoreError>>,
    {
        if batch.len() > 1 {
            match write(batch).await {
                Ok(outcomes) => return outcomes.into_iter().map(Ok).collect(),
                Err(error) => {
                    #[cfg(test)]
                    self.written_one_by_one
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::warn!(
                        rotations = batch.len(),
                        %error,
                        "a batch of refresh rotations failed; writing them one by one"
                    );
                }
            }
        }
        let mut outcomes = Vec::with_capacity(batch.len());
        for rotation in batch {
            let alone = write(std::slice::from_ref(rotation)).await;
            outcomes.push(alone.map(|mut one| one.remove(0)));
        }
        outcomes
    }

    /// Holds every batch slot, so that rotations wait until it is dropped.
    #[cfg(test)]
    pub(crate) async fn hold_slots(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.slots
            .acquire_many(BATCHES_IN_FLIGHT as u32)
            .await
            .expect("never closed")
    }

    /// How many rotations are waiting now.
    #[cfg(test)]
    pub(crate) fn waiting_count(&self) -> usize {
        self.waiting_list().len()
    }

    fn waiting_list(&self) -> std::sync::MutexGuard<'_, Vec<(RefreshRotation, Answer)>> {
        self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A batch's answer; a batch that ended without answering (its task panicked, or the runtime is
/// shutting down) counts as the database being unavailable.
fn received(
    answered: Result<Result<RefreshOutcome, StoreError>, oneshot::error::RecvError>,
) -> Result<RefreshOutcome, StoreError> {
    answered.unwrap_or_else(|_| Err(StoreError::Unavailable(sqlx::Error::WorkerCrashed)))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::store::models::{IssuedToken, NewSession, TokenRecord};

    fn rotation(jti: &str, session: Option<&str>) -> RefreshRotation {
        let now = Utc::now();
        RefreshRotation {
            old: TokenRecord {
                jti: jti.into(),
                user_id: Some(1),
                created_at: now,
                expires_at: now,
                session_id: session.map(str::to_owned),
                parent_jti: None,
            },
            child: IssuedToken {
                jti: format!("child of {jti}"),
                created_at: now,
                expires_at: now,
            },
            user_id: Some(1),
            check_user_is_active: true,
            session: NewSession {
                id: "s".into(),
                user_id: Some(1),
                created_at: now,
                expires_at: now,
                user_agent: None,
                ip: None,
            },
        }
    }

    fn jtis(rotations: &[RefreshRotation]) -> Vec<&str> {
        rotations.iter().map(|r| r.old.jti.as_str()).collect()
    }

    #[test]
    fn a_batch_takes_one_rotation_per_token_and_session_and_at_most_the_most() {
        let rotations = Rotations::default();
        let joined = [
            ("a", Some("s1")),
            ("b", None),
            ("a", Some("s1")),
            ("c", Some("s1")),
            ("d", None),
            ("b", None),
            ("e", Some("s2")),
        ];
        let _answers: Vec<_> = joined
            .into_iter()
            .map(|(jti, session)| rotations.join(rotation(jti, session)))
            .collect();
        assert_eq!(jtis(&rotations.take().0), ["a", "b", "d", "e"]);
        assert_eq!(jtis(&rotations.take().0), ["a", "b"]);
        assert_eq!(jtis(&rotations.take().0), ["c"]);
        assert!(rotations.take().0.is_empty());

        let names: Vec<String> = (0..MAX_BATCH + 2).map(|n| n.to_string()).collect();
        let _answers: Vec<_> = names.iter().map(|jti| rotations.join(rotation(jti, None))).collect();
        let (taken, answers) = rotations.take();
        assert_eq!((taken.len(), answers.len()), (MAX_BATCH, MAX_BATCH));
        assert_eq!(
            jtis(&rotations.take().0),
            [names[MAX_BATCH].as_str(), names[MAX_BATCH + 1].as_str()]
        );
    }

    #[test]
    fn a_rotation_whose_request_went_away_is_not_taken() {
        let rotations = Rotations::default();
        let kept = rotations.join(rotation("a", None));
        drop(rotations.join(rotation("b", None)));
        assert_eq!(jtis(&rotations.take().0), ["a"]);
        assert_eq!(rotations.waiting_count(), 0);
        drop(kept);
    }

    #[tokio::test]
    async fn a_caller_whose_rotation_was_left_for_a_later_batch_still_gets_it_written() {
        let rotations = Rotations::default();
        // An older rotation of the same token waits; the caller below gets a slot first and takes
        // that one, so its own must go in a batch it starts next.
        let older = rotations.join(rotation("a", None));
        let write = |batch: Vec<RefreshRotation>| async move {
            batch
                .into_iter()
                .map(|r| {
                    Ok(RefreshOutcome {
                        blacklisted: false,
                        user: None,
                        rotated_in: Some(r.child.jti),
                    })
                })
                .collect()
        };
        let caller = rotations.rotate(rotation("a", Some("s")), write);
        let outcome = tokio::time::timeout(std::time::Duration::from_secs(5), caller)
            .await
            .expect("answered, not left waiting")
            .expect("written");
        assert_eq!(outcome.rotated_in.as_deref(), Some("child of a"));
        assert!(older.await.expect("answered").is_ok());
        assert_eq!(rotations.batches.load(std::sync::atomic::Ordering::Relaxed), 2);
    }
}
