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
//! (`USERMGMT_BENCH_BACKEND=sqlite|postgres` runs one backend, `USERMGMT_BENCH_OPS=delete,…`
//! some operations). Peak RSS is measured by running
//! this binary again per export (`USERMGMT_BENCH_MODE=export`), which prints its `VmHWM`.

// A benchmark harness: failing loudly on a broken set-up is the point.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

#[path = "support/admin.rs"]
mod admin;
#[path = "support/million_data.rs"]
mod data;
#[path = "support/million_ops_parts.rs"]
mod parts;

use parts::*;

use std::time::Instant;

use data::{TENANT, env_usize, now};
use usermgmt::Principal;
use usermgmt::model::{GrowthInterval, TenantId};
use usermgmt::service::{BulkDeleteRequest, GetOrCreateUser};

/// Whether `USERMGMT_BENCH_OPS` (a comma-separated list of `export`, `stats`, `growth`,
/// `delete`, `lookup`; default all) selects an operation.
fn wants(op: &str) -> bool {
    std::env::var("USERMGMT_BENCH_OPS").map_or(true, |ops| ops.split(',').any(|o| o.trim() == op))
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
    if wants("export") {
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
    }

    if wants("stats") {
        let ours = time(
            iters,
            || {
                std::hint::black_box(runtime.block_on(service.stats(&principal)).unwrap());
            },
            || {},
        );
        let base = time(iters, || stats_baseline(&baseline, runtime), || {});
        row(backend, "stats", ours, base, "");
    }

    if wants("growth") {
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
    }

    if wants("delete") {
        // 10,000 users (a tenth of a smaller data set).
        let count = (users / 10).min(10_000);
        let ids = victims(&baseline, runtime, count);
        assert_eq!(ids.len(), count);
        // Every run starts from the same state: the users restored, the audit and outbox
        // rows of the measured delete removed (the audit log would otherwise grow by 10,000
        // rows a round, and with it the cost of the next round's index entries) and, on
        // SQLite, the write-ahead log copied into the database (whoever's checkpoint ran).
        let marks = event_marks(&baseline, runtime);
        let restore = || {
            forget_events(&baseline, runtime, marks);
            update_users(
                &baseline,
                runtime,
                "status = 'active', deleted_at = NULL",
                &ids,
            );
            settle_wal(&baseline);
        };
        let ours_once = || {
            let outcome = runtime
                .block_on(service.bulk_delete(&principal, BulkDeleteRequest::UserIds(ids.clone())))
                .unwrap();
            assert_eq!(outcome.deleted, count as u64);
        };
        let deleted_at = match backend {
            Backend::Sqlite => now().timestamp_micros().to_string(),
            Backend::Postgres => format!("'{}'", now().to_rfc3339()),
        };
        let set = format!("status = 'deleted', deleted_at = {deleted_at}, version = version + 1");
        let base_once = || update_users(&baseline, runtime, &set, &ids);
        let ours = time(iters, ours_once, restore);
        let base = time(iters, base_once, restore);
        row(
            backend,
            &format!("bulk soft-delete of {count} by id"),
            ours,
            base,
            "baseline: one UPDATE, no audit events",
        );
        if matches!(backend, Backend::Sqlite) {
            // The same work until the log is copied into the database: our commit leaves the
            // copy to a background thread, the baseline's commit does it inline.
            let ours = time(
                iters,
                || {
                    ours_once();
                    settle_wal(&baseline);
                },
                restore,
            );
            let base = time(
                iters,
                || {
                    base_once();
                    settle_wal(&baseline);
                },
                restore,
            );
            row(
                backend,
                &format!("bulk soft-delete of {count} by id, until checkpointed"),
                ours,
                base,
                "both: then a TRUNCATE checkpoint",
            );
        }
    }

    if wants("lookup") {
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
    for &backend in backends.iter().filter(|_| wants("export")) {
        if backend == Backend::Postgres && std::env::var("USERMGMT_BENCH_POSTGRES_URL").is_err() {
            continue;
        }
        // Three alternating runs per size (one process each): the few MB of heap move by
        // ±1 MB run to run whatever the size, so one run each could not show a ratio.
        let (mut small_runs, mut large_runs) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            small_runs.push(export_rss(backend, small));
            large_runs.push(export_rss(backend, users));
        }
        let middle = |runs: &mut Vec<(u64, u64, usize)>| {
            runs.sort_unstable();
            let spread = format!(
                "{:.1}–{:.1}",
                runs[0].0 as f64 / 1024.0,
                runs[runs.len() - 1].0 as f64 / 1024.0
            );
            (runs[runs.len() / 2], spread)
        };
        let ((small_anon, small_total, small_rows), small_spread) = middle(&mut small_runs);
        let ((large_anon, large_total, large_rows), large_spread) = middle(&mut large_runs);
        let mb = |kb: u64| kb as f64 / 1024.0;
        println!(
            "| {} | export peak anonymous RSS, median of 3 | {:.1} MB at {large_rows} rows ({large_spread} MB) | {:.1} MB at {small_rows} rows ({small_spread} MB) | {:.2} | peak RSS incl. mapped database pages: {:.1} MB vs {:.1} MB |",
            backend.label(),
            mb(large_anon),
            mb(small_anon),
            large_anon as f64 / small_anon as f64,
            mb(large_total),
            mb(small_total)
        );
    }
}
