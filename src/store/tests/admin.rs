//! Contract tests for user administration: listing, profile fields, flags, `last_login` and
//! e-mail keys.

use chrono::{SubsecRound, Utc};

use super::{contract_tests, new_user};
use crate::store::models::ProfileChange;
use crate::store::{Store, StoreError};

contract_tests!(
    users_are_listed_by_id,
    a_profile_change_sets_only_the_given_fields,
    flags_change_only_when_given,
    last_login_is_written_as_given,
    an_email_key_is_replaced_unless_another_account_has_it,
);

async fn users_are_listed_by_id(store: Store) {
    assert!(store.list_users().await.expect("list").is_empty());
    for email in ["c@example.com", "a@example.com", "b@example.com"] {
        store.create_user(&new_user(email), email, &[]).await.expect("create");
    }

    let listed = store.list_users().await.expect("list");

    let emails: Vec<_> = listed.iter().map(|u| u.email.as_str()).collect();
    assert_eq!(emails, ["c@example.com", "a@example.com", "b@example.com"]);
    assert!(listed.windows(2).all(|pair| pair[0].id < pair[1].id));
}

async fn a_profile_change_sets_only_the_given_fields(store: Store) {
    let alice = store
        .create_user(&new_user("alice@example.com"), "alice@example.com", &[])
        .await
        .expect("create");
    let change = ProfileChange {
        first_name: Some("Alice".into()),
        last_name: Some(String::new()),
        ..ProfileChange::default()
    };

    assert!(store.update_profile(alice.id, &change).await.expect("update"));
    assert!(
        store
            .update_profile(
                alice.id,
                &ProfileChange {
                    username: Some("al".into()),
                    ..ProfileChange::default()
                }
            )
            .await
            .expect("update username")
    );

    let read = store.user_by_id(alice.id).await.expect("read").expect("alice");
    assert_eq!(
        (
            read.username.as_str(),
            read.first_name.as_str(),
            read.last_name.as_str()
        ),
        ("al", "Alice", "")
    );
    assert_eq!(
        read,
        crate::store::models::User {
            username: "al".into(),
            first_name: "Alice".into(),
            ..alice.clone()
        },
        "nothing else changed"
    );
    assert!(
        !store
            .update_profile(alice.id + 1000, &change)
            .await
            .expect("update nobody")
    );
}

async fn flags_change_only_when_given(store: Store) {
    let alice = store
        .create_user(&new_user("alice@example.com"), "alice@example.com", &[])
        .await
        .expect("create");
    let flags = |user: &crate::store::models::User| (user.is_active, user.is_staff);
    assert_eq!(flags(&alice), (false, false));

    for (is_active, is_staff, expected) in [
        (Some(true), None, (true, false)),
        (None, Some(true), (true, true)),
        (Some(false), Some(false), (false, false)),
        (None, None, (false, false)),
    ] {
        assert!(store.set_flags(alice.id, is_active, is_staff).await.expect("set flags"));
        let read = store.user_by_id(alice.id).await.expect("read").expect("alice");
        assert_eq!(flags(&read), expected, "{is_active:?} {is_staff:?}");
    }
    assert!(
        !store
            .set_flags(alice.id + 1000, Some(true), None)
            .await
            .expect("set nobody")
    );
}

async fn last_login_is_written_as_given(store: Store) {
    let alice = store
        .create_user(&new_user("alice@example.com"), "alice@example.com", &[])
        .await
        .expect("create");
    let at = (Utc::now() - chrono::Duration::minutes(3)).trunc_subsecs(6);

    store.touch_last_login(alice.id, at).await.expect("touch");

    let read = store.user_by_id(alice.id).await.expect("read").expect("alice");
    assert_eq!(read.last_login, Some(at));
    store
        .touch_last_login(alice.id + 1000, at)
        .await
        .expect("touching nobody is no error");
}

async fn an_email_key_is_replaced_unless_another_account_has_it(store: Store) {
    let alice = store
        .create_user(&new_user("Alice@Example.com"), "Alice@example.com", &[])
        .await
        .expect("create");
    store
        .create_user(&new_user("bob@example.com"), "bob@example.com", &[])
        .await
        .expect("create");

    assert!(store.set_email_key(alice.id, "alice@example.com").await.expect("rekey"));
    assert!(
        !store
            .set_email_key(alice.id, "alice@example.com")
            .await
            .expect("same key")
    );
    assert!(matches!(
        store.set_email_key(alice.id, "bob@example.com").await,
        Err(StoreError::EmailTaken)
    ));
    assert!(store.email_exists("alice@example.com").await.expect("exists"));
    assert!(!store.email_exists("Alice@example.com").await.expect("exists"));
}
