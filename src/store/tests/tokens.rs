//! Contract tests for the refresh-token tables: outstanding, blacklist, rotation, flushing.

use chrono::{DateTime, Duration, TimeZone, Utc};
use tokio::task::JoinSet;

use super::{contract_tests, count, outstanding_user_id, session, token, token_in, user_id};
use crate::store::Store;

contract_tests!(
    blacklisting_a_recorded_token_twice_gives_true_then_false,
    recording_a_jti_twice_keeps_one_row,
    blacklisting_a_never_recorded_token_records_it_first,
    blacklisting_a_token_of_a_deleted_user_records_a_null_user,
    rotation_blacklists_the_old_token_and_records_the_new_one,
    rotating_a_blacklisted_token_writes_nothing,
    concurrent_rotations_of_one_token_have_one_winner,
    deleting_a_user_keeps_its_tokens_with_a_null_user,
    flushing_removes_expired_tokens_and_their_blacklist_rows_only,
);

const COUNT_OUTSTANDING: &str = "SELECT COUNT(*) FROM outstanding_tokens";
const COUNT_BLACKLISTED: &str = "SELECT COUNT(*) FROM blacklisted_tokens";

fn tomorrow() -> DateTime<Utc> {
    Utc::now() + Duration::days(1)
}

async fn blacklisting_a_recorded_token_twice_gives_true_then_false(store: Store) {
    let user = user_id(&store, "a@example.com").await;
    let refresh = token("jti-a", Some(user), tomorrow());
    store.record_outstanding(&refresh).await.expect("record");
    assert!(!store.is_blacklisted("jti-a").await.expect("check"));

    let first = store.blacklist(&refresh).await.expect("blacklist");
    let second = store.blacklist(&refresh).await.expect("blacklist again");

    assert_eq!((first, second), (true, false));
    assert!(store.is_blacklisted("jti-a").await.expect("check"));
    assert!(!store.is_blacklisted("jti-unknown").await.expect("check unknown"));
    assert_eq!(count(&store, COUNT_BLACKLISTED).await, 1);
}

async fn recording_a_jti_twice_keeps_one_row(store: Store) {
    let user = user_id(&store, "b@example.com").await;
    let refresh = token("jti-b", Some(user), tomorrow());

    store.record_outstanding(&refresh).await.expect("record");
    store.record_outstanding(&refresh).await.expect("record duplicate");

    assert_eq!(count(&store, COUNT_OUTSTANDING).await, 1);
    assert_eq!(outstanding_user_id(&store, "jti-b").await, Some(Some(user)));
}

async fn blacklisting_a_never_recorded_token_records_it_first(store: Store) {
    let user = user_id(&store, "c@example.com").await;

    assert!(
        store
            .blacklist(&token("jti-c", Some(user), tomorrow()))
            .await
            .expect("blacklist")
    );

    assert_eq!(outstanding_user_id(&store, "jti-c").await, Some(Some(user)));
    assert!(store.is_blacklisted("jti-c").await.expect("check"));
}

async fn blacklisting_a_token_of_a_deleted_user_records_a_null_user(store: Store) {
    let user = user_id(&store, "d@example.com").await;
    store.delete_user(user, false).await.expect("delete");

    assert!(
        store
            .blacklist(&token("jti-d", Some(user), tomorrow()))
            .await
            .expect("blacklist")
    );

    assert_eq!(outstanding_user_id(&store, "jti-d").await, Some(None));
    assert!(store.is_blacklisted("jti-d").await.expect("check"));
}

async fn rotation_blacklists_the_old_token_and_records_the_new_one(store: Store) {
    let user = user_id(&store, "e@example.com").await;
    let old = token_in("jti-old", user, "s1", None);
    store.start_session(&session("s1", user), &old).await.expect("login");

    assert!(
        store
            .rotate(&old, &token_in("jti-new", user, "s1", Some("jti-old")), None)
            .await
            .expect("rotate")
    );

    assert!(store.is_blacklisted("jti-old").await.expect("check old"));
    assert!(!store.is_blacklisted("jti-new").await.expect("check new"));
    assert_eq!(outstanding_user_id(&store, "jti-new").await, Some(Some(user)));
}

async fn rotating_a_blacklisted_token_writes_nothing(store: Store) {
    let user = user_id(&store, "f@example.com").await;
    let old = token_in("jti-old", user, "s1", None);
    store.start_session(&session("s1", user), &old).await.expect("login");
    store.blacklist(&old).await.expect("blacklist");

    assert!(
        !store
            .rotate(&old, &token_in("jti-new", user, "s1", Some("jti-old")), None)
            .await
            .expect("rotate")
    );
    assert!(
        !store
            .rotate(
                &old,
                &token_in("jti-new", user, "s2", Some("jti-old")),
                Some(&session("s2", user))
            )
            .await
            .expect("rotate into a new session")
    );

    assert_eq!(outstanding_user_id(&store, "jti-new").await, None);
    assert_eq!(count(&store, COUNT_OUTSTANDING).await, 1);
    assert_eq!(count(&store, COUNT_BLACKLISTED).await, 1);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM sessions").await, 1);
}

async fn concurrent_rotations_of_one_token_have_one_winner(store: Store) {
    let user = user_id(&store, "g@example.com").await;
    let old = token_in("jti-old", user, "s1", None);
    store.start_session(&session("s1", user), &old).await.expect("login");
    let mut tasks = JoinSet::new();
    for i in 0..10 {
        let (store, old) = (store.clone(), old.clone());
        let new = token_in(&format!("jti-new-{i}"), user, "s1", Some("jti-old"));
        tasks.spawn(async move { store.rotate(&old, &new, None).await });
    }

    let outcomes: Vec<bool> = tasks.join_all().await.into_iter().map(|o| o.expect("rotate")).collect();

    assert_eq!(outcomes.iter().filter(|won| **won).count(), 1);
    assert_eq!(
        count(&store, COUNT_OUTSTANDING).await,
        2,
        "the old token and one new one"
    );
    assert_eq!(count(&store, COUNT_BLACKLISTED).await, 1);
}

async fn deleting_a_user_keeps_its_tokens_with_a_null_user(store: Store) {
    let user = user_id(&store, "h@example.com").await;
    store
        .record_outstanding(&token("jti-h1", Some(user), tomorrow()))
        .await
        .expect("record");
    store
        .blacklist(&token("jti-h2", Some(user), tomorrow()))
        .await
        .expect("blacklist");

    store.delete_user(user, false).await.expect("delete");

    assert_eq!(outstanding_user_id(&store, "jti-h1").await, Some(None));
    assert_eq!(outstanding_user_id(&store, "jti-h2").await, Some(None));
    assert!(store.is_blacklisted("jti-h2").await.expect("check"));
}

/// Expiry times straddle `now` by a millisecond, on a whole second, so SQLite's text timestamps
/// with and without a fraction must compare in time order.
async fn flushing_removes_expired_tokens_and_their_blacklist_rows_only(store: Store) {
    let user = user_id(&store, "i@example.com").await;
    let now = Utc.with_ymd_and_hms(2030, 6, 1, 12, 0, 0).single().expect("valid date");
    let ms = Duration::milliseconds(1);
    store
        .blacklist(&token("expired-blacklisted", Some(user), now - ms))
        .await
        .expect("blacklist");
    store
        .record_outstanding(&token("expired", Some(user), now - Duration::days(3)))
        .await
        .expect("record");
    store
        .record_outstanding(&token("expiring-now", None, now))
        .await
        .expect("record");
    store
        .blacklist(&token("live-blacklisted", Some(user), now + ms))
        .await
        .expect("blacklist");
    store
        .record_outstanding(&token("live", Some(user), now + Duration::days(1)))
        .await
        .expect("record");

    let flushed = store.flush_expired_tokens(now).await.expect("flush");

    assert_eq!(flushed, 3);
    for gone in ["expired-blacklisted", "expired", "expiring-now"] {
        assert_eq!(outstanding_user_id(&store, gone).await, None, "{gone}");
    }
    assert_eq!(outstanding_user_id(&store, "live").await, Some(Some(user)));
    assert!(store.is_blacklisted("live-blacklisted").await.expect("check"));
    assert!(!store.is_blacklisted("expired-blacklisted").await.expect("check"));
    assert_eq!(count(&store, COUNT_BLACKLISTED).await, 1);
}
