use std::time::Duration;

use super::{EmailOutcome, Metrics, TokenEvent};

#[track_caller]
fn assert_lines(text: &str, expected: &[&str]) {
    for line in expected {
        assert!(text.lines().any(|l| l == *line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn a_request_shows_as_a_counter_and_a_cumulative_histogram() {
    let metrics = Metrics::default();
    metrics.record_request(Some("/api/auth/jwt/create/"), "POST", 200, Duration::from_millis(70));
    metrics.record_request(Some("/api/auth/jwt/create/"), "POST", 401, Duration::from_millis(20));
    metrics.record_request(None, "BREW", 404, Duration::from_secs(60));
    let text = metrics.render((1, 4), 2).expect("renders");
    assert_lines(
        &text,
        &[
            "imhotep_http_requests_total{route=\"/api/auth/jwt/create/\",method=\"POST\",status=\"200\"} 1",
            "imhotep_http_requests_total{route=\"unmatched\",method=\"OTHER\",status=\"404\"} 1",
            "imhotep_http_request_duration_seconds_bucket{le=\"0.025\",route=\"/api/auth/jwt/create/\"} 1",
            "imhotep_http_request_duration_seconds_bucket{le=\"0.05\",route=\"/api/auth/jwt/create/\"} 1",
            "imhotep_http_request_duration_seconds_bucket{le=\"0.1\",route=\"/api/auth/jwt/create/\"} 2",
            "imhotep_http_request_duration_seconds_bucket{le=\"10.0\",route=\"unmatched\"} 0",
            "imhotep_http_request_duration_seconds_bucket{le=\"+Inf\",route=\"unmatched\"} 1",
            "imhotep_http_request_duration_seconds_sum{route=\"/api/auth/jwt/create/\"} 0.09",
            "imhotep_http_request_duration_seconds_count{route=\"unmatched\"} 1",
            "imhotep_db_pool_connections{state=\"in_use\"} 1",
            "imhotep_db_pool_connections{state=\"idle\"} 4",
            "imhotep_password_hash_queue{state=\"waiting\"} 2",
            "# TYPE imhotep_http_request_duration_seconds histogram",
            "# EOF",
        ],
    );
}

#[test]
fn events_are_counted_by_their_own_calls_not_by_request_paths() {
    let metrics = Metrics::default();
    metrics.record_request(Some("/api/auth/jwt/create/"), "POST", 200, Duration::ZERO);
    let text = metrics.render((0, 0), 0).expect("renders");
    assert_lines(&text, &["imhotep_logins_total{outcome=\"succeeded\"} 0"]);

    metrics.login(true);
    metrics.login(false);
    metrics.login(false);
    metrics.token(TokenEvent::Issued);
    metrics.token(TokenEvent::Refreshed);
    metrics.token(TokenEvent::Blacklisted);
    metrics.refresh_reuse_detected();
    metrics.emails(EmailOutcome::Queued, 3);
    metrics.emails(EmailOutcome::Sent, 2);
    metrics.emails(EmailOutcome::Failed, 1);
    metrics.throttled("email_global");
    metrics.throttled("no_such_group");
    metrics.login_backoff();
    metrics.hash_queue_full();
    let text = metrics.render((0, 0), 0).expect("renders");
    assert_lines(
        &text,
        &[
            "imhotep_logins_total{outcome=\"succeeded\"} 1",
            "imhotep_logins_total{outcome=\"failed\"} 2",
            "imhotep_tokens_total{event=\"issued\"} 1",
            "imhotep_tokens_total{event=\"refreshed\"} 1",
            "imhotep_tokens_total{event=\"blacklisted\"} 1",
            "imhotep_refresh_reuse_total 1",
            "imhotep_emails_total{outcome=\"queued\"} 3",
            "imhotep_emails_total{outcome=\"sent\"} 2",
            "imhotep_emails_total{outcome=\"failed\"} 1",
            "imhotep_throttled_total{group=\"email_global\"} 1",
            "imhotep_throttled_total{group=\"login\"} 0",
            "imhotep_login_backoff_total 1",
            "imhotep_password_hash_rejected_total 1",
        ],
    );
    assert!(!text.contains("no_such_group"));
}

#[test]
fn two_registries_count_apart() {
    let (first, second) = (Metrics::default(), Metrics::default());
    first.login(true);
    let text = second.render((0, 0), 0).expect("renders");
    assert_lines(&text, &["imhotep_logins_total{outcome=\"succeeded\"} 0"]);
}

#[test]
fn request_series_appear_only_once_counted_like_a_family() {
    let metrics = Metrics::default();
    let text = metrics.render((0, 0), 0).expect("renders");
    assert!(!text.contains("imhotep_http_requests"), "{text}");
    assert!(!text.contains("imhotep_http_request_duration_seconds"), "{text}");
    metrics.record_request(Some("/healthz"), "GET", 200, Duration::ZERO);
    let text = metrics.render((0, 0), 0).expect("renders");
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("imhotep_http_requests"))
        .collect();
    assert_eq!(
        lines,
        ["imhotep_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1"]
    );
    assert_lines(
        &text,
        &[
            "# HELP imhotep_http_requests HTTP requests answered, by route template, method and status.",
            "# TYPE imhotep_http_requests counter",
            "imhotep_http_request_duration_seconds_count{route=\"/healthz\"} 1",
        ],
    );
}

#[test]
fn any_status_and_any_number_of_routes_are_counted() {
    let metrics = Metrics::default();
    // Past the lock-free table's capacity, and statuses without a counter of their own.
    for n in 0..600 {
        metrics.record_request(Some(&format!("/r{n}/")), "GET", 200, Duration::ZERO);
    }
    metrics.record_request(Some("/r599/"), "GET", 200, Duration::ZERO);
    metrics.record_request(Some("/r0/"), "PUT", 418, Duration::ZERO);
    metrics.record_request(Some("/r0/"), "PUT", 418, Duration::ZERO);
    metrics.record_request(Some("/r0/"), "DELETE", 999, Duration::ZERO);
    let text = metrics.render((0, 0), 0).expect("renders");
    assert_lines(
        &text,
        &[
            "imhotep_http_requests_total{route=\"/r0/\",method=\"GET\",status=\"200\"} 1",
            "imhotep_http_requests_total{route=\"/r0/\",method=\"PUT\",status=\"418\"} 2",
            "imhotep_http_requests_total{route=\"/r0/\",method=\"DELETE\",status=\"999\"} 1",
            "imhotep_http_requests_total{route=\"/r599/\",method=\"GET\",status=\"200\"} 2",
            "imhotep_http_request_duration_seconds_count{route=\"/r599/\"} 2",
        ],
    );
    let series = text
        .lines()
        .filter(|l| l.starts_with("imhotep_http_requests_total"))
        .count();
    assert_eq!(series, 602);
}

#[test]
fn concurrent_first_requests_of_a_route_make_one_series() {
    let metrics = Metrics::default();
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..1000 {
                    metrics.record_request(Some("/api/auth/users/me/"), "GET", 200, Duration::ZERO);
                }
            });
        }
    });
    let text = metrics.render((0, 0), 0).expect("renders");
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("imhotep_http_requests_total"))
        .collect();
    assert_eq!(
        lines,
        ["imhotep_http_requests_total{route=\"/api/auth/users/me/\",method=\"GET\",status=\"200\"} 8000"]
    );
}
