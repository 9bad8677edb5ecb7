//! Tests of the hashing pool: formats accepted, errors never raised for bad input, and the work
//! staying off the runtime and under the concurrency limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use super::*;

const PASSWORD: &str = "Tr1cky-Horse-Battery-9";

fn password() -> Password {
    Password::new(PASSWORD)
}

async fn verify(encoded: &str) -> Verification {
    PasswordHasher::new(2)
        .verify(&password(), encoded)
        .await
        .expect("verification runs")
}

#[tokio::test]
async fn a_new_hash_verifies_without_rehash() {
    let hasher = PasswordHasher::new(2);
    let encoded = hasher.hash(&password()).await.expect("hashing runs");
    assert!(encoded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    let right = hasher.verify(&password(), &encoded).await.expect("verification runs");
    let wrong = hasher
        .verify(&Password::new("Tr1cky-Horse-Battery"), &encoded)
        .await
        .expect("verification runs");
    assert_eq!(right, Verification::Match { needs_rehash: false });
    assert_eq!(wrong, Verification::Mismatch);
}

#[tokio::test]
async fn stored_formats_are_recognised() {
    let cases = [
        (
            "$argon2id$v=19$m=4096,t=3,p=1$YqwDzVRbByciLxLxisCzew$XYkKTw93LvZ5lg2wIn7SdqfP0DHsIlANgiTEgRpIHYU",
            Verification::Match { needs_rehash: true },
        ),
        (
            "argon2$argon2id$v=19$m=19456,t=2,p=1$nGgS5Z9R1IzWMkjk8/JOFQ$1B5OsYPqsYdxFdavzjp/q0N44k5mUo3L1QQsQbIeNQ4",
            Verification::Match { needs_rehash: true },
        ),
        (
            "pbkdf2_sha256$1000$xQ9sT2bV7kLm4nPz0aRcDe$zLkF/OgpZIQ0+R0QLZyXGU+13jHwjnwa5NH0r6qqcCs=",
            Verification::Match { needs_rehash: true },
        ),
    ];
    for (encoded, expected) in cases {
        assert_eq!(verify(encoded).await, expected, "{encoded}");
    }
}

#[tokio::test]
async fn unusable_empty_and_garbage_hashes_are_a_mismatch_not_an_error() {
    let cases = [
        "",
        "!",
        "!Jv2p0wGq3xZk6mYtLrN8sBcDfH1aE4uW7iO9pQ5",
        "$",
        "$argon2id$v=19$m=19456,t=2,p=1$$",
        "argon2$argon2id$",
        "pbkdf2_sha256$abc$salt$hash",
        "sha1$salt$hash",
        "\u{0}\u{fffd}",
        PASSWORD,
    ];
    for encoded in cases {
        assert_eq!(verify(encoded).await, Verification::Mismatch, "{encoded:?}");
    }
}

#[tokio::test]
async fn the_dummy_verification_completes() {
    assert!(PasswordHasher::new(1).verify_dummy(&password()).await.is_ok());
}

#[tokio::test(flavor = "current_thread")]
async fn hashing_leaves_the_runtime_thread_free() {
    let hasher = PasswordHasher::new(1);
    let hashing = tokio::spawn(async move { hasher.hash(&password()).await });
    let mut ticks = 0;
    while !hashing.is_finished() {
        tokio::time::sleep(Duration::from_millis(1)).await;
        ticks += 1;
    }
    assert!(ticks > 0, "the only runtime thread was blocked while hashing");
    assert!(hashing.await.expect("task joins").is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_than_max_concurrent_jobs_run_at_once() {
    let hasher = PasswordHasher::new(2);
    let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let jobs: Vec<_> = (0..6)
        .map(|_| {
            let (hasher, running, peak) = (hasher.clone(), running.clone(), peak.clone());
            tokio::spawn(async move {
                hasher
                    .run(move |_| {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(30));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
            })
        })
        .collect();
    for job in jobs {
        assert!(job.await.expect("task joins").is_ok());
    }
    assert_eq!(peak.load(Ordering::SeqCst), 2);
}

/// Starts a job on `hasher` that runs until `release` is sent; returns once it runs.
async fn hold(hasher: &PasswordHasher) -> (tokio::task::JoinHandle<Result<bool, HashError>>, mpsc::Sender<()>) {
    let (release, released) = mpsc::channel::<()>();
    let (started, running) = tokio::sync::oneshot::channel();
    let job = tokio::spawn({
        let hasher = hasher.clone();
        async move {
            hasher
                .run(move |_| {
                    let _ = started.send(());
                    released.recv().is_ok()
                })
                .await
        }
    });
    running.await.expect("the held job started");
    (job, release)
}

#[tokio::test]
async fn a_cancelled_caller_keeps_its_slot_until_the_work_ends() {
    let hasher = PasswordHasher::new(1).with_queue_limit(0);
    let (release, released) = mpsc::channel::<()>();
    let started = Arc::new(AtomicUsize::new(0));
    let call = hasher.run({
        let started = started.clone();
        move |_| {
            started.fetch_add(1, Ordering::SeqCst);
            released.recv().is_ok()
        }
    });
    assert!(
        tokio::time::timeout(Duration::from_millis(200), call).await.is_err(),
        "the caller gave up while the work was running"
    );
    assert_eq!(started.load(Ordering::SeqCst), 1, "the work had started");
    assert!(
        matches!(hasher.run(|_| ()).await, Err(HashError::QueueFull)),
        "the slot was free while the abandoned work still ran"
    );

    release.send(()).expect("the job is still waiting");
    let freed = tokio::time::timeout(Duration::from_secs(5), async {
        while hasher.run(|_| ()).await.is_err() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    assert!(freed.is_ok(), "the slot came back when the work ended");
}

#[tokio::test]
async fn past_the_queue_limit_a_call_fails_at_once() {
    let hasher = PasswordHasher::new(1).with_queue_limit(1);
    let (running, release) = hold(&hasher).await;
    let queued = tokio::spawn({
        let hasher = hasher.clone();
        async move { hasher.run(|_| ()).await }
    });
    while hasher.queue_depth() != 1 {
        tokio::task::yield_now().await;
    }
    let refused = tokio::time::timeout(Duration::from_millis(500), hasher.run(|_| ())).await;
    assert!(
        matches!(refused, Ok(Err(HashError::QueueFull))),
        "the third call was not refused at once"
    );
    release.send(()).expect("the held job is still waiting");
    assert!(running.await.expect("joins").expect("runs"));
    assert!(queued.await.expect("joins").is_ok());
    assert_eq!(hasher.queue_depth(), 0);
}

#[tokio::test]
async fn a_caller_cancelled_while_waiting_leaves_the_queue_and_its_work_never_runs() {
    let hasher = PasswordHasher::new(1).with_queue_limit(1);
    let (running, release) = hold(&hasher).await;
    let ran = Arc::new(AtomicUsize::new(0));
    let gave_up = tokio::time::timeout(Duration::from_millis(50), {
        let ran = ran.clone();
        hasher.run(move |_| ran.fetch_add(1, Ordering::SeqCst))
    })
    .await;
    assert!(gave_up.is_err(), "the waiting caller gave up");
    assert_eq!(hasher.queue_depth(), 0, "the cancelled waiter is still counted");
    let next = tokio::spawn({
        let hasher = hasher.clone();
        async move { hasher.run(|_| ()).await }
    });
    release.send(()).expect("the held job is still waiting");
    assert!(running.await.expect("joins").expect("runs"));
    assert!(next.await.expect("joins").is_ok(), "the freed place was usable");
    assert_eq!(ran.load(Ordering::SeqCst), 0, "the abandoned work ran");
}

#[tokio::test]
async fn a_panicking_job_fails_its_call_and_the_thread_serves_the_next() {
    let hasher = PasswordHasher::new(1);
    let panicked = hasher.run(|_| -> u8 { panic!("a job that panics") }).await;
    assert!(matches!(panicked, Err(HashError::Interrupted)), "{panicked:?}");
    assert!(hasher.verify_dummy(&password()).await.is_ok());
}

#[tokio::test]
async fn a_free_slot_takes_a_call_even_with_no_room_to_wait() {
    let hasher = PasswordHasher::new(2).with_queue_limit(0);
    let (first, release) = hold(&hasher).await;
    assert!(hasher.run(|_| ()).await.is_ok(), "the second slot was free");
    release.send(()).expect("the held job is still waiting");
    assert!(first.await.expect("joins").expect("runs"));
}
