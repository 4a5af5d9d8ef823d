//! Export and statistics benchmark on SQLite over N generated users (default 100,000;
//! `USERMGMT_BENCH_USERS`), against baselines in the same run:
//!
//! - export of every (non-deleted) user as CSV, streamed to a byte counter: rows/s, against
//!   `sqlite3 -csv` running the equivalent query (when the `sqlite3` CLI is installed);
//! - statistics (`UserService::stats`), against the hand-written one-pass `GROUP BY`.
//!
//! `USERMGMT_BENCH_MODE=stats` runs the statistics comparison only.
//! `USERMGMT_BENCH_MODE=export` runs one export only and prints rows/s, so that
//! `/usr/bin/time -v` measures the export's peak RSS (the data set must exist: run once
//! without the mode first). The data set is cached under `target/bench-data/`.
//!
//! Run: `cargo bench --bench export_stats`.

// A benchmark harness: failing loudly on a broken set-up is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "support/admin.rs"]
mod admin;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use usermgmt::filter::UserFilters;
use usermgmt::model::TenantId;
use usermgmt::password::PasswordPolicy;
use usermgmt::service::ExportFormat;
use usermgmt::sqlite::SqliteStorage;
use usermgmt::{Principal, ServiceConfig, UserService};
use usermgmt_testkit::ManualClock;

const BASELINE_EXPORT: &str = "SELECT hex(id), name, email, phone, username, unique_id, status, is_admin, \
    is_instructor, is_learner, email_verified, phone_verified, auth_method, created_at, last_login_at, country, \
    city, state, continent, timezone, locale, gender, designation, date_of_birth, avatar_url, bio, \
    profile_completeness FROM users WHERE tenant_id = 'bench' AND status <> 'deleted' \
    ORDER BY created_at DESC, id DESC";

const BASELINE_STATS: &str = "SELECT status, count(*), sum(is_admin), sum(is_instructor), sum(is_learner), \
    sum(email_verified), sum(phone_verified), sum(email_verified = 0 AND phone_verified = 0), \
    sum(created_at >= 1771000000000000), sum(created_at >= 1770000000000000) \
    FROM users INDEXED BY users_stats WHERE tenant_id = 'bench' AND version > 0 GROUP BY status";

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn dataset(users: usize) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).expect("bench data dir");
    let path = dir.join(format!("export-{users}-v1.db"));
    if !path.exists() {
        let partial = dir.join(format!("export-{users}-v1.partial.db"));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", partial.display()));
        }
        let started = Instant::now();
        let storage = SqliteStorage::open(&partial).await.expect("open");
        let tenant = TenantId::new("bench").expect("tenant");
        let now = Utc
            .with_ymd_and_hms(2026, 3, 1, 9, 30, 0)
            .single()
            .expect("time");
        usermgmt_testkit::dataset::load_bulk(&storage, 42, &tenant, users, now, 2_000).await;
        drop(storage);
        let conn = rusqlite::Connection::open(&partial).expect("checkpoint");
        conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")
            .expect("checkpoint");
        drop(conn);
        std::fs::rename(&partial, &path).expect("rename");
        eprintln!("generated {users} users in {:.1?}", started.elapsed());
    }
    path
}

async fn service(path: &Path) -> (UserService, Principal) {
    let storage = SqliteStorage::open(path).await.expect("open");
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0)
            .single()
            .expect("time"),
    ));
    let config = ServiceConfig {
        password: PasswordPolicy::insecure_fast_for_tests(),
        ..ServiceConfig::default()
    };
    let service = UserService::with_config(Arc::new(storage), config).with_clock(clock);
    let tenant = TenantId::new("bench").expect("tenant");
    let principal = admin::bench_admin(&service, tenant).await;
    (service, principal)
}

/// One full CSV export into a byte counter: (rows, bytes, time).
async fn export_once(service: &UserService, principal: &Principal) -> (usize, usize, Duration) {
    let started = Instant::now();
    let mut stream = service
        .export(principal, UserFilters::default(), ExportFormat::Csv)
        .await
        .expect("export");
    let (mut bytes, mut rows) = (0, 0);
    while let Some(chunk) = stream.next_chunk().await {
        let chunk = chunk.expect("chunk");
        bytes += chunk.len();
        rows += chunk.iter().filter(|b| **b == b'\n').count();
    }
    (rows.saturating_sub(1), bytes, started.elapsed())
}

fn main() {
    let users = std::env::var("USERMGMT_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let mode = std::env::var("USERMGMT_BENCH_MODE").unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let path = runtime.block_on(dataset(users));
    let (service, principal) = runtime.block_on(service(&path));

    if mode == "export" {
        let (rows, bytes, took) = runtime.block_on(export_once(&service, &principal));
        println!(
            "export: {rows} rows, {bytes} bytes in {took:.2?}: {:.0} rows/s",
            rows as f64 / took.as_secs_f64()
        );
        return;
    }

    if mode != "stats" {
        compare_exports(&runtime, &service, &principal, &path, users);
    }
    compare_stats(&runtime, &service, &principal, &path);
}

fn compare_exports(
    runtime: &tokio::runtime::Runtime,
    service: &UserService,
    principal: &Principal,
    path: &Path,
    users: usize,
) {
    let mut ours = Vec::new();
    let mut rows = 0;
    for _ in 0..3 {
        let (n, _, took) = runtime.block_on(export_once(service, principal));
        rows = n;
        ours.push(took);
    }
    let ours = median(&mut ours);
    println!("dataset: {users} users; export of {rows} rows");
    println!(
        "ours:     CSV export median {ours:.2?} = {:.0} rows/s",
        rows as f64 / ours.as_secs_f64()
    );
    let cli = std::process::Command::new("sqlite3")
        .arg("-version")
        .output();
    if cli.is_ok_and(|o| o.status.success()) {
        let mut base = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            let out = std::process::Command::new("sqlite3")
                .arg("-csv")
                .arg(path)
                .arg(BASELINE_EXPORT)
                .stdout(std::process::Stdio::null())
                .status()
                .expect("sqlite3");
            assert!(out.success());
            base.push(started.elapsed());
        }
        let base = median(&mut base);
        println!(
            "baseline: sqlite3 -csv median {base:.2?} = {:.0} rows/s; ours/baseline throughput {:.2}",
            rows as f64 / base.as_secs_f64(),
            base.as_secs_f64() / ours.as_secs_f64()
        );
    } else {
        println!("baseline: sqlite3 CLI not installed; skipped");
    }
}

fn compare_stats(
    runtime: &tokio::runtime::Runtime,
    service: &UserService,
    principal: &Principal,
    path: &Path,
) {
    let conn = rusqlite::Connection::open(path).expect("baseline connection");
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for round in 0..12 {
        let started = Instant::now();
        std::hint::black_box(runtime.block_on(service.stats(principal)).expect("stats"));
        let t_ours = started.elapsed();
        let started = Instant::now();
        let groups: usize = conn
            .prepare_cached(BASELINE_STATS)
            .unwrap()
            .query_map([], |r| r.get::<_, i64>(1))
            .unwrap()
            .count();
        std::hint::black_box(groups);
        let t_base = started.elapsed();
        if round >= 2 {
            ours.push(t_ours);
            base.push(t_base);
        }
    }
    let (ours, base) = (median(&mut ours), median(&mut base));
    println!(
        "stats: ours median {ours:.2?}, hand-written GROUP BY {base:.2?}, ratio {:.2}",
        ours.as_secs_f64() / base.as_secs_f64()
    );
}
