//! Sign and verify cost per JWT algorithm, through imhotep's own token service and key ring (the code
//! every request runs), single-threaded. `cargo bench --bench jwt` (release build); prints a Markdown
//! table for BENCHMARKS.md. `JWT_BENCH_SECONDS` sets the time per measurement (default 2).

use std::time::{Duration, Instant};

use chrono::Utc;
use imhotep::auth::jwt::TokenService;
use imhotep::auth::keys::{KeyRing, PrivateKey};
use imhotep::config::{JwtAlgorithm, Secret, Settings};
use serde_json::Map;

fn main() {
    let seconds = std::env::var("JWT_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let budget = Duration::from_secs_f64(seconds);
    println!("| algorithm | sign µs | × HS256 | verify µs | × HS256 | access token bytes |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut baseline: Option<(f64, f64)> = None;
    for name in ["HS256", "EdDSA", "ES256", "ES384", "RS256", "PS256"] {
        let mut settings = Settings {
            secret_key: Secret::new("jwt-bench-secret-key-0123456789abcdef0123456789"),
            ..Settings::default()
        };
        let algorithm: JwtAlgorithm = name.parse().expect("algorithm");
        settings.simple_jwt.algorithm = algorithm;
        if !name.starts_with("HS") {
            let pem = PrivateKey::generate(algorithm, 2048)
                .and_then(|k| k.to_pem())
                .expect("key");
            settings.simple_jwt.signing_key = Some(Secret::new(pem));
        }
        let keys = KeyRing::load(&settings).expect("keys");
        let tokens = TokenService::new(&settings.simple_jwt, keys).expect("token service");
        // One login signs two tokens (refresh + access).
        let (sign, access) = measure(budget, || {
            tokens.login_pair(1, Map::new(), Utc::now()).expect("signs").1
        });
        let (verify, _) = measure(budget, || tokens.decode(&access).expect("verifies"));
        let sign = sign / 2.0;
        let (sign_base, verify_base) = *baseline.get_or_insert((sign, verify));
        println!(
            "| {name} | {sign:.1} | {:.1} | {verify:.1} | {:.1} | {} |",
            sign / sign_base,
            verify / verify_base,
            access.len()
        );
    }
}

/// Microseconds per call of `work`, over at least `budget`.
fn measure<T>(budget: Duration, mut work: impl FnMut() -> T) -> (f64, T) {
    let mut last = work();
    let started = Instant::now();
    let mut calls = 0u64;
    while started.elapsed() < budget {
        for _ in 0..16 {
            last = work();
        }
        calls += 16;
    }
    (started.elapsed().as_secs_f64() * 1e6 / calls as f64, last)
}
