//! Login benchmark on SQLite with the default (OWASP) argon2id cost: a successful login
//! (look-up, verification, session creation), a wrong password, and an unknown identifier,
//! against the bare `argon2` crate verifying the same hash, measured in the same run.
//!
//! Harness: plain timing loops (`harness = false`): 2 warm-up rounds, then
//! `USERMGMT_BENCH_ITERS` (default 25) rounds, each running every case once in a fresh random
//! order; medians and p90 printed with the ratio to the bare verification. The wrong-password
//! and unknown-identifier rows show that a refusal costs the same hashing work as a success.
//!
//! Run: `cargo bench --bench login`.

// A benchmark harness: failing loudly on a broken set-up is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::{Argon2, PasswordVerifier};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use usermgmt::model::TenantId;
use usermgmt::password::Password;
use usermgmt::service::{ClientInfo, LoginPolicy, LoginRequest};
use usermgmt::sqlite::SqliteStorage;
use usermgmt::{ServiceConfig, UserService};

const PASSWORD: &str = "correct horse battery staple";

fn median_and_p90(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    (samples[samples.len() / 2], samples[samples.len() * 9 / 10])
}

fn main() {
    let iters = std::env::var("USERMGMT_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temporary directory");
    let storage = runtime
        .block_on(SqliteStorage::open(dir.path().join("login.db")))
        .expect("open");
    // Failures must not lock the account during the run.
    let config = ServiceConfig {
        login: LoginPolicy {
            max_failed_attempts: u32::MAX,
            ..LoginPolicy::default()
        },
        ..ServiceConfig::default()
    };
    let service = UserService::with_config(Arc::new(storage), config);
    let tenant = TenantId::default_tenant();
    runtime
        .block_on(service.bootstrap_super_admin(
            &tenant,
            "Bench",
            "bench@example.com",
            Password::new(PASSWORD),
        ))
        .expect("user");
    let phc = runtime
        .block_on(service.config().password.hash(&Password::new(PASSWORD)))
        .expect("hash")
        .as_phc()
        .to_owned();

    let login = |identifier: &str, password: &str| {
        let request = LoginRequest {
            identifier: identifier.into(),
            password: Password::new(password),
        };
        runtime.block_on(service.login(&tenant, request, ClientInfo::default()))
    };
    assert!(login("bench@example.com", PASSWORD).is_ok());
    let names = [
        "login, success",
        "login, wrong password",
        "login, unknown identifier",
        "bare argon2 verify",
    ];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); names.len()];
    let mut order: Vec<usize> = (0..names.len()).collect();
    let mut rng = StdRng::seed_from_u64(11);
    for round in 0..iters + 2 {
        order.shuffle(&mut rng);
        for &case in &order {
            let started = Instant::now();
            match case {
                0 => assert!(login("bench@example.com", PASSWORD).is_ok()),
                1 => assert!(login("bench@example.com", "wrong password").is_err()),
                2 => assert!(login("nobody@example.com", PASSWORD).is_err()),
                _ => {
                    let hash = argon2::PasswordHash::new(&phc).expect("phc");
                    assert!(
                        Argon2::default()
                            .verify_password(PASSWORD.as_bytes(), &hash)
                            .is_ok()
                    );
                }
            }
            if round >= 2 {
                samples[case].push(started.elapsed());
            }
        }
    }
    let stats: Vec<(Duration, Duration)> = samples.iter_mut().map(|s| median_and_p90(s)).collect();
    let base = stats[3].0.as_secs_f64();
    println!("argon2id m=19456 KiB, t=2, p=1; {iters} rounds");
    println!("{:<28} {:>11} {:>11} {:>7}", "case", "p50", "p90", "ratio");
    for (name, (p50, p90)) in names.iter().zip(&stats) {
        println!(
            "{name:<28} {p50:>11.2?} {p90:>11.2?} {:>7.2}",
            p50.as_secs_f64() / base
        );
    }
}
