//! Contract tests for two-factor rows: one pending factor per user, a time step and a recovery
//! code spent exactly once under concurrency, tickets that expire, burn and are spent once, and
//! what removal and reset take with them.

use tokio::task::JoinSet;

use super::{contract_tests, count, new_user};
use crate::mail::EmailKind;
use crate::store::Store;
use crate::store::mfa::{NewTicket, TicketLookup, TicketPurpose};
use crate::store::models::{QueuedMail, UserId};

contract_tests!(
    enrolment_keeps_one_pending_factor_and_confirms_it_once,
    a_time_step_is_spent_once_even_concurrently,
    a_recovery_code_is_used_once_even_concurrently,
    tickets_expire_burn_and_are_spent_once,
    removing_the_last_factor_voids_the_codes_and_reset_takes_everything,
);

async fn user(store: &Store, email: &str) -> i64 {
    store.create_user(&new_user(email), email, &[]).await.expect("user").id
}

fn hashes(prefix: &str) -> Vec<String> {
    (0..10).map(|i| format!("{prefix}{i:02}")).collect()
}

async fn enrolment_keeps_one_pending_factor_and_confirms_it_once(store: Store) {
    let alice = user(&store, "alice@example.com").await;
    store.mfa_start_factor(alice, "f1", "sealed-1").await.expect("start");
    store
        .mfa_start_factor(alice, "f2", "sealed-2")
        .await
        .expect("start again");
    let factors = store.mfa_factors(alice).await.expect("factors");
    assert_eq!(
        factors.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
        ["f2"],
        "one pending"
    );
    assert_eq!(store.mfa_active_factors(alice).await.unwrap(), 0);

    let mail = [QueuedMail::new(EmailKind::MfaFactorAdded, "alice@example.com")];
    assert!(
        !store
            .mfa_confirm_factor(UserId(alice), "f1", 7, &hashes("a"), &mail)
            .await
            .unwrap(),
        "replaced"
    );
    assert!(
        store
            .mfa_confirm_factor(UserId(alice), "f2", 7, &hashes("a"), &mail)
            .await
            .unwrap()
    );
    assert!(
        !store
            .mfa_confirm_factor(UserId(alice), "f2", 8, &hashes("b"), &mail)
            .await
            .unwrap(),
        "once"
    );
    assert_eq!(store.mfa_active_factors(alice).await.unwrap(), 1);
    assert_eq!(store.mfa_codes_left(alice).await.unwrap(), 10);
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM email_outbox WHERE kind = 'mfa_factor_added'"
        )
        .await,
        1
    );
    let confirmed = &store.mfa_factors(alice).await.unwrap()[0];
    assert_eq!((confirmed.last_step, confirmed.confirmed_at.is_some()), (7, true));

    // Another pending enrolment leaves the active factor alone.
    store.mfa_start_factor(alice, "f3", "sealed-3").await.expect("start");
    assert_eq!(store.mfa_factors(alice).await.unwrap().len(), 2);
    let bob = user(&store, "bob@example.com").await;
    assert!(
        !store
            .mfa_confirm_factor(UserId(bob), "f3", 1, &hashes("c"), &[])
            .await
            .unwrap(),
        "not bob's"
    );
}

async fn a_time_step_is_spent_once_even_concurrently(store: Store) {
    let alice = user(&store, "alice@example.com").await;
    store.mfa_start_factor(alice, "f", "sealed").await.unwrap();
    assert!(
        !store.mfa_spend_step(UserId(alice), "f", 5).await.unwrap(),
        "a pending factor spends nothing"
    );
    store.mfa_confirm_factor(UserId(alice), "f", 5, &[], &[]).await.unwrap();
    assert!(
        !store.mfa_spend_step(UserId(alice), "f", 5).await.unwrap(),
        "the confirming step is spent"
    );
    let mut racers = JoinSet::new();
    for _ in 0..8 {
        let store = store.clone();
        racers.spawn(async move { store.mfa_spend_step(UserId(alice), "f", 6).await.unwrap() });
    }
    let wins = racers.join_all().await.into_iter().filter(|won| *won).count();
    assert_eq!(wins, 1);
    assert!(
        !store.mfa_spend_step(UserId(alice), "f", 4).await.unwrap(),
        "an older step"
    );
    assert!(store.mfa_spend_step(UserId(alice), "f", 7).await.unwrap());
}

async fn a_recovery_code_is_used_once_even_concurrently(store: Store) {
    let alice = user(&store, "alice@example.com").await;
    store.mfa_replace_codes(alice, &hashes("a"), &[]).await.unwrap();
    let mut racers = JoinSet::new();
    for _ in 0..8 {
        let store = store.clone();
        racers.spawn(async move {
            let mail = [QueuedMail::new(EmailKind::MfaRecoveryCodeUsed, "alice@example.com")];
            store.mfa_use_code(alice, "a03", &mail).await.unwrap()
        });
    }
    let wins = racers.join_all().await.into_iter().filter(|won| *won).count();
    assert_eq!(wins, 1);
    assert_eq!(store.mfa_codes_left(alice).await.unwrap(), 9);
    assert_eq!(
        count(&store, "SELECT count(*) FROM email_outbox").await,
        1,
        "one notice"
    );
    let bob = user(&store, "bob@example.com").await;
    assert!(
        !store.mfa_use_code(bob, "a04", &[]).await.unwrap(),
        "alice's code is not bob's"
    );
    store.mfa_replace_codes(alice, &hashes("b"), &[]).await.unwrap();
    assert!(!store.mfa_use_code(alice, "a04", &[]).await.unwrap(), "replaced");
    assert!(store.mfa_use_code(alice, "b04", &[]).await.unwrap());
}

async fn tickets_expire_burn_and_are_spent_once(store: Store) {
    let alice = user(&store, "alice@example.com").await;
    let now = 1_000_000;
    for (hash, purpose) in [
        ("t1", TicketPurpose::Login),
        ("t2", TicketPurpose::Login),
        ("t3", TicketPurpose::Enrol),
    ] {
        let ticket = NewTicket {
            hash,
            user_id: alice,
            purpose,
            expires_ms: now + 300_000,
        };
        store.mfa_insert_ticket(&ticket).await.unwrap();
    }
    let lookup = |hash, purpose, now_ms| TicketLookup {
        hash,
        purpose,
        now_ms,
        max_failures: 5,
    };
    assert_eq!(
        store
            .mfa_ticket_user(&lookup("t1", TicketPurpose::Login, now))
            .await
            .unwrap(),
        Some(alice)
    );
    assert_eq!(
        store
            .mfa_ticket_user(&lookup("t3", TicketPurpose::Login, now))
            .await
            .unwrap(),
        None,
        "purpose"
    );
    assert_eq!(
        store
            .mfa_ticket_user(&lookup("t1", TicketPurpose::Login, now + 300_000))
            .await
            .unwrap(),
        None
    );
    for _ in 0..5 {
        store.mfa_ticket_failed("t2").await.unwrap();
    }
    assert_eq!(
        store
            .mfa_ticket_user(&lookup("t2", TicketPurpose::Login, now))
            .await
            .unwrap(),
        None,
        "burnt"
    );
    assert!(
        !store
            .mfa_use_ticket(&lookup("t2", TicketPurpose::Login, now))
            .await
            .unwrap()
    );

    let mut racers = JoinSet::new();
    for _ in 0..8 {
        let store = store.clone();
        racers.spawn(async move {
            store
                .mfa_use_ticket(&lookup("t1", TicketPurpose::Login, now))
                .await
                .unwrap()
        });
    }
    assert_eq!(racers.join_all().await.into_iter().filter(|won| *won).count(), 1);
    assert_eq!(
        store.mfa_purge_tickets(now + 300_000).await.unwrap(),
        2,
        "the burnt and the enrolment ticket"
    );
    assert_eq!(count(&store, "SELECT count(*) FROM mfa_tickets").await, 0);
}

async fn removing_the_last_factor_voids_the_codes_and_reset_takes_everything(store: Store) {
    let alice = user(&store, "alice@example.com").await;
    for id in ["f1", "f2"] {
        store.mfa_start_factor(alice, id, "sealed").await.unwrap();
        store
            .mfa_confirm_factor(UserId(alice), id, 1, &hashes(id), &[])
            .await
            .unwrap();
    }
    let mail = [QueuedMail::new(EmailKind::MfaFactorRemoved, "alice@example.com")];
    assert!(store.mfa_delete_factor(alice, "f1", &mail).await.unwrap());
    assert_eq!(store.mfa_codes_left(alice).await.unwrap(), 10, "f2 is still active");
    let bob = user(&store, "bob@example.com").await;
    assert!(!store.mfa_delete_factor(bob, "f2", &mail).await.unwrap(), "not bob's");
    assert!(store.mfa_delete_factor(alice, "f2", &mail).await.unwrap());
    assert_eq!(store.mfa_codes_left(alice).await.unwrap(), 0, "no factor, no codes");
    assert_eq!(count(&store, "SELECT count(*) FROM email_outbox").await, 2);

    store.mfa_start_factor(alice, "f3", "sealed").await.unwrap();
    store
        .mfa_confirm_factor(UserId(alice), "f3", 1, &hashes("c"), &[])
        .await
        .unwrap();
    let ticket = NewTicket {
        hash: "t",
        user_id: alice,
        purpose: TicketPurpose::Login,
        expires_ms: i64::MAX / 2,
    };
    store.mfa_insert_ticket(&ticket).await.unwrap();
    assert_eq!(store.mfa_reset(alice, &mail).await.unwrap(), 1);
    assert_eq!(store.mfa_factors(alice).await.unwrap().len(), 0);
    assert_eq!(count(&store, "SELECT count(*) FROM mfa_recovery_codes").await, 0);
    assert_eq!(count(&store, "SELECT count(*) FROM mfa_tickets").await, 0);
    assert_eq!(store.mfa_reset(alice, &mail).await.unwrap(), 0, "nothing left");
    assert_eq!(
        count(&store, "SELECT count(*) FROM email_outbox").await,
        3,
        "a notice only when something went"
    );
    // A deleted user takes their rows along.
    store.mfa_start_factor(alice, "f4", "sealed").await.unwrap();
    store.delete_user(alice, true).await.unwrap();
    assert_eq!(count(&store, "SELECT count(*) FROM mfa_factors").await, 0);
}
