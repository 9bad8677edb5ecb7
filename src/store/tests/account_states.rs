//! Contract tests for suspension and pending e-mail changes.

use chrono::{Duration, Utc};

use super::{contract_tests, count, new_user, token};
use crate::mail::EmailKind;
use crate::store::Store;
use crate::store::models::{EmailChange, QueuedMail};

contract_tests!(
    suspension_revokes_every_live_refresh_token_and_blocks_activation,
    only_setting_is_active_lifts_a_suspension,
    a_pending_email_is_recorded_with_its_mails_and_dropped_by_a_change,
);

async fn suspension_revokes_every_live_refresh_token_and_blocks_activation(store: Store) {
    let alice = store
        .create_user(&new_user("alice@example.com"), "alice@example.com", &[])
        .await
        .expect("create");
    let bob = store
        .create_user(&new_user("bob@example.com"), "bob@example.com", &[])
        .await
        .expect("create");
    let tomorrow = Utc::now() + Duration::days(1);
    for (jti, owner, expires_at) in [
        ("alice-1", alice.id, tomorrow),
        ("alice-2", alice.id, tomorrow),
        ("alice-expired", alice.id, Utc::now() - Duration::hours(1)),
        ("bob-1", bob.id, tomorrow),
    ] {
        store
            .record_outstanding(&token(jti, Some(owner), expires_at))
            .await
            .expect("record");
    }

    assert!(store.suspend_user(alice.id).await.expect("suspend"));

    for (jti, revoked) in [
        ("alice-1", true),
        ("alice-2", true),
        ("alice-expired", false),
        ("bob-1", false),
    ] {
        assert_eq!(store.is_blacklisted(jti).await.expect("lookup"), revoked, "{jti}");
    }
    let suspended = store.user_by_id(alice.id).await.expect("read").expect("alice");
    assert!(!suspended.is_active && suspended.is_suspended());
    assert!(!store.activate_user(alice.id, &[]).await.expect("activate"));
    assert!(
        store.activate_user(bob.id, &[]).await.expect("activate"),
        "bob is not suspended"
    );
    // A second suspension keeps the first one's time; an unknown user is reported.
    assert!(store.suspend_user(alice.id).await.expect("suspend again"));
    let again = store.user_by_id(alice.id).await.expect("read").expect("alice");
    assert_eq!(again.suspended_at, suspended.suspended_at);
    assert!(!store.suspend_user(alice.id + 1000).await.expect("suspend nobody"));
}

async fn only_setting_is_active_lifts_a_suspension(store: Store) {
    let alice = store
        .create_user(&new_user("alice@example.com"), "alice@example.com", &[])
        .await
        .expect("create");
    store.suspend_user(alice.id).await.expect("suspend");
    store.set_flags(alice.id, None, Some(true)).await.expect("staff");
    let staff = store.user_by_id(alice.id).await.expect("read").expect("alice");
    assert!(staff.is_staff && staff.is_suspended() && !staff.is_active);
    store.set_flags(alice.id, Some(true), None).await.expect("activate");
    let lifted = store.user_by_id(alice.id).await.expect("read").expect("alice");
    assert!(lifted.is_active && !lifted.is_suspended());
}

async fn a_pending_email_is_recorded_with_its_mails_and_dropped_by_a_change(store: Store) {
    let alice = store
        .create_user(&new_user("alice@example.com"), "alice@example.com", &[])
        .await
        .expect("create");
    let mails = [
        QueuedMail::new(EmailKind::EmailChangeConfirmation, "new@example.org"),
        QueuedMail::new(EmailKind::EmailChangeNotice, "alice@example.com"),
    ];
    assert!(
        store
            .request_email_change(alice.id, "new@example.org", &mails)
            .await
            .expect("request")
    );
    let pending = store.user_by_id(alice.id).await.expect("read").expect("alice");
    assert_eq!(pending.pending_email.as_deref(), Some("new@example.org"));
    assert_eq!(pending.email, "alice@example.com");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM email_outbox").await, 2);
    assert!(
        !store.email_exists("new@example.org").await.expect("exists"),
        "not taken yet"
    );

    let change = EmailChange {
        new_email: "new@example.org",
        new_key: "new@example.org",
        expected_email: Some("alice@example.com"),
        touch_last_login: false,
    };
    assert!(store.change_email(alice.id, &change, &[]).await.expect("change"));
    let changed = store.user_by_id(alice.id).await.expect("read").expect("alice");
    assert_eq!(
        (changed.email.as_str(), changed.pending_email),
        ("new@example.org", None)
    );
    assert!(
        !store
            .request_email_change(alice.id + 1000, "x@example.org", &mails)
            .await
            .expect("request for nobody")
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM email_outbox").await, 2);
}
