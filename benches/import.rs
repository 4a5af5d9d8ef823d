//! Import throughput and memory (SPEC §11, issue 19): N users (`USERMGMT_BENCH_USERS`,
//! default 100,000) streamed as CSV — generated row by row, never held whole — through
//! `UserService::import_users` into a fresh database, against the backend's own batch insert
//! of the same users in the same run (`Storage::insert_users`, 2,000 users per transaction,
//! records built in the bench: no parsing, validation or permission checks). Rows have no
//! password (an argon2 hash per row would measure argon2). For each: rows/s and the process's
//! peak RSS during the run (VmHWM, reset through `/proc/self/clear_refs` before each run).
//!
//! SQLite always; PostgreSQL when `USERMGMT_BENCH_POSTGRES_URL` names a server (a database is
//! created per run and dropped after). Run:
//! `USERMGMT_BENCH_USERS=1000000 cargo bench --bench import --features postgres`
//! (`USERMGMT_BENCH_PER_BATCH=1`: the import commits every batch instead of all-or-nothing).

// A benchmark harness: failing loudly on a broken set-up is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::{Connection, Executor};
use tokio::io::{AsyncRead, ReadBuf};
use usermgmt::model::TenantId;
use usermgmt::password::PasswordPolicy;
use usermgmt::service::{ExportFormat, ImportOptions};
use usermgmt::storage::Storage;
use usermgmt::{ServiceConfig, UserService};

#[path = "support/admin.rs"]
mod admin;
#[path = "support/learners.rs"]
mod learners;

use learners::COUNTRIES;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).single().unwrap()
}

/// CSV rows generated as they are read: constant memory whatever `n`.
struct Rows {
    next: usize,
    n: usize,
    chunk: Vec<u8>,
    at: usize,
}

impl Rows {
    fn new(n: usize) -> Self {
        Self {
            next: 0,
            n,
            chunk: b"name,email,user_type,country,city\n".to_vec(),
            at: 0,
        }
    }
}

impl AsyncRead for Rows {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.at == this.chunk.len() {
            this.chunk.clear();
            this.at = 0;
            while this.chunk.len() < 64 * 1024 && this.next < this.n {
                let i = this.next;
                let line = format!(
                    "Imported Learner {i},learner{i}@import.test,learner,{},City {}\n",
                    COUNTRIES[i % 4],
                    i % 97
                );
                this.chunk.extend_from_slice(line.as_bytes());
                this.next += 1;
            }
        }
        let take = (this.chunk.len() - this.at).min(buf.remaining());
        buf.put_slice(&this.chunk[this.at..this.at + take]);
        this.at += take;
        Poll::Ready(Ok(()))
    }
}

/// Resets the process's peak RSS (Linux: `/proc/self/clear_refs`).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The process's peak RSS since the last reset, in MiB.
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Imports `n` rows through the service; answers (seconds, peak MiB).
async fn ours(storage: Arc<dyn Storage>, n: usize) -> (f64, f64) {
    let config = ServiceConfig {
        password: PasswordPolicy::insecure_fast_for_tests(),
        ..ServiceConfig::default()
    };
    let service = UserService::with_config(storage, config);
    let principal = admin::bench_admin(&service, TenantId::new("bench").unwrap()).await;
    reset_peak();
    let started = Instant::now();
    let options = ImportOptions {
        format: ExportFormat::Csv,
        // USERMGMT_BENCH_PER_BATCH=1: commit every batch of 500 instead of all-or-nothing.
        per_batch: std::env::var("USERMGMT_BENCH_PER_BATCH").is_ok_and(|v| v == "1"),
        ..ImportOptions::default()
    };
    let summary = service
        .import_users(&principal, Rows::new(n), options, |_| {})
        .await
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(summary.created as usize, n, "{summary:?}");
    (seconds, peak_mib())
}

/// Inserts the same `n` users with the storage's batch insert; answers (seconds, peak MiB).
async fn batch_insert(storage: Arc<dyn Storage>, n: usize) -> (f64, f64) {
    let tenant = TenantId::new("bench").unwrap();
    reset_peak();
    let started = Instant::now();
    let mut i = 0;
    while i < n {
        let end = (i + 2_000).min(n);
        let batch: Vec<_> = (i..end)
            .map(|j| learners::learner(&tenant, j, now()))
            .collect();
        storage.insert_users(&tenant, batch).await.unwrap();
        i = end;
    }
    (started.elapsed().as_secs_f64(), peak_mib())
}

fn report(backend: &str, n: usize, (ours, ours_mib): (f64, f64), (base, base_mib): (f64, f64)) {
    let rate = |s: f64| n as f64 / s;
    println!(
        "{backend:<10} {n:>9} rows  import {:>9.0} rows/s ({ours:>6.1} s, peak {ours_mib:>6.0} MiB)  \
         batch insert {:>9.0} rows/s ({base:>6.1} s, peak {base_mib:>6.0} MiB)  ratio {:.2}",
        rate(ours),
        rate(base),
        base / ours,
    );
}

async fn sqlite(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let open = |name: &str| usermgmt::sqlite::SqliteStorage::open(dir.path().join(name));
    let storage: Arc<dyn Storage> = Arc::new(open("ours.db").await.unwrap());
    let ours = ours(storage, n).await;
    let storage: Arc<dyn Storage> = Arc::new(open("base.db").await.unwrap());
    let base = batch_insert(storage, n).await;
    report("sqlite", n, ours, base);
}

async fn postgres(url: &str, n: usize) {
    let (server, _) = url.rsplit_once('/').unwrap();
    let mut results = Vec::new();
    for (i, which) in ["ours", "base"].into_iter().enumerate() {
        let database = format!("usermgmt_import_bench_{i}");
        let mut admin = sqlx::PgConnection::connect(url).await.unwrap();
        let drop = format!("DROP DATABASE IF EXISTS {database}");
        admin
            .execute(sqlx::AssertSqlSafe(drop.clone()))
            .await
            .unwrap();
        let create = format!("CREATE DATABASE {database}");
        admin.execute(sqlx::AssertSqlSafe(create)).await.unwrap();
        let storage: Arc<dyn Storage> = Arc::new(
            usermgmt::postgres::PgStorage::connect(&format!("{server}/{database}"))
                .await
                .unwrap(),
        );
        results.push(if which == "ours" {
            ours(storage.clone(), n).await
        } else {
            batch_insert(storage.clone(), n).await
        });
        drop_storage(storage).await;
        admin.execute(sqlx::AssertSqlSafe(drop)).await.unwrap();
    }
    report("postgres", n, results[0], results[1]);
}

async fn drop_storage(storage: Arc<dyn Storage>) {
    // The pool closes with its last owner; give it a moment before the database is dropped.
    drop(storage);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
}

fn main() {
    let n: usize = std::env::var("USERMGMT_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        sqlite(n).await;
        match std::env::var("USERMGMT_BENCH_POSTGRES_URL") {
            Ok(url) => postgres(&url, n).await,
            Err(_) => eprintln!("USERMGMT_BENCH_POSTGRES_URL not set: PostgreSQL skipped"),
        }
    });
}
