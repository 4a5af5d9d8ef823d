//! List-page benchmark on SQLite: a page with three filters and a search term over N
//! generated users (default 100,000; `USERMGMT_BENCH_USERS`), with and without the total,
//! against the equivalent hand-written SQL on the same database, indexes and statement
//! cache, measured in the same run.
//!
//! Harness: plain timing loops (`harness = false`): 5 warm-up runs, then
//! `USERMGMT_BENCH_ITERS` (default 60) timed runs per case, interleaved round-robin so
//! machine noise hits every case alike; medians and p90 are printed with the ratio
//! ours / baseline. The generated database is cached under `target/bench-data/`.
//!
//! Run: `cargo bench --bench list_users`.

// A benchmark harness: failing loudly on a broken set-up is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use usermgmt::filter::{ListQuery, UserFilters};
use usermgmt::model::{Status, TenantId};
use usermgmt::password::{Password, PasswordPolicy};
use usermgmt::sqlite::SqliteStorage;
use usermgmt::storage::Storage;
use usermgmt::{Principal, ServiceConfig, UserService};
use usermgmt_testkit::ManualClock;

const SEARCH: &str = "user123";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn query(include_total: bool) -> ListQuery {
    ListQuery {
        filters: UserFilters {
            status: Some(Status::Active),
            is_learner: Some(true),
            country: vec!["DE".into(), "US".into()],
            search: Some(SEARCH.into()),
            ..Default::default()
        },
        include_total,
        ..Default::default()
    }
}

/// The hand-written equivalent: the same page query (and count) with the same conditions,
/// driven by the trigram index (`CROSS JOIN` so the index is the outer loop), with no
/// authorisation, no planning and no related lists.
struct Baseline {
    conn: rusqlite::Connection,
    where_clause: String,
}

impl Baseline {
    fn new(path: &std::path::Path) -> Self {
        let conn = rusqlite::Connection::open(path).expect("baseline connection");
        let where_clause = format!(
            "u.tenant_id = 'bench' AND u.status = 'active' AND u.is_learner = 1 \
             AND u.country IN ('DE', 'US') \
             AND users_search MATCH '\"use\" AND \"ser\" AND \"er1\" AND \"r12\" AND \"123\"' \
             AND instr(u.search_text, '{SEARCH}') > 0"
        );
        Self { conn, where_clause }
    }

    fn page(&self, include_total: bool) -> usize {
        let sql = format!(
            "SELECT u.id, u.name, u.email, u.phone, u.username, u.unique_id, u.status, u.is_admin, \
             u.is_instructor, u.is_learner, u.email_verified, u.phone_verified, u.auth_method, \
             u.password_hash IS NOT NULL, u.avatar_url, u.bio, u.country, u.city, u.state, u.timezone, \
             u.locale, u.gender, u.designation, u.date_of_birth, u.created_at, u.updated_at, \
             u.last_login_at, u.deleted_at, u.failed_login_attempts, u.locked_until, u.version \
             FROM users_search CROSS JOIN users u ON u.seq = users_search.rowid WHERE {} ORDER BY u.created_at DESC, u.id DESC LIMIT 21",
            self.where_clause
        );
        let mut stmt = self.conn.prepare_cached(&sql).expect("baseline page");
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
            let count: i64 = self
                .conn
                .prepare_cached(&format!(
                    "SELECT count(*) FROM users_search CROSS JOIN users u ON u.seq = users_search.rowid WHERE {}",
                    self.where_clause
                ))
                .and_then(|mut s| s.query_row([], |r| r.get(0)))
                .expect("baseline count");
            std::hint::black_box(count);
        }
        rows
    }
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
    let admin = runtime
        .block_on(service.bootstrap_super_admin(
            &tenant,
            "Bench Admin",
            "admin@bench.test",
            Password::new("bench-password"),
        ))
        .expect("admin");
    let principal = Principal::user(tenant, admin.id);
    let baseline = Baseline::new(&path);

    let ours = |include_total: bool| {
        let page = runtime
            .block_on(service.list_users(&principal, query(include_total)))
            .expect("list");
        page.items.len()
    };
    let expected = runtime
        .block_on(service.list_users(&principal, query(true)))
        .expect("list");
    assert_eq!(
        baseline.page(true),
        expected.items.len(),
        "baseline and library disagree"
    );
    println!(
        "dataset: {users} users; page of {} rows, total {:?}",
        expected.items.len(),
        expected.total
    );

    let names = [
        "ours, with total",
        "baseline, with total",
        "ours, without total",
        "baseline, without total",
    ];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(iters); names.len()];
    for round in 0..iters + 5 {
        for (case, sample) in samples.iter_mut().enumerate() {
            let started = Instant::now();
            let rows = match case {
                0 => ours(true),
                1 => baseline.page(true),
                2 => ours(false),
                _ => baseline.page(false),
            };
            std::hint::black_box(rows);
            if round >= 5 {
                sample.push(started.elapsed());
            }
        }
    }
    let stats: Vec<(Duration, Duration)> = samples.iter_mut().map(|s| median_and_p90(s)).collect();
    println!("{:<26} {:>12} {:>12}", "case", "median", "p90");
    for (name, (median, p90)) in names.iter().zip(&stats) {
        println!("{name:<26} {:>12.3?} {:>12.3?}", median, p90);
    }
    for (ours, base, label) in [(0, 1, "with total"), (2, 3, "without total")] {
        let ratio = stats[ours].0.as_secs_f64() / stats[base].0.as_secs_f64();
        println!("ratio ours/baseline ({label}): {ratio:.2}");
    }
}
