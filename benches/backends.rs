//! The same list pages on both backends at N users (default 100,000;
//! `USERMGMT_BENCH_USERS`): a page with three filters (status, type, two countries) with a
//! selective search, a common search and no search, with and without the total. Medians of
//! `USERMGMT_BENCH_ITERS` (default 40) rounds in a fresh random order per round.
//!
//! The PostgreSQL server is `USERMGMT_BENCH_POSTGRES_URL` (a database
//! `usermgmt_bench_<N>` is created and filled once); without it only SQLite runs.
//!
//! Run: `cargo bench --bench backends --features postgres`.

// A benchmark harness: failing loudly on a broken set-up is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "support/admin.rs"]
mod admin;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use sqlx::Connection;
use usermgmt::filter::{ListQuery, UserFilters};
use usermgmt::model::{Status, TenantId};
use usermgmt::password::PasswordPolicy;
use usermgmt::storage::Storage;
use usermgmt::{Principal, ServiceConfig, UserService};
use usermgmt_testkit::ManualClock;

const SCENARIOS: [(&str, Option<&str>); 3] = [
    ("selective search \"user123\"", Some("user123")),
    ("common search \"example\"", Some("example")),
    ("no search", None),
];

fn query(search: Option<&str>, include_total: bool) -> ListQuery {
    ListQuery {
        filters: UserFilters {
            status: Some(Status::Active),
            is_learner: Some(true),
            country: vec!["DE".into(), "US".into()],
            search: search.map(str::to_owned),
            ..Default::default()
        },
        include_total,
        ..Default::default()
    }
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0)
        .single()
        .expect("time")
}

async fn service_over(
    storage: Arc<dyn Storage>,
    fresh: bool,
    users: usize,
) -> (UserService, Principal) {
    let tenant = TenantId::new("bench").expect("tenant");
    if fresh {
        let started = Instant::now();
        usermgmt_testkit::dataset::load_bulk(storage.as_ref(), 42, &tenant, users, now(), 2_000)
            .await;
        eprintln!("generated {users} users in {:.1?}", started.elapsed());
    }
    let config = ServiceConfig {
        password: PasswordPolicy::insecure_fast_for_tests(),
        ..ServiceConfig::default()
    };
    let service =
        UserService::with_config(storage, config).with_clock(Arc::new(ManualClock::new(now())));
    let principal = admin::bench_admin(&service, tenant).await;
    (service, principal)
}

async fn sqlite(users: usize) -> (UserService, Principal) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).expect("bench data dir");
    let path = dir.join(format!("backends-{users}-v1.db"));
    let fresh = !path.exists();
    let storage = usermgmt::sqlite::SqliteStorage::open(&path)
        .await
        .expect("open");
    service_over(Arc::new(storage), fresh, users).await
}

async fn postgres(url: &str, users: usize) -> (UserService, Principal) {
    let name = format!("usermgmt_bench_{users}");
    let mut admin = sqlx::PgConnection::connect(url).await.expect("connect");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .expect("look up");
    if !exists {
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .expect("create");
    }
    let (base, _) = url.rsplit_once('/').expect("a database in the URL");
    let storage = usermgmt::postgres::PgStorage::connect(&format!("{base}/{name}"))
        .await
        .expect("open");
    let (service, principal) = service_over(Arc::new(storage), !exists, users).await;
    if !exists {
        sqlx::query("VACUUM ANALYZE")
            .execute(
                &mut sqlx::PgConnection::connect(&format!("{base}/{name}"))
                    .await
                    .expect("connect"),
            )
            .await
            .expect("analyze");
    }
    (service, principal)
}

fn measure(
    runtime: &tokio::runtime::Runtime,
    label: &str,
    service: &UserService,
    principal: &Principal,
    iters: usize,
) {
    let cases: Vec<(usize, bool)> = (0..SCENARIOS.len())
        .flat_map(|s| [(s, true), (s, false)])
        .collect();
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    let mut order: Vec<usize> = (0..cases.len()).collect();
    let mut rng = StdRng::seed_from_u64(3);
    for round in 0..iters + 3 {
        order.shuffle(&mut rng);
        for &case in &order {
            let (s, total) = cases[case];
            let started = Instant::now();
            let page = runtime
                .block_on(service.list_users(principal, query(SCENARIOS[s].1, total)))
                .expect("list");
            std::hint::black_box(page.items.len());
            if round >= 3 {
                samples[case].push(started.elapsed());
            }
        }
    }
    for (&(s, total), sample) in cases.iter().zip(samples.iter_mut()) {
        sample.sort();
        let with = if total { "with total" } else { "without total" };
        println!(
            "{label:<10} {:<30} {with:<14} p50 {:>10.3?}  p90 {:>10.3?}",
            SCENARIOS[s].0,
            sample[sample.len() / 2],
            sample[sample.len() * 9 / 10]
        );
    }
}

fn main() {
    let users = std::env::var("USERMGMT_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let iters = std::env::var("USERMGMT_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("{users} users, {iters} rounds");
    let (service, principal) = runtime.block_on(sqlite(users));
    measure(&runtime, "sqlite", &service, &principal, iters);
    match std::env::var("USERMGMT_BENCH_POSTGRES_URL") {
        Ok(url) => {
            let (service, principal) = runtime.block_on(postgres(&url, users));
            measure(&runtime, "postgres", &service, &principal, iters);
        }
        Err(_) => println!("postgres: USERMGMT_BENCH_POSTGRES_URL not set; skipped"),
    }
}
