//! Refresh rotations written together (`store/sql/rotations.rs`): each rotation of a batch comes out
//! as it would alone, a rotation whose request went away before its batch writes nothing, and on
//! PostgreSQL a batch whose statement fails is written again one rotation at a time.

use chrono::Utc;
use tokio::task::JoinHandle;

use super::{contract_tests, count, execute, session, token, token_in, until_waiting, user_id, with_batches};
use crate::store::models::{IssuedToken, NewSession, RefreshOutcome, RefreshRotation, TokenRecord};
use crate::store::{Store, StoreError};

contract_tests!(
    rotations_written_together_come_out_as_each_alone,
    a_rotation_whose_request_went_away_before_its_batch_writes_nothing,
);

/// One refresh: the presented token, its child, the user to check and the session offered.
struct Case {
    old: TokenRecord,
    child: IssuedToken,
    user_id: Option<i64>,
    check_user_is_active: bool,
    offered: NewSession,
}

impl Case {
    /// A refresh of `old` by its user (no activity check), whose child is `<jti>-child`, offering
    /// session `offered` in case the token's row names none.
    fn of(old: TokenRecord, offered: &str) -> Self {
        let now = Utc::now();
        Self {
            child: IssuedToken {
                jti: format!("{}-child", old.jti),
                created_at: now,
                expires_at: now + chrono::Duration::days(1),
            },
            user_id: old.user_id,
            check_user_is_active: false,
            offered: NewSession {
                user_id: old.user_id,
                ..session(offered, 0)
            },
            old,
        }
    }

    async fn refresh(&self, store: &Store) -> Result<RefreshOutcome, StoreError> {
        let request = RefreshRotation {
            old: self.old.clone(),
            child: self.child.clone(),
            user_id: self.user_id,
            check_user_is_active: self.check_user_is_active,
            session: self.offered.clone(),
        };
        store.refresh_rotation(request).await
    }
}

/// One task per case, each refreshing while every batch slot is held; the cases join the waiting
/// list one after the other, so a batch holds them in their order, and the slots are given back
/// once all of them wait. Answers `(result, batches taken, batches that failed as a whole and were
/// written one rotation at a time)`.
async fn tried_together(store: &Store, cases: Vec<Case>) -> (Vec<Result<RefreshOutcome, StoreError>>, usize, usize) {
    with_batches!(store, rotations, |rotations| {
        let held = rotations.hold_slots().await;
        let before = rotations.batches.load(std::sync::atomic::Ordering::Relaxed);
        let failed_before = rotations.written_one_by_one.load(std::sync::atomic::Ordering::Relaxed);
        let mut tasks: Vec<JoinHandle<_>> = Vec::with_capacity(cases.len());
        for case in cases {
            let store = store.clone();
            tasks.push(tokio::spawn(async move { case.refresh(&store).await }));
            until_waiting(|| rotations.waiting_count(), tasks.len()).await;
        }
        drop(held);
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.expect("task"));
        }
        (
            results,
            rotations.batches.load(std::sync::atomic::Ordering::Relaxed) - before,
            rotations.written_one_by_one.load(std::sync::atomic::Ordering::Relaxed) - failed_before,
        )
    })
}

/// [`tried_together`] of refreshes that all succeed, each batch written as a whole: `(outcome,
/// batches taken)`.
async fn refreshed_together(store: &Store, cases: Vec<Case>) -> (Vec<RefreshOutcome>, usize) {
    let (results, batches, failed) = tried_together(store, cases).await;
    assert_eq!(failed, 0, "batches written one rotation at a time");
    (
        results.into_iter().map(|result| result.expect("refresh")).collect(),
        batches,
    )
}

/// `(blacklisted, user id, rotated_in)` of an outcome.
fn summary(outcome: &RefreshOutcome) -> (bool, Option<i64>, Option<&str>) {
    (
        outcome.blacklisted,
        outcome.user.as_ref().map(|user| user.id),
        outcome.rotated_in.as_deref(),
    )
}

async fn blacklisted(store: &Store, jti: &str) -> bool {
    store
        .token_status(jti)
        .await
        .expect("status")
        .is_some_and(|status| status.blacklisted)
}

async fn session_of(store: &Store, jti: &str) -> Option<String> {
    store
        .token_status(jti)
        .await
        .expect("status")
        .and_then(|status| status.session_id)
}

/// After a batch of `t0`, `t1` and `t2` in which `t1` could not be written: the others rotated in
/// their sessions, `t1` got an error and wrote nothing.
async fn only_t1_failed(store: &Store, results: Vec<Result<RefreshOutcome, StoreError>>) {
    let results: Vec<_> = results
        .into_iter()
        .map(|result| result.map(|outcome| outcome.rotated_in))
        .collect();
    assert_eq!(results[0].as_ref().ok(), Some(&Some("s0".to_owned())));
    assert!(results[1].is_err(), "{:?}", results[1]);
    assert_eq!(results[2].as_ref().ok(), Some(&Some("s2".to_owned())));
    assert!(!blacklisted(store, "t1").await, "the failed rotation wrote nothing");
}

/// A user (by `email`) with two live tokens, `first` and `second`, recorded in one session `s`,
/// and a refresh of each presented as minted before sessions: with no `sid` claim, so the batcher
/// cannot tell they share one.
async fn unnamed_pair(store: &Store, email: &str) -> (i64, [Case; 2]) {
    let user = user_id(store, email).await;
    login(store, "s", "first", user).await;
    store
        .record_outstanding(&token_in("second", user, "s", None))
        .await
        .expect("record");
    let unnamed = |jti| TokenRecord {
        session_id: None,
        ..token_in(jti, user, "s", None)
    };
    (
        user,
        [
            Case::of(unnamed("first"), "unused"),
            Case::of(unnamed("second"), "unused"),
        ],
    )
}

async fn login(store: &Store, sid: &str, jti: &str, user: i64) {
    store
        .start_session(&session(sid, user), &token_in(jti, user, sid, None))
        .await
        .expect("start session");
}

async fn rotations_written_together_come_out_as_each_alone(store: Store) {
    let user = user_id(&store, "a@example.com").await;
    let inactive = user_id(&store, "b@example.com").await;
    execute(
        &store,
        "UPDATE users SET is_active = TRUE WHERE email = 'a@example.com'",
    )
    .await;
    for n in 0..5 {
        login(&store, &format!("s{n}"), &format!("t{n}"), user).await;
    }
    // Already rotated, so blacklisted.
    login(&store, "s-used", "used", user).await;
    assert!(
        Case::of(token_in("used", user, "s-used", None), "x")
            .refresh(&store)
            .await
            .expect("refresh")
            .rotated_in
            .is_some()
    );
    login(&store, "s-inactive", "of-inactive", inactive).await;
    // A revoked session whose token is not blacklisted (see sessions.rs).
    login(&store, "s-revoked", "in-revoked", user).await;
    execute(
        &store,
        "UPDATE sessions SET revoked_at = last_used_at WHERE id = 's-revoked'",
    )
    .await;
    // Two live tokens naming one session: they go in two batches.
    login(&store, "s-shared", "shared-1", user).await;
    store
        .record_outstanding(&token_in("shared-2", user, "s-shared", None))
        .await
        .expect("record");

    let mut cases: Vec<Case> = (0..5)
        .map(|n| Case::of(token_in(&format!("t{n}"), user, &format!("s{n}"), None), "unused"))
        .collect();
    cases.push(Case::of(token_in("used", user, "s-used", None), "unused"));
    let mut of_inactive = Case::of(token_in("of-inactive", inactive, "s-inactive", None), "unused");
    of_inactive.check_user_is_active = true;
    cases.push(of_inactive);
    cases.push(Case::of(token_in("in-revoked", user, "s-revoked", None), "unused"));
    cases.push(Case::of(
        token("foreign", None, Utc::now() + chrono::Duration::days(1)),
        "offered",
    ));
    cases.push(Case::of(token_in("nobody's", 999_999, "s-nobody", None), "unused"));
    cases.push(Case::of(token_in("shared-1", user, "s-shared", None), "unused"));
    cases.push(Case::of(token_in("shared-2", user, "s-shared", None), "unused"));

    let (outcomes, batches) = refreshed_together(&store, cases).await;
    let got: Vec<_> = outcomes.iter().map(summary).collect();
    assert_eq!(
        got,
        [
            (false, Some(user), Some("s0")),
            (false, Some(user), Some("s1")),
            (false, Some(user), Some("s2")),
            (false, Some(user), Some("s3")),
            (false, Some(user), Some("s4")),
            (true, Some(user), None),
            (false, Some(inactive), None),
            (false, Some(user), None),
            (false, None, Some("offered")),
            (false, None, None),
            (false, Some(user), Some("s-shared")),
            (false, Some(user), Some("s-shared")),
        ]
    );
    assert_eq!(batches, 2, "all but the second token of one session in one batch");

    for n in 0..5 {
        assert!(blacklisted(&store, &format!("t{n}")).await);
        assert_eq!(session_of(&store, &format!("t{n}-child")).await, Some(format!("s{n}")));
    }
    for jti in ["shared-1", "shared-2"] {
        assert!(blacklisted(&store, jti).await);
        assert_eq!(
            session_of(&store, &format!("{jti}-child")).await.as_deref(),
            Some("s-shared")
        );
    }
    assert!(blacklisted(&store, "foreign").await);
    assert_eq!(session_of(&store, "foreign-child").await.as_deref(), Some("offered"));
    for jti in ["of-inactive", "in-revoked"] {
        assert!(!blacklisted(&store, jti).await, "{jti}: nothing written");
    }
    for jti in ["of-inactive", "in-revoked", "nobody's"] {
        assert_eq!(
            store.token_status(&format!("{jti}-child")).await.expect("status"),
            None,
            "{jti}"
        );
    }
    assert_eq!(
        store.token_status("nobody's").await.expect("status"),
        None,
        "not recorded"
    );
    assert_eq!(
        count(&store, "SELECT count(*) FROM sessions WHERE id IN ('unused', 'x')").await,
        0
    );
}

async fn a_rotation_whose_request_went_away_before_its_batch_writes_nothing(store: Store) {
    let user = user_id(&store, "c@example.com").await;
    for n in 0..3 {
        login(&store, &format!("s{n}"), &format!("t{n}"), user).await;
    }
    with_batches!(store, rotations, |rotations| {
        let held = rotations.hold_slots().await;
        let tasks: Vec<JoinHandle<RefreshOutcome>> = (0..3)
            .map(|n| {
                let store = store.clone();
                let case = Case::of(token_in(&format!("t{n}"), user, &format!("s{n}"), None), "unused");
                tokio::spawn(async move { case.refresh(&store).await.expect("refresh") })
            })
            .collect();
        until_waiting(|| rotations.waiting_count(), 3).await;
        let mut tasks = tasks.into_iter();
        let (first, gone, last) = (tasks.next(), tasks.next(), tasks.next());
        let gone = gone.expect("three tasks");
        gone.abort();
        assert!(gone.await.expect_err("aborted").is_cancelled());
        drop(held);
        for task in [first, last].into_iter().flatten() {
            assert!(task.await.expect("task").rotated_in.is_some());
        }
        assert_eq!(rotations.waiting_count(), 0);
    });
    assert!(blacklisted(&store, "t0").await && blacklisted(&store, "t2").await);
    assert!(
        !blacklisted(&store, "t1").await,
        "the request went away before its batch"
    );
    assert_eq!(store.token_status("t1-child").await.expect("status"), None);
}

/// PostgreSQL only: its batch is one statement, which fails as a whole, and which meets rows of one
/// session that their tokens do not name. SQLite's batch skips a child whose jti is taken, as its
/// rotation alone does, and rotates both tokens of one session, as one after the other would.
mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_failed_batch_is_written_one_rotation_at_a_time() {
        crate::store::tests::on_postgres(a_failed_batch_is_written_one_by_one, true).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn tokens_of_one_session_not_named_by_their_claims_rotate_once_per_batch() {
        crate::store::tests::on_postgres(tokens_of_one_unnamed_session_rotate_once_per_batch, true).await;
    }

    async fn a_failed_batch_is_written_one_by_one(store: Store) {
        let user = user_id(&store, "d@example.com").await;
        for n in 0..3 {
            login(&store, &format!("s{n}"), &format!("t{n}"), user).await;
        }
        // t1's child collides with a recorded token: the batch's statement fails, and so does t1 alone.
        store
            .record_outstanding(&token_in("t1-child", user, "s1", None))
            .await
            .expect("record");
        let cases = (0..3)
            .map(|n| Case::of(token_in(&format!("t{n}"), user, &format!("s{n}"), None), "unused"))
            .collect();
        let (results, batches, failed) = tried_together(&store, cases).await;
        assert_eq!(failed, 1, "the batch was written again one rotation at a time");
        assert_eq!(batches, 1);
        only_t1_failed(&store, results).await;
    }

    async fn tokens_of_one_unnamed_session_rotate_once_per_batch(store: Store) {
        let (user, [first, second]) = unnamed_pair(&store, "e@example.com").await;
        let cases = vec![first, second];

        let (outcomes, batches) = refreshed_together(&store, cases).await;
        assert_eq!(batches, 1);
        // The cases join the batch in their order: the first rotates.
        assert!(outcomes[0].rotated_in.is_some(), "first did not rotate");
        let (rotated, left) = ("first", (&outcomes[1], "second"));
        assert_eq!(summary(left.0), (false, Some(user), None), "{} rotated too", left.1);
        assert!(blacklisted(&store, rotated).await);
        assert_eq!(
            session_of(&store, &format!("{rotated}-child")).await.as_deref(),
            Some("s")
        );
        assert!(!blacklisted(&store, left.1).await, "{} wrote nothing", left.1);
        assert_eq!(
            store.token_status(&format!("{}-child", left.1)).await.expect("status"),
            None
        );
    }
}

/// SQLite only: its batch writes its rotations as one after the other would, so two tokens of one
/// session that their claims do not name both rotate, and the session expires with the later one;
/// a batch whose one call fails half-way is rolled back and written one rotation at a time.
mod sqlite {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_batch_that_fails_half_way_is_rolled_back_and_written_one_rotation_at_a_time() {
        crate::store::tests::on_sqlite(a_failed_batch_is_rolled_back, true).await;
    }

    async fn a_failed_batch_is_rolled_back(store: Store) {
        let user = user_id(&store, "g@example.com").await;
        for n in 0..3 {
            login(&store, &format!("s{n}"), &format!("t{n}"), user).await;
        }
        let mut cases: Vec<Case> = (0..3)
            .map(|n| Case::of(token_in(&format!("t{n}"), user, &format!("s{n}"), None), "unused"))
            .collect();
        // A child no row may hold (jti longer than 255): its insert fails after the sessions were
        // touched, in the batch and again alone.
        cases[1].child.jti = "x".repeat(300);
        let before = store.list_sessions(Some(user), Utc::now()).await.expect("sessions");
        let (results, batches, failed) = tried_together(&store, cases).await;
        assert_eq!((batches, failed), (1, 1));
        only_t1_failed(&store, results).await;
        let after = store.list_sessions(Some(user), Utc::now()).await.expect("sessions");
        let s1 = |sessions: &[crate::store::models::SessionRow]| {
            sessions
                .iter()
                .find(|session| session.id == "s1")
                .map(|session| session.last_used_at)
        };
        assert_eq!(s1(&after), s1(&before), "s1 untouched: the batch was rolled back");
        // The connections are usable: a later rotation of t1 goes through.
        assert!(
            Case::of(token_in("t1", user, "s1", None), "unused")
                .refresh(&store)
                .await
                .expect("refresh")
                .rotated_in
                .is_some()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn tokens_of_one_session_not_named_by_their_claims_rotate_one_after_the_other() {
        crate::store::tests::on_sqlite(tokens_of_one_unnamed_session_rotate_in_turn, true).await;
    }

    async fn tokens_of_one_unnamed_session_rotate_in_turn(store: Store) {
        let (user, [first, mut second]) = unnamed_pair(&store, "f@example.com").await;
        second.child.expires_at = first.child.expires_at + chrono::Duration::days(1);
        let later_expiry = second.child.expires_at;

        let (outcomes, batches) = refreshed_together(&store, vec![first, second]).await;
        assert_eq!(batches, 1);
        let got: Vec<_> = outcomes.iter().map(summary).collect();
        assert_eq!(got, [(false, Some(user), Some("s")), (false, Some(user), Some("s"))]);
        for jti in ["first", "second"] {
            assert!(blacklisted(&store, jti).await, "{jti}");
            assert_eq!(session_of(&store, &format!("{jti}-child")).await.as_deref(), Some("s"));
        }
        let sessions = store.list_sessions(Some(user), Utc::now()).await.expect("sessions");
        let session = sessions.iter().find(|session| session.id == "s").expect("session s");
        assert_eq!(session.expires_at, later_expiry, "the later rotation's expiry");
    }
}
