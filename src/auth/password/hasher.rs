//! The password hashing pool: runs every hash and verification on threads of its own, at most
//! `max_concurrent` at a time, with a bounded number waiting for a slot, and picks the verifier for
//! each stored format.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use self::threads::{Refusal, Threads};
use super::argon2id;
use super::django;
use super::plaintext::Password;
use super::work_area::WorkArea;
use crate::metrics::Metrics;

mod threads;

/// Hashes and verifies passwords off the async runtime, at most `max_concurrent` at a time.
///
/// Cloning is cheap and clones share the same threads. The work runs on at most `max_concurrent`
/// threads of its own, started as they are first needed, each keeping one Argon2 [`WorkArea`]
/// (19 MiB) from one hash to the next, so memory stays flat and no hash pays for fresh pages.
///
/// A call whose work has started keeps its slot until the work finishes, even if the calling
/// future is dropped (for example by a timeout), so cancelled requests cannot push the number of
/// running hashes above the limit; a call dropped while it waits leaves the line, and its work
/// never runs. At most `queue_limit` calls wait for a slot; past that a call fails at once with
/// [`HashError::QueueFull`], so a flood gets fast refusals instead of ever longer waits.
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    threads: Arc<Threads>,
    queue_limit: usize,
    /// When a call was last refused for a full queue (for `/readyz`).
    refused_at: Arc<Mutex<Option<Instant>>>,
    /// Where refusals are counted (`imhotep_password_hash_rejected_total`), when set.
    metrics: Option<Metrics>,
}

/// The outcome of checking a password against a stored hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    /// The password is right. `needs_rehash` says the stored hash is not in the current format
    /// (a Django hash, another Argon2 variant or other parameters): hash the password again and
    /// store the result.
    Match { needs_rehash: bool },
    /// The password is wrong, or the stored string is empty, unusable (`!...`), unknown or malformed.
    Mismatch,
}

/// Why hashing or verification could not run. Never contains the password or the hash.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The Argon2 implementation failed, in practice only when the system RNG fails.
    #[error("password hashing failed")]
    Hashing(#[source] argon2::password_hash::Error),
    /// The work panicked.
    #[error("password hashing did not complete")]
    Interrupted,
    /// No hashing thread could be started.
    #[error("password hashing threads could not be started")]
    NoThread,
    /// `queue_limit` hashes were already waiting for a slot.
    #[error("password hashing queue is full")]
    QueueFull,
}

impl PasswordHasher {
    /// A pool that runs at most `max_concurrent` hashes at once (a value of 0 counts as 1).
    /// The number of CPU cores is a good choice: each hash keeps one core busy.
    pub fn new(max_concurrent: usize) -> Self {
        Self {
            threads: Arc::new(Threads::new(max_concurrent)),
            queue_limit: usize::MAX,
            refused_at: Arc::new(Mutex::new(None)),
            metrics: None,
        }
    }

    /// The same pool counting its refusals in `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The same pool letting at most `limit` calls wait for a slot (unbounded by default).
    #[must_use]
    pub fn with_queue_limit(mut self, limit: usize) -> Self {
        self.queue_limit = limit;
        self
    }

    /// Whether the queue is full now or refused a call within `within`.
    pub fn saturated(&self, within: Duration) -> bool {
        let refused = *self.refused_at.lock().unwrap_or_else(PoisonError::into_inner);
        self.queue_depth() >= self.queue_limit || refused.is_some_and(|at| at.elapsed() < within)
    }

    /// How many hashes are waiting for a free slot right now.
    pub fn queue_depth(&self) -> usize {
        self.threads.queued()
    }

    /// Hashes `password` into a `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` PHC string with a
    /// fresh random 16-byte salt.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let password = password.clone();
        self.run(move |area| argon2id::hash(password.expose(), area))
            .await?
            .map_err(HashError::Hashing)
    }

    /// Checks `password` against a stored hash: imhotep's `$argon2id$...` PHC strings (any
    /// parameters) and every Django hasher's format (`pbkdf2_sha256`, `pbkdf2_sha1`, `argon2`,
    /// `bcrypt_sha256`, `bcrypt`, `scrypt`, `md5`, `sha1`, unsalted MD5 and SHA-1), which always
    /// ask for a rehash. Anything else, or a hash over the cost bounds, is a mismatch, and costs
    /// one dummy verification so that it takes as long as a real one.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn verify(&self, password: &Password, encoded: &str) -> Result<Verification, HashError> {
        let (password, encoded) = (password.clone(), encoded.to_owned());
        self.run(move |area| verify_stored(password.expose(), &encoded, area))
            .await
    }

    /// Runs a verification of the same cost against a fixed dummy argon2id hash, so an unknown
    /// user takes as long as a wrong password, and fails as a real one would (a full queue).
    pub async fn verify_dummy(&self, password: &Password) -> Result<(), HashError> {
        self.verify(password, argon2id::DUMMY_HASH).await.map(|_| ())
    }

    /// Runs `work` on a hashing thread, in that thread's work area, once a slot is free.
    async fn run<T, F>(&self, work: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce(&mut WorkArea) -> T + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(move |area: &mut WorkArea| {
            // The caller may have given up meanwhile; then nobody reads the answer.
            let _ = reply.send(work(area));
        });
        // Held until the answer comes: dropped earlier (the caller gave up), it takes a job that
        // has not started out of the line.
        let _place = match self.threads.submit(job, self.queue_limit) {
            Ok(place) => place,
            Err(Refusal::Full) => {
                *self.refused_at.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
                if let Some(metrics) = &self.metrics {
                    metrics.hash_queue_full();
                }
                return Err(HashError::QueueFull);
            }
            Err(Refusal::NoThread) => return Err(HashError::NoThread),
        };
        answer.await.map_err(|_| HashError::Interrupted)
    }
}

/// Dispatches on the stored format; spends one dummy verification when nothing was computed.
fn verify_stored(password: &str, encoded: &str, area: &mut WorkArea) -> Verification {
    let outcome = if encoded.starts_with('$') {
        argon2id::verify(password, encoded, area)
    } else {
        django::verify(password, encoded, area)
    };
    outcome.unwrap_or_else(|| {
        argon2id::verify(password, argon2id::DUMMY_HASH, area);
        Verification::Mismatch
    })
}

#[cfg(test)]
mod tests;
