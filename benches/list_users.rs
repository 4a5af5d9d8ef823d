//! List-page benchmark on SQLite over N generated users (default 100,000;
//! `USERMGMT_BENCH_USERS`): a page with three filters (status, type, country) and
//!
//! - a selective search term, against the same SQL hand-written (trigram index driving);
//! - a non-selective search term, against a hand-written plain scan;
//! - no search, against the same SQL hand-written;
//!
//! each with and without the total, on the same database, indexes and statement cache,
//! measured in the same run.
//!
//! Harness: plain timing loops (`harness = false`): 5 warm-up rounds, then
//! `USERMGMT_BENCH_ITERS` (default 60) timed rounds, each round running every case once in
//! a fresh random order (so noise, and cache damage from heavy cases, hits every case alike); medians and p90 are printed with
//! the ratio ours / baseline. The generated database is cached under `target/bench-data/`.
//!
//! Run: `cargo bench --bench list_users` (`USERMGMT_BENCH_ONLY=<text>` keeps the scenarios whose
//! name contains the text).

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
use usermgmt::filter::{ListQuery, UserFilters};
use usermgmt::model::{Status, TenantId};
use usermgmt::password::PasswordPolicy;
use usermgmt::sqlite::SqliteStorage;
use usermgmt::storage::Storage;
use usermgmt::{ServiceConfig, UserService};
use usermgmt_testkit::ManualClock;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One list page measured against its hand-written equivalent.
struct Scenario {
    name: &'static str,
    search: Option<&'static str>,
    /// `FROM` and `WHERE` of the hand-written SQL.
    baseline_from: &'static str,
    baseline_where: String,
}

const FILTERS_SQL: &str = "u.tenant_id = 'bench' AND u.status = 'active' AND u.is_learner = 1 AND u.country IN ('DE', 'US')";

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "3 filters + selective search \"user123\"",
            search: Some("user123"),
            baseline_from: "users_search CROSS JOIN users u ON u.seq = users_search.rowid",
            baseline_where: format!(
                "{FILTERS_SQL} AND users_search MATCH '\"use\" AND \"ser\" AND \"er1\" AND \"r12\" AND \"123\"' \
                 AND instr(u.search_text, 'user123') > 0"
            ),
        },
        Scenario {
            name: "3 filters + common search \"example\"",
            search: Some("example"),
            baseline_from: "users u",
            baseline_where: format!("{FILTERS_SQL} AND instr(u.search_text, 'example') > 0"),
        },
        Scenario {
            name: "3 filters, no search",
            search: None,
            baseline_from: "users u",
            baseline_where: FILTERS_SQL.to_owned(),
        },
    ]
}

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

/// Runs the hand-written page (and count) query; no authorisation, planning or related lists.
fn baseline_page(conn: &rusqlite::Connection, scenario: &Scenario, include_total: bool) -> usize {
    let sql = format!(
        "SELECT u.id, u.name, u.email, u.phone, u.username, u.unique_id, u.status, u.is_admin, \
         u.is_instructor, u.is_learner, u.email_verified, u.phone_verified, u.auth_method, \
         u.password_hash IS NOT NULL, u.avatar_url, u.bio, u.country, u.city, u.state, u.timezone, \
         u.locale, u.gender, u.designation, u.date_of_birth, u.created_at, u.updated_at, \
         u.last_login_at, u.deleted_at, u.failed_login_attempts, u.locked_until, u.version \
         FROM {} WHERE {} ORDER BY u.created_at DESC, u.id DESC LIMIT 21",
        scenario.baseline_from, scenario.baseline_where
    );
    let mut stmt = conn.prepare_cached(&sql).expect("baseline page");
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })
        .expect("baseline rows")
        .count();
    if include_total {
        let sql = format!(
            "SELECT count(*) FROM {} WHERE {}",
            scenario.baseline_from, scenario.baseline_where
        );
        let count: i64 = conn
            .prepare_cached(&sql)
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .expect("count");
        std::hint::black_box(count);
    }
    rows
}

async fn open_dataset(users: usize) -> (PathBuf, SqliteStorage) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).expect("bench data dir");
    let path = dir.join(format!("list-{users}-v3.db"));
    let fresh = !path.exists();
    let storage = SqliteStorage::open(&path).await.expect("open");
    if fresh {
        let started = Instant::now();
        let tenant = TenantId::new("bench").expect("tenant");
        let now = Utc
            .with_ymd_and_hms(2026, 3, 1, 9, 30, 0)
            .single()
            .expect("time");
        usermgmt_testkit::dataset::load(&storage as &dyn Storage, 42, &tenant, users, now).await;
        eprintln!("generated {users} users in {:.1?}", started.elapsed());
    }
    (path, storage)
}

fn median_and_p90(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    (samples[samples.len() / 2], samples[samples.len() * 9 / 10])
}

fn main() {
    let users = env_usize("USERMGMT_BENCH_USERS", 100_000);
    let iters = env_usize("USERMGMT_BENCH_ITERS", 60);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (path, storage) = runtime.block_on(open_dataset(users));
    let tenant = TenantId::new("bench").expect("tenant");
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
    let principal = runtime.block_on(admin::bench_admin(&service, tenant));
    let conn = rusqlite::Connection::open(&path).expect("baseline connection");
    let ours = |search: Option<&str>, include_total: bool| {
        runtime
            .block_on(service.list_users(&principal, query(search, include_total)))
            .expect("list")
    };

    let only = std::env::var("USERMGMT_BENCH_ONLY").unwrap_or_default();
    let scenarios: Vec<Scenario> = scenarios()
        .into_iter()
        .filter(|s| s.name.contains(only.as_str()))
        .collect();
    println!("dataset: {users} users, {iters} timed rounds");
    for scenario in &scenarios {
        let page = ours(scenario.search, true);
        let ids: Vec<Vec<u8>> = page
            .items
            .iter()
            .map(|u| u.id.as_bytes().to_vec())
            .collect();
        let sql = format!(
            "SELECT u.id FROM {} WHERE {} ORDER BY u.created_at DESC, u.id DESC LIMIT 20",
            scenario.baseline_from, scenario.baseline_where
        );
        let expected: Vec<Vec<u8>> = conn
            .prepare(&sql)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(
            ids, expected,
            "{}: baseline and library disagree",
            scenario.name
        );
        println!(
            "  {}: page of {} rows, total {:?}",
            scenario.name,
            page.items.len(),
            page.total
        );
    }

    // Cases: for each scenario, (ours, baseline) × (with total, without total).
    let cases: Vec<(usize, bool, bool)> = (0..scenarios.len())
        .flat_map(|s| {
            [
                (s, true, true),
                (s, false, true),
                (s, true, false),
                (s, false, false),
            ]
        })
        .collect();
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(iters); cases.len()];
    let mut order: Vec<usize> = (0..cases.len()).collect();
    let mut rng = StdRng::seed_from_u64(7);
    for round in 0..iters + 5 {
        // A fresh random order every round, so no case always follows a heavy one.
        order.shuffle(&mut rng);
        for &case in &order {
            let (s, is_ours, total) = cases[case];
            let sample = &mut samples[case];
            let started = Instant::now();
            let rows = if is_ours {
                ours(scenarios[s].search, total).items.len()
            } else {
                baseline_page(&conn, &scenarios[s], total)
            };
            std::hint::black_box(rows);
            if round >= 5 {
                sample.push(started.elapsed());
            }
        }
    }
    let stats: Vec<(Duration, Duration)> = samples.iter_mut().map(|s| median_and_p90(s)).collect();
    println!(
        "\n{:<44} {:<14} {:>11} {:>11} {:>11} {:>11} {:>7}",
        "scenario", "total", "ours p50", "ours p90", "base p50", "base p90", "ratio"
    );
    for chunk in cases.chunks(2).zip(stats.chunks(2)) {
        let (s, _, total) = chunk.0[0];
        let (ours, base) = (chunk.1[0], chunk.1[1]);
        let ratio = ours.0.as_secs_f64() / base.0.as_secs_f64();
        println!(
            "{:<44} {:<14} {:>11.3?} {:>11.3?} {:>11.3?} {:>11.3?} {:>7.2}",
            scenarios[s].name,
            if total { "with total" } else { "without total" },
            ours.0,
            ours.1,
            base.0,
            base.1,
            ratio
        );
    }
}
