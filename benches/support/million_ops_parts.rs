//! The pieces of `million_ops.rs`: backends and their baselines, timing, memory peaks, and
//! the data each operation needs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use usermgmt::filter::UserFilters;
use usermgmt::service::ExportFormat;
use usermgmt::storage::Storage;
use usermgmt::{Principal, UserService};

use crate::data::{TENANT, now};

/// Which backend a measurement runs on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// What the baselines run against.
pub(crate) enum Baseline {
    Sqlite(std::path::PathBuf, rusqlite::Connection),
    Postgres(String, sqlx::PgPool),
}

impl Baseline {
    /// Runs a query on the baseline connection; answers how many rows it returned.
    pub(crate) fn rows(&self, runtime: &tokio::runtime::Runtime, sql: &str) -> usize {
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

pub(crate) fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Median of `iters` runs after one warm-up; `reset` runs untimed after each.
pub(crate) fn time(iters: usize, mut run: impl FnMut(), mut reset: impl FnMut()) -> Duration {
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

pub(crate) fn row(backend: Backend, case: &str, ours: Duration, base: Duration, note: &str) {
    println!(
        "| {} | {case} | {:.2} ms | {:.2} ms | {:.2} | {note} |",
        backend.label(),
        ours.as_secs_f64() * 1e3,
        base.as_secs_f64() * 1e3,
        ours.as_secs_f64() / base.as_secs_f64()
    );
}

/// One CSV export of every user into a byte counter: rows.
pub(crate) async fn export_once(service: &UserService, principal: &Principal) -> usize {
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

pub(crate) const EXPORT_COLUMNS: &str = "id, name, email, phone, username, unique_id, status, is_admin, \
    is_instructor, is_learner, email_verified, phone_verified, auth_method, created_at, \
    last_login_at, country, city, state, continent, timezone, locale, gender, designation, \
    date_of_birth, avatar_url, bio, profile_completeness";

pub(crate) fn export_baseline(baseline: &Baseline, runtime: &tokio::runtime::Runtime) {
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
pub(crate) fn status_kb(field: &str) -> u64 {
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
pub(crate) fn peaks_during<T>(work: impl FnOnce() -> T) -> (T, u64, u64) {
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
pub(crate) fn export_rss(backend: Backend, users: usize) -> (u64, u64, usize) {
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
pub(crate) fn open(
    runtime: &tokio::runtime::Runtime,
    backend: Backend,
    users: usize,
) -> Option<(UserService, Principal, Arc<dyn Storage>, Baseline)> {
    match backend {
        Backend::Sqlite => {
            let (path, _) = crate::data::sqlite_dataset(runtime, users);
            let storage: Arc<dyn Storage> = Arc::new(
                runtime
                    .block_on(usermgmt::sqlite::SqliteStorage::open(&path))
                    .unwrap(),
            );
            let (service, principal) =
                runtime.block_on(crate::data::service_over(storage.clone(), None));
            let conn = rusqlite::Connection::open(&path).unwrap();
            // The library's connection settings, so the comparison is of the SQL.
            conn.execute_batch(
                "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -32000; \
                 PRAGMA temp_store = MEMORY; PRAGMA mmap_size = 1073741824;",
            )
            .unwrap();
            Some((service, principal, storage, Baseline::Sqlite(path, conn)))
        }
        Backend::Postgres => {
            let url = crate::data::pg_dataset(runtime, users)?;
            let storage: Arc<dyn Storage> = Arc::new(
                runtime
                    .block_on(usermgmt::postgres::PgStorage::connect(&url))
                    .unwrap(),
            );
            let (service, principal) =
                runtime.block_on(crate::data::service_over(storage.clone(), None));
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
pub(crate) fn stats_baseline(baseline: &Baseline, runtime: &tokio::runtime::Runtime) {
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

pub(crate) fn growth_baseline(
    baseline: &Baseline,
    runtime: &tokio::runtime::Runtime,
    from: DateTime<Utc>,
) {
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
pub(crate) fn victims(
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
pub(crate) fn update_users(
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

/// On SQLite, a `TRUNCATE` checkpoint on the baseline connection, retried while another
/// connection's checkpoint runs: afterwards the whole log is in the database file.
pub(crate) fn settle_wal(baseline: &Baseline) {
    if let Baseline::Sqlite(_, conn) = baseline {
        loop {
            let busy: i64 = conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                .unwrap();
            if busy == 0 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

/// The audit and outbox rows present now: (highest audit `seq`, highest outbox id of the
/// bench tenant), 0 when none.
pub(crate) fn event_marks(baseline: &Baseline, runtime: &tokio::runtime::Runtime) -> (i64, i64) {
    let audit = "SELECT coalesce(max(seq), 0) FROM audit_events";
    let outbox =
        format!("SELECT coalesce(max(id), 0) FROM outbox_events WHERE tenant_id = '{TENANT}'");
    match baseline {
        Baseline::Sqlite(_, conn) => (
            conn.query_row(audit, [], |r| r.get(0)).unwrap(),
            conn.query_row(&outbox, [], |r| r.get(0)).unwrap(),
        ),
        Baseline::Postgres(_, pool) => runtime.block_on(async {
            (
                sqlx::query_scalar(audit).fetch_one(pool).await.unwrap(),
                sqlx::query_scalar(sqlx::AssertSqlSafe(outbox))
                    .fetch_one(pool)
                    .await
                    .unwrap(),
            )
        }),
    }
}

/// Deletes the audit and outbox rows written after `marks` (the log of a measured bulk
/// delete), so every round starts with the same audit log.
pub(crate) fn forget_events(
    baseline: &Baseline,
    runtime: &tokio::runtime::Runtime,
    (audit, outbox): (i64, i64),
) {
    let sql = format!(
        "DELETE FROM outbox_events WHERE tenant_id = '{TENANT}' AND id > {outbox}; \
         DELETE FROM audit_events WHERE seq > {audit};"
    );
    match baseline {
        Baseline::Sqlite(_, conn) => conn.execute_batch(&sql).unwrap(),
        Baseline::Postgres(_, pool) => runtime.block_on(async {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(pool)
                .await
                .unwrap();
        }),
    }
}
