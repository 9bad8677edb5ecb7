//! Per-route request counters and latency histograms, found on the request path without a lock or an
//! allocation. Route templates are a bounded set fixed when the router is built, so each gets its
//! series the first time it answers, in a slot of an insert-only table probed by the template's
//! hash: a lookup is a few atomic loads and one string comparison. Statuses are an open set: the
//! common ones have a counter of their own per method; any other status is counted under the
//! route's small lock.
//!
//! The series are encoded as `prometheus-client`'s `Family` encodes its own: only series that have
//! counted something, with the same labels in the same order.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use super::histogram::LatencyHistogram;

/// The `method` labels: the standard methods, then `OTHER` for any other, so invented methods add
/// no series.
const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "OTHER",
];

/// Statuses counted without a lock, sorted (searched by bisection).
const COMMON_STATUSES: [u16; 23] = [
    200, 201, 204, 301, 302, 304, 307, 308, 400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 429, 500, 502, 503, 504,
];

/// Route templates indexed without a lock: far more than the built-in routes (with and without
/// their slash) and any sensible number of aliases. Templates beyond it are found under a lock.
const SLOTS: usize = 512;

/// One route template's series.
#[derive(Debug)]
struct RouteSeries {
    route: Box<str>,
    latency: LatencyHistogram,
    /// Requests by method (index into [`METHODS`]) and common status (index into [`COMMON_STATUSES`]).
    common: [[AtomicU64; COMMON_STATUSES.len()]; METHODS.len()],
    /// Requests with any other status, by method index and status.
    rare: Mutex<BTreeMap<(usize, u16), u64>>,
}

impl RouteSeries {
    fn new(route: &str) -> Self {
        Self {
            route: route.into(),
            latency: LatencyHistogram::default(),
            common: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            rare: Mutex::default(),
        }
    }

    fn record(&self, method: usize, status: u16, elapsed: Duration) {
        match COMMON_STATUSES.binary_search(&status) {
            Ok(index) => {
                self.common[method][index].fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                let mut rare = self.rare.lock().unwrap_or_else(PoisonError::into_inner);
                *rare.entry((method, status)).or_default() += 1;
            }
        }
        self.latency.observe(elapsed);
    }

    /// The non-zero request counts of one method, by status.
    fn counts(&self, method: usize) -> Vec<(u16, u64)> {
        let mut counts: Vec<(u16, u64)> = COMMON_STATUSES
            .iter()
            .zip(&self.common[method])
            .map(|(&status, count)| (status, count.load(Ordering::Relaxed)))
            .filter(|&(_, count)| count > 0)
            .collect();
        let rare = self.rare.lock().unwrap_or_else(PoisonError::into_inner);
        counts.extend(
            rare.range((method, 0)..=(method, u16::MAX))
                .map(|(&(_, status), &count)| (status, count)),
        );
        counts.sort_unstable();
        counts
    }
}

/// Every route's series; shared by the two registered views ([`RequestCounts`], [`RequestDurations`]).
#[derive(Debug)]
pub struct RequestTable {
    slots: Box<[OnceLock<Box<RouteSeries>>]>,
    /// Templates that found every slot taken.
    overflow: RwLock<Vec<RouteSeries>>,
}

impl Default for RequestTable {
    fn default() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| OnceLock::new()).collect(),
            overflow: RwLock::default(),
        }
    }
}

impl RequestTable {
    /// Counts one answered request of `route` (a template), `method` and `status`, and times it.
    pub fn record(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let method = METHODS[..METHODS.len() - 1]
            .iter()
            .position(|known| *known == method)
            .unwrap_or(METHODS.len() - 1);
        let mut hasher = DefaultHasher::new();
        route.hash(&mut hasher);
        // The remainder is below SLOTS, so it fits a usize.
        let start = (hasher.finish() % SLOTS as u64) as usize;
        for offset in 0..SLOTS {
            // An empty slot on the way is this template's: no template ever leaves its slot, so one
            // already seen sits before the first empty slot of its probe sequence.
            let series = self.slots[(start + offset) % SLOTS].get_or_init(|| Box::new(RouteSeries::new(route)));
            if *series.route == *route {
                series.record(method, status, elapsed);
                return;
            }
        }
        self.record_overflow(route, method, status, elapsed);
    }

    #[cold]
    fn record_overflow(&self, route: &str, method: usize, status: u16, elapsed: Duration) {
        let known = self.overflow.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(series) = known.iter().find(|series| *series.route == *route) {
            series.record(method, status, elapsed);
            return;
        }
        drop(known);
        let mut known = self.overflow.write().unwrap_or_else(PoisonError::into_inner);
        if !known.iter().any(|series| *series.route == *route) {
            known.push(RouteSeries::new(route));
        }
        if let Some(series) = known.iter().find(|series| *series.route == *route) {
            series.record(method, status, elapsed);
        }
    }

    /// Whether some route's series satisfies `test`.
    fn any_route(&self, test: impl Fn(&RouteSeries) -> bool) -> bool {
        let overflow = self.overflow.read().unwrap_or_else(PoisonError::into_inner);
        self.slots
            .iter()
            .filter_map(|slot| slot.get().map(|series| &**series))
            .chain(overflow.iter())
            .any(test)
    }

    /// Calls `each` with every route's series, in template order.
    fn for_each_route(&self, mut each: impl FnMut(&RouteSeries) -> Result<(), std::fmt::Error>) -> std::fmt::Result {
        let overflow = self.overflow.read().unwrap_or_else(PoisonError::into_inner);
        let mut routes: Vec<&RouteSeries> = self
            .slots
            .iter()
            .filter_map(|slot| slot.get().map(|series| &**series))
            .chain(overflow.iter())
            .collect();
        routes.sort_unstable_by(|a, b| a.route.cmp(&b.route));
        routes.into_iter().try_for_each(&mut each)
    }
}

/// `imhotep_http_requests_total`: requests by route template, method and status.
#[derive(Debug)]
pub struct RequestCounts(pub Arc<RequestTable>);

impl EncodeMetric for RequestCounts {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        self.0.for_each_route(|series| {
            for (index, method) in METHODS.iter().enumerate() {
                for (status, count) in series.counts(index) {
                    let labels = ([("route", &*series.route), ("method", *method)], [("status", status)]);
                    encoder
                        .encode_family(&labels)?
                        .encode_counter::<NoLabelSet, _, u64>(&count, None)?;
                }
            }
            Ok(())
        })
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }

    /// Like an empty `Family`, no requests means no metric at all (not even its `# TYPE` line).
    fn is_empty(&self) -> bool {
        !self
            .0
            .any_route(|series| (0..METHODS.len()).any(|method| !series.counts(method).is_empty()))
    }
}

/// `imhotep_http_request_duration_seconds`: time to answer, by route template.
#[derive(Debug)]
pub struct RequestDurations(pub Arc<RequestTable>);

impl EncodeMetric for RequestDurations {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        self.0.for_each_route(|series| {
            if series.latency.count() == 0 {
                return Ok(());
            }
            series
                .latency
                .encode(encoder.encode_family(&[("route", &*series.route)])?)
        })
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }

    fn is_empty(&self) -> bool {
        !self.0.any_route(|series| series.latency.count() > 0)
    }
}
