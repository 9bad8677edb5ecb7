//! Connection pool occupancy, for the `/metrics` gauges. Reads the pool's own counters: no query, no lock.

use super::Store;

impl Store {
    /// `(in use, idle)` connections of the pool right now.
    pub fn pool_stats(&self) -> (u32, u32) {
        let (size, idle) = match self {
            Store::Postgres(store) => (store.pool.size(), store.pool.num_idle()),
            Store::Sqlite(store) => (store.pool.size(), store.pool.num_idle()),
        };
        let idle = u32::try_from(idle).unwrap_or(u32::MAX).min(size);
        (size - idle, idle)
    }
}
