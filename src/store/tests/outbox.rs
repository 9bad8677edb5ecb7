//! Contract tests for the e-mail outbox: claims, delivery outcomes, the operator's listing and
//! retry, and the purge.

use chrono::{Duration, SubsecRound, Utc};
use tokio::task::JoinSet;

use super::{contract_tests, count, execute, new_user};
use crate::mail::EmailKind;
use crate::store::Store;
use crate::store::models::{OutboxStatus, QueuedMail, StoredMailKind};

contract_tests!(
    mails_queued_for_a_user_are_pending_and_due,
    queued_mail_is_claimed_once_until_its_lease_runs_out,
    a_claim_takes_at_most_its_limit_oldest_first,
    concurrent_claims_hand_each_row_to_one_worker,
    delivery_outcomes_show_in_the_listing,
    only_failed_mail_can_be_retried,
    the_purge_deletes_old_sent_and_failed_rows_only,
    a_kind_this_version_does_not_know_is_read_back_by_name,
);

/// Registers `email` with one queued mail of `kind` to it; the user's id.
async fn user_with_mail(store: &Store, email: &str, kind: EmailKind) -> i64 {
    store
        .create_user(&new_user(email), email, &[QueuedMail::new(kind, email)])
        .await
        .expect("create")
        .id
}

async fn mails_queued_for_a_user_are_pending_and_due(store: Store) {
    let alice = store
        .create_user(&new_user("alice@example.com"), "alice@example.com", &[])
        .await
        .expect("create");
    let before = Utc::now() - Duration::seconds(1);

    store
        .queue_mail(
            alice.id,
            &[
                QueuedMail::new(EmailKind::PasswordReset, "alice@example.com"),
                QueuedMail::new(EmailKind::UsernameReset, "alice@example.com"),
            ],
        )
        .await
        .expect("queue");

    let listed = store.list_mail(Some(OutboxStatus::Pending), 10).await.expect("list");
    let kinds: Vec<_> = listed.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(
        kinds,
        [
            StoredMailKind::Known(EmailKind::UsernameReset),
            StoredMailKind::Known(EmailKind::PasswordReset)
        ]
    );
    for entry in &listed {
        assert_eq!((entry.recipient.as_str(), entry.attempts), ("alice@example.com", 0));
        assert!(entry.next_attempt_at > before && entry.next_attempt_at <= Utc::now());
        assert_eq!((entry.last_error.as_deref(), entry.sent_at), (None, None));
    }
}

async fn queued_mail_is_claimed_once_until_its_lease_runs_out(store: Store) {
    let alice = user_with_mail(&store, "alice@example.com", EmailKind::Activation).await;
    let lease = Utc::now() + Duration::minutes(5);

    let claimed = store.claim_mail(10, lease).await.expect("claim");

    assert_eq!(claimed.len(), 1);
    let mail = &claimed[0];
    assert_eq!(
        (&mail.kind, mail.user_id, mail.recipient.as_str(), mail.attempts),
        (
            &StoredMailKind::Known(EmailKind::Activation),
            alice,
            "alice@example.com",
            1
        )
    );
    assert!(store.claim_mail(10, lease).await.expect("claim again").is_empty());
    // A worker that died: its lease lapses and the row is claimed again, counting the attempt.
    let lapsed = Utc::now() - Duration::seconds(1);
    store
        .reschedule_mail(mail.id, lapsed, "worker died")
        .await
        .expect("reschedule");
    let again = store.claim_mail(10, lease).await.expect("claim after lapse");
    assert_eq!(
        again.iter().map(|m| (m.id, m.attempts)).collect::<Vec<_>>(),
        [(mail.id, 2)]
    );
}

async fn a_claim_takes_at_most_its_limit_oldest_first(store: Store) {
    for email in ["a@example.com", "b@example.com", "c@example.com"] {
        user_with_mail(&store, email, EmailKind::Activation).await;
    }
    let lease = Utc::now() + Duration::minutes(5);

    let first = store.claim_mail(2, lease).await.expect("claim two");
    let second = store.claim_mail(2, lease).await.expect("claim the rest");

    let recipients =
        |claimed: &[crate::store::models::ClaimedMail]| claimed.iter().map(|m| m.recipient.clone()).collect::<Vec<_>>();
    assert_eq!(recipients(&first), ["a@example.com", "b@example.com"]);
    assert_eq!(recipients(&second), ["c@example.com"]);
    // A row rescheduled into the future is not due.
    store
        .reschedule_mail(second[0].id, Utc::now() + Duration::hours(1), "421 try later")
        .await
        .expect("reschedule");
    assert!(store.claim_mail(10, lease).await.expect("claim").is_empty());
}

async fn concurrent_claims_hand_each_row_to_one_worker(store: Store) {
    for n in 0..20 {
        let email = format!("user{n}@example.com");
        store
            .create_user(
                &new_user(&email),
                &email,
                &[QueuedMail::new(EmailKind::Activation, &email)],
            )
            .await
            .expect("create");
    }
    let lease = Utc::now() + Duration::minutes(5);
    let mut workers = JoinSet::new();
    for _ in 0..8 {
        let store = store.clone();
        workers.spawn(async move { store.claim_mail(3, lease).await.expect("claim") });
    }
    let mut ids = Vec::new();
    while let Some(claimed) = workers.join_next().await {
        ids.extend(claimed.expect("worker").into_iter().map(|mail| mail.id));
    }
    let claimed = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), claimed, "a row was handed to two workers");
    assert_eq!(claimed, 20, "8 workers x 3 rows cover all 20");
}

async fn delivery_outcomes_show_in_the_listing(store: Store) {
    for email in ["sent@example.com", "later@example.com", "failed@example.com"] {
        user_with_mail(&store, email, EmailKind::Activation).await;
    }
    let claimed = store
        .claim_mail(10, Utc::now() + Duration::minutes(5))
        .await
        .expect("claim");
    let id_of = |recipient: &str| claimed.iter().find(|m| m.recipient == recipient).expect("claimed").id;
    let due = (Utc::now() + Duration::hours(1)).trunc_subsecs(6);

    store.mark_mail_sent(id_of("sent@example.com")).await.expect("sent");
    store
        .reschedule_mail(id_of("later@example.com"), due, "451 greylisted")
        .await
        .expect("reschedule");
    store
        .fail_mail(id_of("failed@example.com"), "550 no such user")
        .await
        .expect("fail");

    let all = store.list_mail(None, 10).await.expect("list");
    let rows: Vec<_> = all
        .iter()
        .map(|e| {
            (
                e.recipient.as_str(),
                e.status.as_str(),
                e.last_error.as_deref(),
                e.sent_at.is_some(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("failed@example.com", "failed", Some("550 no such user"), false),
            ("later@example.com", "pending", Some("451 greylisted"), false),
            ("sent@example.com", "sent", None, true),
        ],
        "newest first"
    );
    assert!(
        all.iter()
            .all(|e| e.kind == StoredMailKind::Known(EmailKind::Activation) && e.attempts == 1)
    );
    let later = all
        .iter()
        .find(|e| e.status == OutboxStatus::Pending)
        .expect("pending row");
    assert_eq!(later.next_attempt_at, due);
    let failed = store
        .list_mail(Some(OutboxStatus::Failed), 10)
        .await
        .expect("list failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].recipient, "failed@example.com");
    assert_eq!(store.list_mail(None, 1).await.expect("list one").len(), 1);
    assert!(
        store
            .list_mail(Some(OutboxStatus::Sending), 10)
            .await
            .expect("list sending")
            .is_empty()
    );
}

async fn only_failed_mail_can_be_retried(store: Store) {
    user_with_mail(&store, "a@example.com", EmailKind::PasswordReset).await;
    let lease = Utc::now() + Duration::minutes(5);
    let id = store.claim_mail(1, lease).await.expect("claim")[0].id;

    assert!(!store.retry_mail(id).await.expect("retry a sending row"));
    store.fail_mail(id, "attempts exhausted").await.expect("fail");
    assert!(store.retry_mail(id).await.expect("retry"));
    assert!(!store.retry_mail(id).await.expect("retry twice"));
    assert!(!store.retry_mail(id + 1000).await.expect("retry nothing"));

    let retried = store.claim_mail(1, lease).await.expect("claim the retried row");
    assert_eq!(
        retried.iter().map(|m| (m.id, m.attempts)).collect::<Vec<_>>(),
        [(id, 1)]
    );
    let entry = &store.list_mail(None, 1).await.expect("list")[0];
    assert_eq!((entry.status.as_str(), entry.last_error.as_deref()), ("sending", None));
}

async fn the_purge_deletes_old_sent_and_failed_rows_only(store: Store) {
    for email in ["sent@example.com", "failed@example.com", "pending@example.com"] {
        user_with_mail(&store, email, EmailKind::Activation).await;
    }
    let claimed = store
        .claim_mail(2, Utc::now() + Duration::minutes(5))
        .await
        .expect("claim");
    store.mark_mail_sent(claimed[0].id).await.expect("sent");
    store.fail_mail(claimed[1].id, "550").await.expect("fail");
    let past = Utc::now() - Duration::hours(1);
    let future = Utc::now() + Duration::hours(1);

    assert_eq!(store.purge_outbox(past, past).await.expect("purge nothing"), 0);
    assert_eq!(store.purge_outbox(future, past).await.expect("purge sent"), 1);
    assert_eq!(store.purge_outbox(future, future).await.expect("purge failed"), 1);

    let left = store.list_mail(None, 10).await.expect("list");
    assert_eq!(
        left.iter()
            .map(|e| (e.recipient.as_str(), e.status.as_str()))
            .collect::<Vec<_>>(),
        [("pending@example.com", "pending")]
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM email_outbox").await, 1);
}

/// A row a newer version queued: claimed and listed with its name, for the worker to give up on.
async fn a_kind_this_version_does_not_know_is_read_back_by_name(store: Store) {
    user_with_mail(&store, "alice@example.com", EmailKind::Activation).await;
    execute(&store, "UPDATE email_outbox SET kind = 'from_a_newer_version'").await;
    let unknown = StoredMailKind::Unknown("from_a_newer_version".into());

    let claimed = store
        .claim_mail(10, Utc::now() + Duration::minutes(5))
        .await
        .expect("claim");
    assert_eq!(claimed.iter().map(|m| &m.kind).collect::<Vec<_>>(), [&unknown]);

    let listed = store.list_mail(Some(OutboxStatus::Sending), 10).await.expect("list");
    assert_eq!(
        listed.iter().map(|e| (&e.kind, e.status)).collect::<Vec<_>>(),
        [(&unknown, OutboxStatus::Sending)]
    );
    assert_eq!(unknown.to_string(), "from_a_newer_version");
}
