//! Raw Argon2id cost with imhotep's parameters (v19, m=19456 KiB, t=2, p=1, 32-byte tag), using the
//! same `argon2` crate:
//!
//!   argon2-rate hash PASSWORD          print one PHC hash of PASSWORD (to seed users with)
//!   argon2-rate rate SECONDS [THREADS] verify a hash in a loop on THREADS threads (default: all
//!                                      cores) for SECONDS; print JSON with verifications per second

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};

const PASSWORD: &str = "Bench-Horse-Battery-7";

fn hasher() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, Some(32)).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash(password: &str) -> String {
    hasher()
        .hash_password(password.as_bytes())
        .expect("argon2 hashing")
        .to_string()
}

fn rate(seconds: f64, threads: usize) {
    let phc = Arc::new(hash(PASSWORD));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (phc, stop) = (Arc::clone(&phc), Arc::clone(&stop));
            std::thread::spawn(move || {
                let parsed = PasswordHash::new(&phc).expect("own hash parses");
                let argon2 = hasher();
                let mut count = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    argon2
                        .verify_password(PASSWORD.as_bytes(), &parsed)
                        .expect("own hash verifies");
                    count += 1;
                }
                count
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    let verifications: u64 = workers.into_iter().map(|worker| worker.join().expect("worker")).sum();
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{{\"threads\": {threads}, \"seconds\": {elapsed:.3}, \"verifications\": {verifications}, \
         \"per_second\": {:.2}}}",
        verifications as f64 / elapsed
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["hash", password] => println!("{}", hash(password)),
        ["rate", seconds, rest @ ..] => {
            let seconds: f64 = seconds.parse().expect("SECONDS is a number");
            let threads = match rest {
                [threads] => threads.parse().expect("THREADS is a number"),
                _ => std::thread::available_parallelism().map_or(1, usize::from),
            };
            rate(seconds, threads);
        }
        _ => {
            eprintln!("usage: argon2-rate hash PASSWORD | argon2-rate rate SECONDS [THREADS]");
            std::process::exit(2);
        }
    }
}
