//! Counted lists, facets and statistics at a million users (issue 16), on both backends, each
//! case against two baselines measured in the same run:
//!
//! - **hand-written SQL** on our schema: the page query plus `count(*)` (or the `GROUP BY`s),
//!   as the library ran them before its counting index;
//! - **narrow table**: what a generic framework (Django REST Framework + django-filter) runs on
//!   its own table — one narrow row per user (`django_users`, 15 columns, copied from ours once
//!   and cached), the default single-column indexes on the filtered columns, a page query and
//!   `COUNT(*)` per request, `icontains` as `LIKE` over name, email and username.
//!
//! Ours is `UserService` end to end (authorisation, planning, the page with each user's
//! roles, grants, expertise and providers) with the counting index built ahead
//! (`warm_counts`); its build time and the process's resident memory before and after are
//! printed first.
//!
//! Data: `benches/support/million_data.rs` (N users, default 1,000,000;
//! `USERMGMT_BENCH_USERS`). Harness: `USERMGMT_BENCH_ITERS` rounds (default 15) after two
//! warm-up rounds, every variant of every case once per round in a fresh random order;
//! medians. `USERMGMT_BENCH_BACKEND=sqlite|postgres` runs one backend.
//!
//! Run: `cargo bench --bench counting --features postgres`.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

#[path = "support/admin.rs"]
mod admin;
#[path = "support/counting_cases.rs"]
mod cases;
#[path = "support/million_data.rs"]
mod data;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cases::{Case, Dialect, Lite, Pg, insight_cases, list_cases, narrow_table};
use data::{TENANT, env_usize};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use usermgmt::UserService;
use usermgmt::model::TenantId;

/// Resident anonymous memory (the heap; not the database pages SQLite maps).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Medians of every variant of every case over `iters` shuffled rounds.
fn measure(label: &str, mut cases: Vec<Case<'_>>, iters: usize) {
    let mut samples = vec![[(); 3].map(|_| Vec::<Duration>::new()); cases.len()];
    let mut order: Vec<(usize, usize)> = (0..cases.len())
        .flat_map(|c| (0..3).map(move |v| (c, v)))
        .collect();
    let mut rng = StdRng::seed_from_u64(7);
    for round in 0..iters + 2 {
        order.shuffle(&mut rng);
        for &(c, v) in &order {
            let started = Instant::now();
            (cases[c].runs[v])();
            if round >= 2 {
                samples[c][v].push(started.elapsed());
            }
        }
    }
    for (case, mut runs) in cases.iter().zip(samples) {
        let [ours, hand, narrow] = runs.each_mut().map(|v| {
            v.sort();
            v[v.len() / 2].as_secs_f64() * 1e3
        });
        println!(
            "| {label} | {} | {ours:.2} ms | {hand:.2} ms | {narrow:.2} ms | {:.1}× | {:.1}× |",
            case.name,
            hand / ours,
            narrow / ours
        );
    }
}

/// Builds the counting index ahead and reports its cost.
fn warm(runtime: &tokio::runtime::Runtime, label: &str, service: &UserService, users: usize) {
    let tenant = TenantId::new(TENANT).unwrap();
    let before = rss_mib();
    let started = Instant::now();
    assert!(runtime.block_on(service.warm_counts(&tenant)).unwrap());
    let took = started.elapsed();
    let size = service.count_index_size(&tenant).unwrap();
    println!(
        "{label} at {users} users: index built in {:.1} s; {} users, ~{:.0} MiB held; \
         anonymous RSS {before:.0} → {:.0} MiB",
        took.as_secs_f64(),
        size.users,
        size.bytes as f64 / 1048576.0,
        rss_mib()
    );
}

fn header() {
    println!(
        "| backend | case | ours (median) | hand-written SQL | narrow table (DRF-style) | \
         hand-written / ours | narrow / ours |"
    );
    println!("|---|---|---|---|---|---|---|");
}

fn main() {
    let users = env_usize("USERMGMT_BENCH_USERS", 1_000_000);
    let iters = env_usize("USERMGMT_BENCH_ITERS", 15);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let only = std::env::var("USERMGMT_BENCH_BACKEND").unwrap_or_default();
    if only != "postgres" {
        sqlite(&runtime, users, iters);
    }
    if only != "sqlite" {
        postgres(&runtime, users, iters);
    }
}

fn sqlite(runtime: &tokio::runtime::Runtime, users: usize, iters: usize) {
    let (path, _) = data::sqlite_dataset(runtime, users);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let exists: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'django_users'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    if !exists {
        for statement in narrow_table(Dialect::Sqlite) {
            conn.execute_batch(&statement).unwrap();
        }
        conn.execute_batch("ANALYZE").unwrap();
    }
    // The library's connection settings (page cache, memory map): a comparison of the SQL.
    conn.execute_batch(
        "PRAGMA cache_size = -32000; PRAGMA temp_store = MEMORY; PRAGMA mmap_size = 1073741824;",
    )
    .unwrap();
    let storage = runtime
        .block_on(usermgmt::sqlite::SqliteStorage::open(&path))
        .unwrap();
    let (service, principal) = runtime.block_on(data::service_over(Arc::new(storage), None));
    warm(runtime, "SQLite", &service, users);
    header();
    let sql = Lite(conn);
    let mut cases = list_cases(runtime, &service, &principal, Dialect::Sqlite, &sql);
    cases.extend(insight_cases(
        runtime,
        &service,
        &principal,
        Dialect::Sqlite,
        &sql,
    ));
    measure("SQLite", cases, iters);
}

fn postgres(runtime: &tokio::runtime::Runtime, users: usize, iters: usize) {
    let Some(db_url) = data::pg_dataset(runtime, users) else {
        return;
    };
    let pool = runtime
        .block_on(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&db_url),
        )
        .unwrap();
    let exists: bool = runtime
        .block_on(
            sqlx::query_scalar("SELECT to_regclass('django_users') IS NOT NULL").fetch_one(&pool),
        )
        .unwrap();
    if !exists {
        for statement in narrow_table(Dialect::Postgres) {
            runtime
                .block_on(sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&pool))
                .unwrap();
        }
        runtime
            .block_on(sqlx::query("VACUUM ANALYZE django_users").execute(&pool))
            .unwrap();
    }
    let storage = runtime
        .block_on(usermgmt::postgres::PgStorage::connect(&db_url))
        .unwrap();
    let (service, principal) = runtime.block_on(data::service_over(Arc::new(storage), None));
    warm(runtime, "PostgreSQL", &service, users);
    header();
    let sql = Pg { runtime, pool };
    let mut cases = list_cases(runtime, &service, &principal, Dialect::Postgres, &sql);
    cases.extend(insight_cases(
        runtime,
        &service,
        &principal,
        Dialect::Postgres,
        &sql,
    ));
    measure("PostgreSQL", cases, iters);
}
