//! Contract tests for the `users` table.

use chrono::Utc;
use tokio::task::JoinSet;

use super::{contract_tests, new_user};
use crate::store::models::NewUser;
use crate::store::{Store, StoreError};

contract_tests!(
    created_user_reads_back_every_field,
    unknown_users_are_not_found,
    same_email_key_is_email_taken,
    concurrent_registrations_of_one_email_create_one_user,
    activation_changes_an_inactive_user_once,
    concurrent_activations_report_exactly_one_change,
    password_hash_is_replaced_only_if_unchanged,
    deleting_a_user_reports_whether_it_existed,
);

async fn created_user_reads_back_every_field(store: Store) {
    let before = Utc::now() - chrono::Duration::seconds(1);
    let new = NewUser {
        email: "Ada.Lovelace@Example.com".into(),
        username: "ada".into(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        password: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        is_active: true,
        is_staff: true,
        is_superuser: false,
    };

    let created = store
        .create_user(&new, "ada.lovelace@example.com", &[])
        .await
        .expect("create");

    assert!(created.id > 0);
    assert_eq!(created.email, "Ada.Lovelace@Example.com");
    assert_eq!(
        (
            created.username.as_str(),
            created.first_name.as_str(),
            created.last_name.as_str()
        ),
        ("ada", "Ada", "Lovelace")
    );
    assert_eq!(created.password, new.password);
    assert_eq!(
        (created.is_active, created.is_staff, created.is_superuser),
        (true, true, false)
    );
    assert_eq!(created.last_login, None);
    assert!(created.date_joined > before && created.date_joined <= Utc::now());
    let by_id = store.user_by_id(created.id).await.expect("by id");
    let by_email = store
        .user_by_email("ada.lovelace@example.com")
        .await
        .expect("by e-mail");
    assert_eq!(by_id.as_ref(), Some(&created));
    assert_eq!(by_email.as_ref(), Some(&created));
}

async fn unknown_users_are_not_found(store: Store) {
    assert_eq!(store.user_by_id(42).await.expect("by id"), None);
    assert_eq!(
        store.user_by_email("nobody@example.com").await.expect("by e-mail"),
        None
    );
    assert!(!store.email_exists("nobody@example.com").await.expect("exists"));

    store
        .create_user(&new_user("Somebody@example.com"), "somebody@example.com", &[])
        .await
        .expect("create");

    assert!(store.email_exists("somebody@example.com").await.expect("exists"));
    assert!(!store.email_exists("Somebody@example.com").await.expect("exists"));
}

async fn same_email_key_is_email_taken(store: Store) {
    store
        .create_user(&new_user("bob@example.com"), "bob@example.com", &[])
        .await
        .expect("first");

    let second = store
        .create_user(&new_user("BOB@example.com"), "bob@example.com", &[])
        .await;

    assert!(matches!(second, Err(StoreError::EmailTaken)), "{second:?}");
}

async fn concurrent_registrations_of_one_email_create_one_user(store: Store) {
    let mut tasks = JoinSet::new();
    for _ in 0..10 {
        let store = store.clone();
        tasks.spawn(async move {
            store
                .create_user(&new_user("race@example.com"), "race@example.com", &[])
                .await
        });
    }

    let (mut created, mut taken) = (0, 0);
    for outcome in tasks.join_all().await {
        match outcome {
            Ok(_) => created += 1,
            Err(StoreError::EmailTaken) => taken += 1,
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }

    assert_eq!((created, taken), (1, 9));
}

async fn activation_changes_an_inactive_user_once(store: Store) {
    let inactive = store
        .create_user(&new_user("a@example.com"), "a@example.com", &[])
        .await
        .expect("create");
    let active = NewUser {
        is_active: true,
        ..new_user("b@example.com")
    };
    let active = store.create_user(&active, "b@example.com", &[]).await.expect("create");

    assert!(store.activate_user(inactive.id, &[]).await.expect("activate"));
    assert!(!store.activate_user(inactive.id, &[]).await.expect("activate again"));
    assert!(!store.activate_user(active.id, &[]).await.expect("activate active"));
    assert!(
        !store
            .activate_user(active.id + 100, &[])
            .await
            .expect("activate missing")
    );
    let reloaded = store.user_by_id(inactive.id).await.expect("reload").expect("exists");
    assert!(reloaded.is_active);
}

async fn concurrent_activations_report_exactly_one_change(store: Store) {
    let user = store
        .create_user(&new_user("c@example.com"), "c@example.com", &[])
        .await
        .expect("create");
    let mut tasks = JoinSet::new();
    for _ in 0..20 {
        let store = store.clone();
        tasks.spawn(async move { store.activate_user(user.id, &[]).await });
    }

    let outcomes: Vec<bool> = tasks
        .join_all()
        .await
        .into_iter()
        .map(|o| o.expect("activate"))
        .collect();

    assert_eq!(outcomes.iter().filter(|changed| **changed).count(), 1);
}

async fn password_hash_is_replaced_only_if_unchanged(store: Store) {
    let user = store
        .create_user(&new_user("d@example.com"), "d@example.com", &[])
        .await
        .expect("create");

    assert!(
        store
            .replace_password_hash(user.id, &user.password, "$argon2id$new")
            .await
            .expect("swap")
    );
    assert!(
        !store
            .replace_password_hash(user.id, &user.password, "$argon2id$stale")
            .await
            .expect("stale")
    );
    assert!(
        !store
            .replace_password_hash(user.id + 1, "$argon2id$new", "x")
            .await
            .expect("missing")
    );
    let reloaded = store.user_by_id(user.id).await.expect("reload").expect("exists");
    assert_eq!(reloaded.password, "$argon2id$new");
}

async fn deleting_a_user_reports_whether_it_existed(store: Store) {
    let user = store
        .create_user(&new_user("e@example.com"), "e@example.com", &[])
        .await
        .expect("create");

    assert!(store.delete_user(user.id, false).await.expect("delete"));
    assert!(!store.delete_user(user.id, false).await.expect("delete again"));
    assert_eq!(store.user_by_id(user.id).await.expect("by id"), None);
}
