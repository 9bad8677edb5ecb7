//! SQLite's writers take turns inside the process, in arrival order, before they touch the
//! database (`SqlStore::write_turn`); PostgreSQL's never wait for one.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::contract_tests;
use crate::store::Store;
use crate::store::throttle::Hit;

contract_tests!(writes_wait_for_their_turn_in_arrival_order);

/// Long enough for a spawned write to reach its turn's queue on a busy machine.
const SETTLE: Duration = Duration::from_millis(150);

const MINUTE_MS: i64 = 60_000;

fn hit(store: &Store) -> JoinHandle<Hit> {
    let store = store.clone();
    tokio::spawn(async move { store.throttle_hit("turns", 100, MINUTE_MS, 1_000).await.expect("hit") })
}

async fn writes_wait_for_their_turn_in_arrival_order(store: Store) {
    let Store::Sqlite(lite) = &store else {
        let Store::Postgres(pg) = &store else { unreachable!() };
        assert!(pg.write_turn().await.is_none(), "PostgreSQL writes take no turn");
        assert_eq!(hit(&store).await.expect("write"), Hit::Allowed { hits: 1 });
        return;
    };
    let held = lite.write_turn().await.expect("SQLite writes take turns");
    let mut writes = Vec::new();
    for _ in 0..3 {
        writes.push(hit(&store));
        tokio::time::sleep(SETTLE).await;
    }
    assert!(
        writes.iter().all(|write| !write.is_finished()),
        "a write went ahead while another held the turn"
    );
    drop(held);
    for (arrived, write) in (1..).zip(writes) {
        assert_eq!(
            write.await.expect("write"),
            Hit::Allowed { hits: arrived },
            "writes ran out of order"
        );
    }
}
