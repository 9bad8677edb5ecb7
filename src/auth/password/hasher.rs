//! The password hashing pool: runs every hash and verification on tokio's blocking threads, at most
//! `max_concurrent` at a time, and picks the verifier for each stored format.

use std::sync::Arc;

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{AcquireError, Semaphore};
use tokio::task::JoinError;

use super::{argon2id, django};

/// Hashes and verifies passwords off the async runtime, at most `max_concurrent` at a time.
///
/// Cloning is cheap and clones share the same limit. Each call holds its permit until the
/// blocking work finishes, even if the calling future is dropped (for example by a timeout), so
/// cancelled requests cannot push the number of running hashes above the limit.
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// Hashes waiting for a permit (the `/metrics` queue-depth gauge).
    waiting: Arc<AtomicUsize>,
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
    /// The blocking task panicked or was cancelled because the runtime is shutting down.
    #[error("password hashing task did not complete")]
    Task(#[from] JoinError),
    /// The concurrency limiter was closed.
    #[error("password hashing pool is closed")]
    Closed(#[from] AcquireError),
}

impl PasswordHasher {
    /// A pool that runs at most `max_concurrent` hashes at once (a value of 0 counts as 1).
    /// The number of CPU cores is a good choice: each hash keeps one core busy.
    pub fn new(max_concurrent: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// How many hashes are waiting for a free slot right now.
    pub fn queue_depth(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Hashes `password` into a `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` PHC string with a
    /// fresh random 16-byte salt.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let password = password.to_owned();
        self.run(move || argon2id::hash(&password))
            .await?
            .map_err(HashError::Hashing)
    }

    /// Checks `password` against a stored hash: imhotep's `$argon2id$...` PHC strings (any
    /// parameters) and every Django hasher's format (`pbkdf2_sha256`, `pbkdf2_sha1`, `argon2`,
    /// `bcrypt_sha256`, `bcrypt`, `scrypt`, `md5`, `sha1`, unsalted MD5 and SHA-1), which always
    /// ask for a rehash. Anything else, or a hash over the cost bounds, is a mismatch, and costs
    /// one dummy verification so that it takes as long as a real one.
    pub async fn verify(&self, password: &str, encoded: &str) -> Result<Verification, HashError> {
        let (password, encoded) = (password.to_owned(), encoded.to_owned());
        self.run(move || verify_stored(&password, &encoded)).await
    }

    /// Runs a verification of the same cost against a fixed dummy argon2id hash, so an unknown
    /// user takes as long as a wrong password.
    pub async fn verify_dummy(&self, password: &str) {
        if let Err(error) = self.verify(password, argon2id::DUMMY_HASH).await {
            tracing::warn!(%error, "dummy password verification did not run");
        }
    }

    /// Runs `work` on a blocking thread once a permit is free; the permit moves into the task.
    async fn run<T, F>(&self, work: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let permit = Arc::clone(&self.permits).acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        let permit = permit?;
        let output = tokio::task::spawn_blocking(move || {
            let output = work();
            drop(permit);
            output
        })
        .await?;
        Ok(output)
    }
}

/// Dispatches on the stored format; spends one dummy verification when nothing was computed.
fn verify_stored(password: &str, encoded: &str) -> Verification {
    let outcome = if encoded.starts_with('$') {
        argon2id::verify(password, encoded)
    } else {
        django::verify(password, encoded)
    };
    outcome.unwrap_or_else(|| {
        argon2id::verify(password, argon2id::DUMMY_HASH);
        Verification::Mismatch
    })
}

#[cfg(test)]
mod tests;
