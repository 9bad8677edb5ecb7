//! Prometheus' text exposition format (version 0.0.4), written by hand: `# HELP`, `# TYPE`, then one
//! `name{label="value",...} number` line per series.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{BUCKETS, RouteStats};

/// A document being written; [`Exposition::finish`] returns it.
#[derive(Default)]
pub(super) struct Exposition {
    out: String,
}

impl Exposition {
    /// `imhotep_http_requests_total{route,method,status}`.
    pub(super) fn requests(&mut self, routes: &BTreeMap<String, RouteStats>) {
        self.header(
            "imhotep_http_requests_total",
            "counter",
            "HTTP requests answered, by route template, method and status.",
        );
        for (route, stats) in routes {
            for ((method, status), count) in &stats.answered {
                let _ = writeln!(
                    self.out,
                    "imhotep_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {count}",
                    escape(route)
                );
            }
        }
    }

    /// `imhotep_http_request_duration_seconds{route}` as a histogram (cumulative buckets, sum, count).
    pub(super) fn durations(&mut self, routes: &BTreeMap<String, RouteStats>) {
        let name = "imhotep_http_request_duration_seconds";
        self.header(name, "histogram", "Time to answer HTTP requests, by route template.");
        for (route, stats) in routes {
            let route = escape(route);
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(stats.buckets) {
                cumulative += count;
                let _ = writeln!(
                    self.out,
                    "{name}_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                self.out,
                "{name}_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                stats.count
            );
            let _ = writeln!(self.out, "{name}_sum{{route=\"{route}\"}} {}", stats.sum_seconds);
            let _ = writeln!(self.out, "{name}_count{{route=\"{route}\"}} {}", stats.count);
        }
    }

    /// A metric with one label, one series per `(label value, number)`.
    pub(super) fn labelled(&mut self, name: &str, kind: &str, help: &str, label: &str, series: &[(&str, u64)]) {
        self.header(name, kind, help);
        for (value, number) in series {
            let _ = writeln!(self.out, "{name}{{{label}=\"{}\"}} {number}", escape(value));
        }
    }

    /// A counter without labels.
    pub(super) fn counter(&mut self, name: &str, help: &str, number: u64) {
        self.header(name, "counter", help);
        let _ = writeln!(self.out, "{name} {number}");
    }

    pub(super) fn finish(self) -> String {
        self.out
    }

    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }
}

/// A label value with `\`, `"` and newlines escaped as the format requires.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::Metrics;
    use super::escape;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn a_request_shows_as_a_counter_and_a_cumulative_histogram() {
        let metrics = Metrics::default();
        metrics.record_request(Some("/api/auth/jwt/create/"), "POST", 200, Duration::from_millis(70));
        metrics.record_request(Some("/api/auth/jwt/create"), "POST", 401, Duration::from_millis(20));
        metrics.record_request(None, "BREW", 404, Duration::from_secs(60));
        let text = metrics.render((1, 4), 0);
        for line in [
            "imhotep_http_requests_total{route=\"/api/auth/jwt/create/\",method=\"POST\",status=\"200\"} 1",
            "imhotep_http_requests_total{route=\"unmatched\",method=\"OTHER\",status=\"404\"} 1",
            "imhotep_http_request_duration_seconds_bucket{route=\"/api/auth/jwt/create/\",le=\"0.05\"} 0",
            "imhotep_http_request_duration_seconds_bucket{route=\"/api/auth/jwt/create/\",le=\"0.1\"} 1",
            "imhotep_http_request_duration_seconds_bucket{route=\"unmatched\",le=\"10\"} 0",
            "imhotep_http_request_duration_seconds_bucket{route=\"unmatched\",le=\"+Inf\"} 1",
            "imhotep_http_request_duration_seconds_count{route=\"unmatched\"} 1",
            "imhotep_logins_total{outcome=\"succeeded\"} 1",
            "imhotep_logins_total{outcome=\"failed\"} 1",
            "imhotep_tokens_total{event=\"issued\"} 1",
            "imhotep_db_pool_connections{state=\"in_use\"} 1",
            "imhotep_db_pool_connections{state=\"idle\"} 4",
            "# TYPE imhotep_http_request_duration_seconds histogram",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }
}
