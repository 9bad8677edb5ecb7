//! Per-request lookups folded into one statement when they arrive together (`store/sql/lookups.rs`):
//! a batch answers each lookup as the lookup alone would, and the lookups of a batch that was
//! dropped mid-query still get their answers.

use tokio::task::JoinHandle;

use super::{contract_tests, session, token_in, until_waiting, user_id, with_batches};
use crate::store::Store;
use crate::store::models::{Revocation, User};

contract_tests!(
    users_looked_up_together_get_what_each_lookup_alone_gets,
    access_checks_looked_up_together_get_what_each_alone_gets,
    the_lookups_of_a_dropped_batch_run_alone,
);

/// One task per id, each looking its user up.
fn spawn_user_lookups(store: &Store, ids: &[i64]) -> Vec<JoinHandle<Option<User>>> {
    ids.iter()
        .map(|&id| {
            let store = store.clone();
            tokio::spawn(async move { store.user_by_id(id).await.expect("lookup") })
        })
        .collect()
}

async fn users_looked_up_together_get_what_each_lookup_alone_gets(store: Store) {
    let a = user_id(&store, "a@example.com").await;
    let b = user_id(&store, "b@example.com").await;
    // Duplicates, a missing id, and more lookups than one statement answers (32).
    let ids: Vec<i64> = (0..40).map(|n| [a, b, a, 999_999][n % 4]).collect();
    let mut alone = Vec::new();
    for id in &ids {
        alone.push(store.user_by_id(*id).await.expect("lookup"));
    }

    let (batches, together) = with_batches!(store, users, |lookups| {
        let held = lookups.hold_slots().await;
        let before = lookups.batches.load(std::sync::atomic::Ordering::Relaxed);
        let tasks = spawn_user_lookups(&store, &ids);
        until_waiting(|| lookups.waiting_count(), ids.len()).await;
        drop(held);
        let mut together = Vec::new();
        for task in tasks {
            together.push(task.await.expect("task"));
        }
        (
            lookups.batches.load(std::sync::atomic::Ordering::Relaxed) - before,
            together,
        )
    });
    assert_eq!(together, alone);
    assert_eq!(together.iter().filter(|user| user.is_none()).count(), 10);
    assert_eq!(batches, 2, "40 lookups that waited together take two statements");
}

async fn access_checks_looked_up_together_get_what_each_alone_gets(store: Store) {
    let a = user_id(&store, "c@example.com").await;
    let b = user_id(&store, "d@example.com").await;
    for (sid, owner) in [("sa", a), ("sb", b), ("revoked", a)] {
        store
            .start_session(&session(sid, owner), &token_in(&format!("t-{sid}"), owner, sid, None))
            .await
            .expect("start session");
    }
    store
        .revoke_sessions(Revocation::Session {
            id: "revoked",
            owner: None,
        })
        .await
        .expect("revoke");
    // Live, another user's, revoked, unknown, and a missing user; each twice.
    let keys: Vec<(i64, &str)> = [
        (a, "sa"),
        (a, "sb"),
        (a, "revoked"),
        (b, "unknown"),
        (999_999, "sa"),
        (b, "sb"),
    ]
    .into_iter()
    .cycle()
    .take(12)
    .collect();
    let answer = |row: Option<crate::store::models::AccessCheck>| row.map(|row| (row.user, row.session_live));
    let mut alone = Vec::new();
    for (id, sid) in &keys {
        alone.push(answer(store.user_for_access(*id, sid).await.expect("lookup")));
    }
    let lives: Vec<Option<bool>> = alone.iter().map(|row| row.as_ref().map(|(_, live)| *live)).collect();
    assert_eq!(
        lives[..6],
        [Some(true), Some(false), Some(false), Some(false), None, Some(true)]
    );

    let (batches, together) = with_batches!(store, access, |lookups| {
        let held = lookups.hold_slots().await;
        let before = lookups.batches.load(std::sync::atomic::Ordering::Relaxed);
        let tasks: Vec<_> = keys
            .iter()
            .map(|&(id, sid)| {
                let store = store.clone();
                tokio::spawn(async move { store.user_for_access(id, sid).await.expect("lookup") })
            })
            .collect();
        until_waiting(|| lookups.waiting_count(), keys.len()).await;
        drop(held);
        let mut together = Vec::new();
        for task in tasks {
            together.push(answer(task.await.expect("task")));
        }
        (
            lookups.batches.load(std::sync::atomic::Ordering::Relaxed) - before,
            together,
        )
    });
    assert_eq!(together, alone);
    assert_eq!(batches, 1, "lookups that waited together take one statement");
}

async fn the_lookups_of_a_dropped_batch_run_alone(store: Store) {
    let a = user_id(&store, "e@example.com").await;
    let ids = [a, 999_999, a];
    let answers = with_batches!(store, users, |lookups| {
        let held = lookups.hold_slots().await;
        let tasks = spawn_user_lookups(&store, &ids);
        until_waiting(|| lookups.waiting_count(), ids.len()).await;
        lookups.drop_waiting();
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.expect("task").map(|user| user.id));
        }
        drop(held);
        answers
    });
    assert_eq!(answers, [Some(a), None, Some(a)]);
}
