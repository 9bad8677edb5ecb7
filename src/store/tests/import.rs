//! Contract tests for `import_batch`: ids, hashes and timestamps kept exactly, the id counter moved,
//! all or nothing, and tokens and blacklist rows that a second run leaves alone.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::{contract_tests, count, new_user, outstanding_user_id};
use crate::store::models::{ImportBatch, ImportedBlacklisting, ImportedToken, ImportedUser, User};
use crate::store::{Store, StoreError};

contract_tests!(
    imported_users_keep_every_column_and_later_ids_come_after_them,
    an_import_that_fails_writes_nothing,
    imported_tokens_and_blacklist_rows_are_written_once,
);

const COUNT_USERS: &str = "SELECT COUNT(*) FROM users";
const COUNT_OUTSTANDING: &str = "SELECT COUNT(*) FROM outstanding_tokens";
const COUNT_BLACKLISTED: &str = "SELECT COUNT(*) FROM blacklisted_tokens";

fn at(seconds: i64, micros: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + seconds, micros * 1000).unwrap()
}

fn imported(id: i64, email: &str) -> ImportedUser {
    ImportedUser {
        user: User {
            id,
            email: email.to_owned(),
            username: format!("user{id}"),
            first_name: "Ada".to_owned(),
            last_name: "Lovelace".to_owned(),
            password: "bcrypt_sha256$$2b$12$OJPrqnC255C6atGhkGBbmuF/VN9Buku0LyE4To5qYG9vhWG3Fb4XS".to_owned(),
            is_active: id % 2 == 0,
            is_staff: true,
            is_superuser: false,
            last_login: Some(at(id, 123_456)),
            date_joined: at(-id, 7),
            suspended_at: None,
            pending_email: None,
        },
        email_key: email.to_lowercase(),
    }
}

fn no_progress(_: u64) {}

async fn imported_users_keep_every_column_and_later_ids_come_after_them(store: Store) {
    let users = vec![imported(5, "Five@example.com"), imported(9000, "nine@example.com")];
    let batch = ImportBatch {
        new_users: users.clone(),
        ..ImportBatch::default()
    };
    let rows = std::sync::atomic::AtomicU64::new(0);
    let counts = store
        .import_batch(&batch, &|n| {
            rows.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        })
        .await
        .expect("import");
    assert_eq!(counts.users_inserted, 2);
    assert_eq!(rows.into_inner(), 2, "progress counts every row");
    for user in &users {
        assert_eq!(
            store.user_by_id(user.user.id).await.expect("read"),
            Some(user.user.clone())
        );
    }
    assert!(store.user_by_email("five@example.com").await.expect("read").is_some());
    let registered = store
        .create_user(&new_user("later@example.com"), "later@example.com", &[])
        .await
        .expect("register after the import");
    assert!(
        registered.id > 9000,
        "id {} collides with the imported range",
        registered.id
    );

    let changed = ImportedUser {
        user: User {
            password: "$argon2id$changed".to_owned(),
            last_login: None,
            ..users[0].user.clone()
        },
        email_key: users[0].email_key.clone(),
    };
    let update = ImportBatch {
        changed_users: vec![changed.clone()],
        ..ImportBatch::default()
    };
    let counts = store.import_batch(&update, &no_progress).await.expect("update");
    assert_eq!(counts.users_updated, 1);
    assert_eq!(store.user_by_id(5).await.expect("read"), Some(changed.user));
}

async fn an_import_that_fails_writes_nothing(store: Store) {
    let taken = store
        .create_user(&new_user("taken@example.com"), "taken@example.com", &[])
        .await
        .expect("create");
    let batch = ImportBatch {
        new_users: vec![imported(100, "fresh@example.com"), imported(101, "TAKEN@example.com")],
        tokens: vec![ImportedToken {
            jti: "jti-100".to_owned(),
            user_id: Some(100),
            created_at: None,
            expires_at: Utc::now() + Duration::days(1),
        }],
        ..ImportBatch::default()
    };
    let outcome = store.import_batch(&batch, &no_progress).await;
    assert!(matches!(outcome, Err(StoreError::EmailTaken)), "{outcome:?}");
    assert_eq!(count(&store, COUNT_USERS).await, 1);
    assert_eq!(count(&store, COUNT_OUTSTANDING).await, 0);
    let next = store
        .create_user(&new_user("next@example.com"), "next@example.com", &[])
        .await
        .expect("create");
    assert!(
        next.id > taken.id && next.id < 100,
        "a rolled-back import moves no counter"
    );
}

async fn imported_tokens_and_blacklist_rows_are_written_once(store: Store) {
    let expires = Utc::now() + Duration::days(1);
    let token = |jti: &str, user_id| ImportedToken {
        jti: jti.to_owned(),
        user_id,
        created_at: Some(at(1, 0)),
        expires_at: expires,
    };
    let batch = ImportBatch {
        new_users: vec![imported(7, "seven@example.com")],
        tokens: vec![
            token("live", Some(7)),
            token("dead", Some(7)),
            token("orphan", Some(12345)),
        ],
        blacklist: vec![
            ImportedBlacklisting {
                jti: "dead".to_owned(),
                blacklisted_at: at(2, 0),
            },
            ImportedBlacklisting {
                jti: "never-recorded".to_owned(),
                blacklisted_at: at(2, 0),
            },
        ],
        ..ImportBatch::default()
    };
    let first = store.import_batch(&batch, &no_progress).await.expect("import");
    assert_eq!((first.tokens_inserted, first.blacklisted_inserted), (3, 1));
    assert!(store.is_blacklisted("dead").await.expect("check"));
    assert!(!store.is_blacklisted("live").await.expect("check"));
    assert_eq!(outstanding_user_id(&store, "live").await, Some(Some(7)));
    assert_eq!(
        outstanding_user_id(&store, "orphan").await,
        Some(None),
        "no such user: NULL"
    );

    let again = ImportBatch {
        new_users: Vec::new(),
        ..batch
    };
    let second = store.import_batch(&again, &no_progress).await.expect("import again");
    assert_eq!((second.tokens_inserted, second.blacklisted_inserted), (0, 0));
    assert_eq!(count(&store, COUNT_OUTSTANDING).await, 3);
    assert_eq!(count(&store, COUNT_BLACKLISTED).await, 1);
}
