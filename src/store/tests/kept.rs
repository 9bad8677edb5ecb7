//! Connections lent without sqlx's release ping (`store/sql/kept.rs`): lent again after a query that
//! finished, given back to the pool after one that failed or was cancelled, and never holding up
//! the pool's close.

use std::time::Duration;

use super::contract_tests;
use crate::store::Store;

contract_tests!(
    a_finished_query_keeps_its_connection_a_failed_one_gives_it_back,
    a_cancelled_query_leaves_nothing_for_the_next_one,
    closing_does_not_wait_for_kept_connections,
);

/// Runs `$body` with `$kept` bound to the store's kept connections, whichever the database.
macro_rules! with_kept {
    ($store:expr, |$kept:ident| $body:expr) => {
        match &$store {
            Store::Postgres(store) => {
                let $kept = &store.kept;
                $body
            }
            Store::Sqlite(store) => {
                let $kept = &store.kept;
                $body
            }
        }
    };
}

/// A statement that runs for seconds on either database.
fn slow_statement(store: &Store) -> &'static str {
    match store {
        Store::Postgres(_) => "SELECT pg_sleep(2)::text",
        Store::Sqlite(_) => {
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 20000000) \
             SELECT count(*) FROM n"
        }
    }
}

async fn a_finished_query_keeps_its_connection_a_failed_one_gives_it_back(store: Store) {
    let idle = with_kept!(store, |kept| {
        let mut lent = kept.lend().await.expect("lend");
        sqlx::query("SELECT 1").execute(lent.connection()).await.expect("query");
        lent.finished();
        let after_success = kept.idle_count();

        let mut lent = kept.lend().await.expect("lend");
        assert_eq!(kept.idle_count(), 0, "the idle connection is lent again");
        sqlx::query("SELECT no_such_column")
            .execute(lent.connection())
            .await
            .expect_err("fails");
        drop(lent);
        (after_success, kept.idle_count())
    });
    assert_eq!(idle, (1, 0));
    // The pool took the connection back and lends it (or another) again.
    assert_eq!(store.user_by_id(1).await.expect("lookup"), None);
}

async fn a_cancelled_query_leaves_nothing_for_the_next_one(store: Store) {
    let slow = slow_statement(&store);
    with_kept!(store, |kept| {
        let mut lent = kept.lend().await.expect("lend");
        let cancelled =
            tokio::time::timeout(Duration::from_millis(200), sqlx::query(slow).execute(lent.connection())).await;
        assert!(cancelled.is_err(), "the statement outlived the timeout");
        drop(lent);
        assert_eq!(kept.idle_count(), 0, "a cancelled query's connection is not kept");
        for n in 0..5_i64 {
            let mut lent = kept.lend().await.expect("lend");
            let answer: i64 = sqlx::query_scalar("SELECT $1 + 0")
                .bind(n)
                .fetch_one(lent.connection())
                .await
                .expect("query");
            lent.finished();
            assert_eq!(answer, n);
        }
    });
}

async fn closing_does_not_wait_for_kept_connections(store: Store) {
    let lookups = (0..4).map(|id| store.user_by_id(id));
    for found in futures::future::join_all(lookups).await {
        assert_eq!(found.expect("lookup"), None);
    }
    let kept = with_kept!(store, |kept| kept.idle_count());
    assert!(kept >= 1, "no connection was kept");
    tokio::time::timeout(Duration::from_secs(5), store.close())
        .await
        .expect("the pool closed with connections kept");
}
