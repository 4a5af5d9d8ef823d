//! The whole-data-set operations at a million users on both backends, each against a baseline
//! in the same run: export of every user (rows/s against `sqlite3 -csv` and PostgreSQL
//! `COPY … TO STDOUT`, and peak RSS at 100k vs 1M users), statistics and the growth series
//! (against hand-written `GROUP BY`s), bulk soft-delete of 10,000 users (against a
//! hand-written `UPDATE`; restored after each run, untimed) and get-or-create of an existing
//! user (against a hand-written look-up).
//!
//! Data sets: `benches/support/million_data.rs` (the same as `benches/million.rs`).
//! Medians of `USERMGMT_BENCH_ITERS` runs (default 7) after one warm-up.
//!
//! Run: `cargo bench --bench million_ops --features postgres`
//! (`USERMGMT_BENCH_BACKEND=sqlite|postgres` runs one backend). Peak RSS is measured by running
//! this binary again per export (`USERMGMT_BENCH_MODE=export`), which prints its `VmHWM`.

// A benchmark harness: failing loudly on a broken set-up is the point.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

#[path = "support/admin.rs"]
mod admin;
#[path = "support/million_data.rs"]
mod data;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use data::{TENANT, env_usize, now};
use usermgmt::filter::UserFilters;
use usermgmt::model::{GrowthInterval, TenantId};
use usermgmt::service::{BulkDeleteRequest, ExportFormat, GetOrCreateUser};
use usermgmt::storage::Storage;
use usermgmt::{Principal, UserService};

/// Which backend a measurement runs on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn label(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// What the baselines run against.
enum Baseline {
    Sqlite(std::path::PathBuf, rusqlite::Connection),
    Postgres(String, sqlx::PgPool),
}

impl Baseline {
    /// Runs a query on the baseline connection; answers how many rows it returned.
    fn rows(&self, runtime: &tokio::runtime::Runtime, sql: &str) -> usize {
        match self {
            Baseline::Sqlite(_, conn) => conn
                .prepare_cached(sql)
                .unwrap()
                .query_map([], |_| Ok(()))
                .unwrap()
                .count(),
            Baseline::Postgres(_, pool) => runtime
                .block_on(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).fetch_all(pool))
                .unwrap()
                .len(),
        }
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Median of `iters` runs after one warm-up; `reset` runs untimed after each.
fn time(iters: usize, mut run: impl FnMut(), mut reset: impl FnMut()) -> Duration {
    let mut samples = Vec::new();
    for i in 0..=iters {
        let started = Instant::now();
        run();
        let took = started.elapsed();
        reset();
        if i > 0 {
            samples.push(took);
        }
    }
    median(samples)
}

fn row(backend: Backend, case: &str, ours: Duration, base: Duration, note: &str) {
    println!(
        "| {} | {case} | {:.2} ms | {:.2} ms | {:.2} | {note} |",
        backend.label(),
        ours.as_secs_f64() * 1e3,
        base.as_secs_f64() * 1e3,
        ours.as_secs_f64() / base.as_secs_f64()
    );
}

/// One CSV export of every user into a byte counter: rows.
async fn export_once(service: &UserService, principal: &Principal) -> usize {
    let mut stream = service
        .export(principal, UserFilters::default(), ExportFormat::Csv)
        .await
        .unwrap();
    let mut rows = 0;
    while let Some(chunk) = stream.next_chunk().await {
        rows += chunk.unwrap().iter().filter(|b| **b == b'\n').count();
    }
    rows.saturating_sub(1)
}

const EXPORT_COLUMNS: &str = "id, name, email, phone, username, unique_id, status, is_admin, \
    is_instructor, is_learner, email_verified, phone_verified, auth_method, created_at, \
    last_login_at, country, city, state, continent, timezone, locale, gender, designation, \
    date_of_birth, avatar_url, bio, profile_completeness";

fn export_baseline(baseline: &Baseline, runtime: &tokio::runtime::Runtime) {
    match baseline {
        Baseline::Sqlite(path, _) => {
            let sql = format!(
                "SELECT {EXPORT_COLUMNS} FROM users WHERE tenant_id = '{TENANT}' AND status <> 'deleted' \
                 ORDER BY created_at DESC, id DESC"
            )
            .replacen("id,", "hex(id),", 1);
            let status = std::process::Command::new("sqlite3")
                .args(["-cmd", "PRAGMA mmap_size = 1073741824", "-csv"])
                .arg(path)
                .arg(sql)
                .stdout(std::process::Stdio::null())
                .status()
                .expect("the sqlite3 CLI (apt-get install sqlite3)");
            assert!(status.success());
        }
        Baseline::Postgres(url, _) => runtime.block_on(async {
            use futures_util::StreamExt;
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            let sql = format!(
                "COPY (SELECT {EXPORT_COLUMNS} FROM users WHERE tenant_id = '{TENANT}' AND status <> 'deleted' \
                 ORDER BY created_at DESC, id DESC) TO STDOUT WITH CSV HEADER"
            );
            let mut out = conn.copy_out_raw(&sql).await.unwrap();
            let mut bytes = 0;
            while let Some(chunk) = out.next().await {
                bytes += chunk.unwrap().len();
            }
            std::hint::black_box(bytes);
        }),
    }
}

/// A `kB` field of `/proc/self/status`.
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Runs `work` while a sampler thread records the peak of `RssAnon` (memory the process
/// allocated; memory-mapped database pages are page cache and not counted), and answers it
/// with `VmHWM` (every resident page, mapped file pages included) reset just before.
fn peaks_during<T>(work: impl FnOnce() -> T) -> (T, u64, u64) {
    // Writing 5 to clear_refs resets VmHWM (Linux ≥ 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(status_kb("RssAnon:"));
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let out = work();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let anon = sampler.join().unwrap();
    (out, anon, status_kb("VmHWM:"))
}

/// Peak anonymous RSS and peak RSS (kB) of an export in a fresh process of this binary, and
/// its rows.
fn export_rss(backend: Backend, users: usize) -> (u64, u64, usize) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env("USERMGMT_BENCH_MODE", "export")
        .env("USERMGMT_BENCH_BACKEND", format!("{backend:?}"))
        .env("USERMGMT_BENCH_USERS", users.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace().map(|p| p.parse::<u64>().unwrap());
    let (anon, total, rows) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    (anon, total, rows as usize)
}

/// The service and the baseline handle for a backend's data set of `users` users.
fn open(
    runtime: &tokio::runtime::Runtime,
    backend: Backend,
    users: usize,
) -> Option<(UserService, Principal, Arc<dyn Storage>, Baseline)> {
    match backend {
        Backend::Sqlite => {
            let (path, _) = data::sqlite_dataset(runtime, users);
            let storage: Arc<dyn Storage> = Arc::new(
                runtime
                    .block_on(usermgmt::sqlite::SqliteStorage::open(&path))
                    .unwrap(),
            );
            let (service, principal) = runtime.block_on(data::service_over(storage.clone(), None));
            let conn = rusqlite::Connection::open(&path).unwrap();
            // The library's connection settings, so the comparison is of the SQL.
            conn.execute_batch(
                "PRAGMA cache_size = -32000; PRAGMA temp_store = MEMORY; PRAGMA mmap_size = 1073741824;",
            )
            .unwrap();
            Some((service, principal, storage, Baseline::Sqlite(path, conn)))
        }
        Backend::Postgres => {
            let url = data::pg_dataset(runtime, users)?;
            let storage: Arc<dyn Storage> = Arc::new(
                runtime
                    .block_on(usermgmt::postgres::PgStorage::connect(&url))
                    .unwrap(),
            );
            let (service, principal) = runtime.block_on(data::service_over(storage.clone(), None));
            let pool = runtime
                .block_on(
                    sqlx::postgres::PgPoolOptions::new()
                        .max_connections(1)
                        .connect(&url),
                )
                .unwrap();
            Some((service, principal, storage, Baseline::Postgres(url, pool)))
        }
    }
}

/// The one-pass `GROUP BY` (on SQLite, `version > 0` lets it read the covering partial index
/// `users_stats`, as the library's query does).
fn stats_baseline(baseline: &Baseline, runtime: &tokio::runtime::Runtime) {
    let (week, month) = (
        now() - chrono::Duration::days(7),
        now() - chrono::Duration::days(30),
    );
    let sql = match baseline {
        Baseline::Sqlite(..) => format!(
            "SELECT status, count(*), sum(is_admin), sum(is_instructor), sum(is_learner), \
             sum(email_verified), sum(phone_verified), sum(email_verified = 0 AND phone_verified = 0), \
             sum(created_at >= {}), sum(created_at >= {}) FROM users \
             WHERE tenant_id = '{TENANT}' AND version > 0 GROUP BY status",
            week.timestamp_micros(),
            month.timestamp_micros()
        ),
        Baseline::Postgres(..) => format!(
            "SELECT status, count(*), count(*) FILTER (WHERE is_admin), count(*) FILTER (WHERE is_instructor), \
             count(*) FILTER (WHERE is_learner), count(*) FILTER (WHERE email_verified), \
             count(*) FILTER (WHERE phone_verified), count(*) FILTER (WHERE NOT email_verified AND NOT phone_verified), \
             count(*) FILTER (WHERE created_at >= '{}'), count(*) FILTER (WHERE created_at >= '{}') \
             FROM users WHERE tenant_id = '{TENANT}' GROUP BY status",
            week.to_rfc3339(),
            month.to_rfc3339()
        ),
    };
    std::hint::black_box(baseline.rows(runtime, &sql));
}

fn growth_baseline(baseline: &Baseline, runtime: &tokio::runtime::Runtime, from: DateTime<Utc>) {
    let sql = match baseline {
        Baseline::Sqlite(..) => format!(
            "SELECT strftime('%Y-%m', created_at / 1000000, 'unixepoch') AS m, count(*) FROM users \
             WHERE tenant_id = '{TENANT}' AND created_at >= {} AND created_at < {} GROUP BY m",
            from.timestamp_micros(),
            now().timestamp_micros()
        ),
        Baseline::Postgres(..) => format!(
            "SELECT date_trunc('month', created_at AT TIME ZONE 'UTC') AS m, count(*) FROM users \
             WHERE tenant_id = '{TENANT}' AND created_at >= '{}' AND created_at < '{}' GROUP BY m",
            from.to_rfc3339(),
            now().to_rfc3339()
        ),
    };
    std::hint::black_box(baseline.rows(runtime, &sql));
}

/// Up to `count` active users' ids (skipping the oldest 1,000).
fn victims(
    baseline: &Baseline,
    runtime: &tokio::runtime::Runtime,
    count: usize,
) -> Vec<uuid::Uuid> {
    let sql = format!(
        "SELECT id FROM users WHERE tenant_id = '{TENANT}' AND status = 'active' AND is_admin = {} \
         ORDER BY created_at LIMIT {count} OFFSET 1000",
        if matches!(baseline, Baseline::Sqlite(..)) {
            "0"
        } else {
            "false"
        }
    );
    match baseline {
        Baseline::Sqlite(_, conn) => conn
            .prepare(&sql)
            .unwrap()
            .query_map([], |r| r.get::<_, uuid::Uuid>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect(),
        Baseline::Postgres(_, pool) => runtime
            .block_on(sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(pool))
            .unwrap(),
    }
}

/// `UPDATE users SET <set> WHERE id IN (<ids>)` on the baseline connection.
fn update_users(
    baseline: &Baseline,
    runtime: &tokio::runtime::Runtime,
    set: &str,
    ids: &[uuid::Uuid],
) {
    match baseline {
        Baseline::Sqlite(_, conn) => {
            let list: Vec<String> = ids.iter().map(|id| format!("X'{}'", id.simple())).collect();
            conn.execute_batch(&format!(
                "BEGIN; UPDATE users SET {set} WHERE tenant_id = '{TENANT}' AND id IN ({}); COMMIT;",
                list.join(",")
            ))
            .unwrap();
        }
        Baseline::Postgres(_, pool) => runtime.block_on(async {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE users SET {set} WHERE tenant_id = '{TENANT}' AND id = ANY($1)"
            )))
            .bind(ids)
            .execute(pool)
            .await
            .unwrap();
        }),
    }
}

fn measure_backend(
    runtime: &tokio::runtime::Runtime,
    backend: Backend,
    users: usize,
    iters: usize,
) {
    let Some((service, principal, _storage, baseline)) = open(runtime, backend, users) else {
        return;
    };
    let mut rows = 0;
    let ours = time(
        3,
        || rows = runtime.block_on(export_once(&service, &principal)),
        || {},
    );
    let base = time(3, || export_baseline(&baseline, runtime), || {});
    let note = format!(
        "{rows} rows: {:.0} vs {:.0} rows/s",
        rows as f64 / ours.as_secs_f64(),
        rows as f64 / base.as_secs_f64()
    );
    row(
        backend,
        "export, CSV (throughput: invert the ratio)",
        ours,
        base,
        &note,
    );

    let ours = time(
        iters,
        || {
            std::hint::black_box(runtime.block_on(service.stats(&principal)).unwrap());
        },
        || {},
    );
    let base = time(iters, || stats_baseline(&baseline, runtime), || {});
    row(backend, "stats", ours, base, "");

    let from = now() - chrono::Duration::days(5 * 365);
    let ours = time(
        iters,
        || {
            let points = runtime
                .block_on(service.growth(
                    &principal,
                    GrowthInterval::Month,
                    from.date_naive(),
                    now().date_naive(),
                ))
                .unwrap();
            std::hint::black_box(points);
        },
        || {},
    );
    let base = time(iters, || growth_baseline(&baseline, runtime, from), || {});
    row(backend, "growth, monthly over 5 years", ours, base, "");

    // 10,000 users (a tenth of a smaller data set).
    let count = (users / 10).min(10_000);
    let ids = victims(&baseline, runtime, count);
    assert_eq!(ids.len(), count);
    let restore = || {
        update_users(
            &baseline,
            runtime,
            "status = 'active', deleted_at = NULL",
            &ids,
        )
    };
    let ours = time(
        iters,
        || {
            let outcome = runtime
                .block_on(service.bulk_delete(&principal, BulkDeleteRequest::UserIds(ids.clone())))
                .unwrap();
            assert_eq!(outcome.deleted, count as u64);
        },
        restore,
    );
    let deleted_at = match backend {
        Backend::Sqlite => now().timestamp_micros().to_string(),
        Backend::Postgres => format!("'{}'", now().to_rfc3339()),
    };
    let base = time(
        iters,
        || {
            update_users(
                &baseline,
                runtime,
                &format!("status = 'deleted', deleted_at = {deleted_at}, version = version + 1"),
                &ids,
            );
        },
        restore,
    );
    row(
        backend,
        &format!("bulk soft-delete of {count} by id"),
        ours,
        base,
        "baseline: one UPDATE, no audit events",
    );

    let system = Principal::system(TenantId::new(TENANT).unwrap());
    let email = "james.smith0@gmail.com";
    let existing = runtime.block_on(service.system_get_or_create(
        &system,
        GetOrCreateUser {
            email: Some(email.into()),
            name: Some("James Smith".into()),
            ..Default::default()
        },
    ));
    let email = existing
        .map(|o| o.user.email)
        .ok()
        .flatten()
        .unwrap_or_else(|| email.into());
    let ours = time(
        iters * 10,
        || {
            let outcome = runtime
                .block_on(service.system_get_or_create(
                    &system,
                    GetOrCreateUser {
                        email: Some(email.clone()),
                        name: Some("James Smith".into()),
                        ..Default::default()
                    },
                ))
                .unwrap();
            assert!(!outcome.created);
        },
        || {},
    );
    let base = time(
        iters * 10,
        || match &baseline {
            Baseline::Sqlite(_, conn) => {
                let n: i64 = conn
                    .prepare_cached(
                        "SELECT count(*) FROM users WHERE tenant_id = ?1 AND email IS NOT NULL AND lower(email) = ?2",
                    )
                    .unwrap()
                    .query_row(rusqlite::params![TENANT, email], |r| r.get(0))
                    .unwrap();
                assert_eq!(n, 1);
            }
            Baseline::Postgres(_, pool) => {
                let n: i64 = runtime
                    .block_on(
                        sqlx::query_scalar(
                            "SELECT count(*) FROM users WHERE tenant_id = $1 AND email IS NOT NULL AND lower(email) = $2",
                        )
                        .bind(TENANT)
                        .bind(&email)
                        .fetch_one(pool),
                    )
                    .unwrap();
                assert_eq!(n, 1);
            }
        },
        || {},
    );
    row(
        backend,
        "get-or-create, existing user",
        ours,
        base,
        "baseline: the look-up only",
    );
}

fn main() {
    let users = env_usize("USERMGMT_BENCH_USERS", 1_000_000);
    let iters = env_usize("USERMGMT_BENCH_ITERS", 7);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if std::env::var("USERMGMT_BENCH_MODE").as_deref() == Ok("export") {
        let backend = match std::env::var("USERMGMT_BENCH_BACKEND").as_deref() {
            Ok("Postgres") => Backend::Postgres,
            _ => Backend::Sqlite,
        };
        let (service, principal, _, _) = open(&runtime, backend, users).unwrap();
        let started = Instant::now();
        let (rows, anon, total) =
            peaks_during(|| runtime.block_on(export_once(&service, &principal)));
        eprintln!("export of {rows} rows in {:.2?}", started.elapsed());
        println!("{anon} {total} {rows}");
        return;
    }
    println!("| backend | operation | ours (median) | baseline (median) | ratio | note |");
    println!("|---|---|---|---|---|---|");
    let only = std::env::var("USERMGMT_BENCH_BACKEND").unwrap_or_default();
    let backends: Vec<Backend> = [Backend::Sqlite, Backend::Postgres]
        .into_iter()
        .filter(|b| only.is_empty() || only.eq_ignore_ascii_case(&format!("{b:?}")))
        .collect();
    for &backend in &backends {
        measure_backend(&runtime, backend, users, iters);
    }
    let small = env_usize("USERMGMT_BENCH_SMALL_USERS", 100_000);
    for &backend in &backends {
        if backend == Backend::Postgres && std::env::var("USERMGMT_BENCH_POSTGRES_URL").is_err() {
            continue;
        }
        let (small_anon, small_total, small_rows) = export_rss(backend, small);
        let (large_anon, large_total, large_rows) = export_rss(backend, users);
        let mb = |kb: u64| kb as f64 / 1024.0;
        println!(
            "| {} | export peak anonymous RSS | {:.1} MB at {large_rows} rows | {:.1} MB at {small_rows} rows | {:.2} | peak RSS incl. mapped database pages: {:.1} MB vs {:.1} MB |",
            backend.label(),
            mb(large_anon),
            mb(small_anon),
            large_anon as f64 / small_anon as f64,
            mb(large_total),
            mb(small_total)
        );
    }
}
