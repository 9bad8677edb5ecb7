//! Contract tests for the abuse-protection tables: counters (fixed windows and the login backoff),
//! exact counts under concurrency, clearing and purging, link e-mail requests, reserved user ids.

use chrono::{Duration, Utc};
use tokio::task::JoinSet;

use super::{contract_tests, count, new_user};
use crate::mail::EmailKind;
use crate::store::Store;
use crate::store::throttle::Hit;

contract_tests!(
    a_window_allows_its_limit_then_refuses_until_it_ends,
    the_backoff_starts_at_the_threshold_and_doubles_up_to_the_cap,
    a_backoff_key_starts_again_after_a_quiet_window,
    an_attempt_reads_its_user_whether_or_not_it_is_refused,
    concurrent_hits_are_all_counted,
    clearing_and_purging_remove_only_what_they_name,
    mail_requests_reach_only_qualifying_accounts,
    a_reserved_user_id_is_never_given_to_a_user,
);

const SECOND: i64 = 1000;

async fn a_window_allows_its_limit_then_refuses_until_it_ends(store: Store) {
    let t = 1_000_000;
    for expected in 1..=3 {
        let hit = store.throttle_hit("w", 3, 60 * SECOND, t).await.expect("hit");
        assert_eq!(hit, Hit::Allowed { hits: expected });
    }
    let refused = store.throttle_hit("w", 3, 60 * SECOND, t + SECOND).await.expect("hit");
    assert_eq!(
        refused,
        Hit::Refused {
            until_ms: t + 60 * SECOND
        }
    );
    let next = store
        .throttle_hit("w", 3, 60 * SECOND, t + 60 * SECOND)
        .await
        .expect("hit");
    assert_eq!(next, Hit::Allowed { hits: 1 }, "a new window");
}

async fn the_backoff_starts_at_the_threshold_and_doubles_up_to_the_cap(store: Store) {
    let limits = (3600 * SECOND, 3, 5 * SECOND);
    let mut t = 1_000_000;
    for expected in 1..=2 {
        let hit = store.throttle_attempt("login:a", t, limits).await.expect("attempt");
        assert_eq!(hit, Hit::Allowed { hits: expected }, "free attempts");
    }
    // The 3rd attempt is let through and starts a 1 s wait, the 4th a 2 s one, then 4 s, then 5 s (the cap).
    for (hits, wait) in [
        (3, SECOND),
        (4, 2 * SECOND),
        (5, 4 * SECOND),
        (6, 5 * SECOND),
        (7, 5 * SECOND),
    ] {
        assert_eq!(
            store.throttle_attempt("login:a", t, limits).await.expect("attempt"),
            Hit::Allowed { hits }
        );
        let during = store
            .throttle_attempt("login:a", t + wait - 1, limits)
            .await
            .expect("attempt");
        assert_eq!(during, Hit::Refused { until_ms: t + wait }, "attempt {hits}");
        t += wait;
    }
}

async fn a_backoff_key_starts_again_after_a_quiet_window(store: Store) {
    let limits = (10 * SECOND, 2, 60 * SECOND);
    let t = 1_000_000;
    store.throttle_attempt("login:b", t, limits).await.expect("attempt");
    store.throttle_attempt("login:b", t, limits).await.expect("attempt");
    let after_lock = t + 60 * SECOND;
    assert_eq!(
        store
            .throttle_attempt("login:b", after_lock, limits)
            .await
            .expect("attempt"),
        Hit::Allowed { hits: 1 },
        "failures older than the window are forgotten"
    );
}

async fn an_attempt_reads_its_user_whether_or_not_it_is_refused(store: Store) {
    let alice = store
        .create_user(&new_user("Alice@example.com"), "alice@example.com", &[])
        .await
        .expect("user");
    let limits = (3600 * SECOND, 2, 5 * SECOND);
    let t = 1_000_000;
    let attempt = |key: &'static str, email_key: Option<&'static str>| {
        let store = store.clone();
        async move {
            let (hit, user) = store
                .throttle_attempt_reading_user(key, t, limits, email_key)
                .await
                .expect("attempt");
            (hit, user.map(|user| (user.id, user.email)))
        }
    };
    let found = Some((alice.id, "Alice@example.com".to_owned()));
    assert_eq!(
        attempt("login:alice", Some("alice@example.com")).await,
        (Hit::Allowed { hits: 1 }, found.clone())
    );
    assert_eq!(
        attempt("login:bob", Some("bob@example.com")).await,
        (Hit::Allowed { hits: 1 }, None),
        "nobody has the key"
    );
    assert_eq!(
        attempt("login:x", None).await,
        (Hit::Allowed { hits: 1 }, None),
        "no key"
    );
    // The 2nd attempt starts a 1 s wait, which refuses the 3rd: the user is read all the same.
    assert_eq!(
        attempt("login:alice", Some("alice@example.com")).await,
        (Hit::Allowed { hits: 2 }, found.clone())
    );
    assert_eq!(
        attempt("login:alice", Some("alice@example.com")).await,
        (Hit::Refused { until_ms: t + SECOND }, found)
    );
    // Counted exactly as `throttle_attempt` counts.
    assert_eq!(
        store.throttle_attempt("login:bob", t, limits).await.expect("attempt"),
        Hit::Allowed { hits: 2 }
    );
}

async fn concurrent_hits_are_all_counted(store: Store) {
    let mut tasks = JoinSet::new();
    for _ in 0..20 {
        let store = store.clone();
        tasks.spawn(async move {
            store
                .throttle_attempt("login:c", 1_000_000, (3600 * SECOND, 100, SECOND))
                .await
                .expect("attempt")
        });
    }
    let mut seen: Vec<i64> = Vec::new();
    while let Some(hit) = tasks.join_next().await {
        match hit.expect("task") {
            Hit::Allowed { hits } => seen.push(hits),
            refused => panic!("{refused:?}"),
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=20).collect::<Vec<_>>(), "every attempt got its own count");
}

async fn clearing_and_purging_remove_only_what_they_name(store: Store) {
    let t = Utc::now().timestamp_millis();
    for key in [
        "login:x@e.com",
        "login_client:x@e.com|1.2.3.4",
        "login:xy@e.com",
        "mail_global",
    ] {
        store.throttle_hit(key, 10, 60 * SECOND, t).await.expect("hit");
    }
    store
        .throttle_hit("old", 10, SECOND, t - 10 * SECOND)
        .await
        .expect("hit");
    let cleared = store
        .throttle_clear_matching("login:x@e.com", Some("login_client:x@e.com|"))
        .await
        .expect("clear");
    assert_eq!(cleared, 2);
    let active: Vec<String> = store
        .throttle_active(t)
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(active, ["login:xy@e.com", "mail_global"]);
    assert_eq!(
        store.purge_throttle_counters(t).await.expect("purge"),
        1,
        "only the expired row"
    );
    store
        .throttle_clear("login:xy@e.com", "mail_global")
        .await
        .expect("clear");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM throttle_counters").await, 0);
}

async fn mail_requests_reach_only_qualifying_accounts(store: Store) {
    let inactive = store
        .create_user(&new_user("Inactive@example.com"), "inactive@example.com", &[])
        .await;
    let inactive = inactive.expect("create");
    let mut active = new_user("active@example.com");
    active.is_active = true;
    store
        .create_user(&active, "active@example.com", &[])
        .await
        .expect("create");
    for (kind, key, want_active) in [
        (EmailKind::PasswordReset, "active@example.com", true),
        (EmailKind::PasswordReset, "inactive@example.com", true),
        (EmailKind::Activation, "inactive@example.com", false),
        (EmailKind::Activation, "active@example.com", false),
        (EmailKind::PasswordReset, "nobody@example.com", true),
    ] {
        store.request_mail(kind, key, want_active).await.expect("request");
    }
    assert_eq!(store.resolve_mail_requests(3).await.expect("resolve"), (3, 2));
    assert_eq!(store.resolve_mail_requests(3).await.expect("resolve"), (2, 0));
    assert_eq!(store.resolve_mail_requests(3).await.expect("resolve"), (0, 0));
    let claimed = store
        .claim_mail(10, Utc::now() + Duration::minutes(1))
        .await
        .expect("claim");
    let mut mails: Vec<(String, String)> = claimed.into_iter().map(|m| (m.kind.to_string(), m.recipient)).collect();
    mails.sort();
    assert_eq!(
        mails,
        [
            ("activation".to_owned(), inactive.email.clone()),
            ("password_reset".to_owned(), "active@example.com".to_owned())
        ]
    );
}

async fn a_reserved_user_id_is_never_given_to_a_user(store: Store) {
    let first = store
        .create_user(&new_user("a@example.com"), "a@example.com", &[])
        .await
        .expect("create");
    let reserved = store.reserve_user_id().await.expect("reserve");
    let next = store
        .create_user(&new_user("b@example.com"), "b@example.com", &[])
        .await
        .expect("create");
    assert!(
        first.id < reserved && reserved < next.id,
        "{} {reserved} {}",
        first.id,
        next.id
    );
}
