//! The list, search and paging benchmarks at a million users on both backends, each case
//! against the equivalent hand-written SQL on the same database, indexes and statement cache,
//! measured in the same run.
//!
//! Data: [`usermgmt_testkit::realistic`] (seed 42), N users (default 1,000,000;
//! `USERMGMT_BENCH_USERS`), loaded once through `Storage::insert_users` (SQLite: prepared
//! inserts in 10k-user transactions; PostgreSQL: COPY) and cached: the SQLite file under
//! `target/bench-data/`, the PostgreSQL database `usermgmt_million_<N>` on the server named by
//! `USERMGMT_BENCH_POSTGRES_URL` (without it only SQLite runs).
//!
//! Harness: plain timing loops. Each round runs every case (ours and its baseline) once in a
//! fresh random order; `USERMGMT_BENCH_ITERS` rounds (default 15) after 2 warm-up rounds. The
//! baseline reads the page's user columns and the page users' roles (and `count(*)` when the
//! case has a total); ours also authorises (reads the caller's grants), plans, decodes into
//! `User`s and loads each page user's roles, direct grants, expertise and OAuth providers.
//! `USERMGMT_BENCH_ONLY=<text>` keeps the cases whose name contains the text;
//! `USERMGMT_BENCH_BACKEND=sqlite|postgres` runs one backend.
//!
//! Run: `cargo bench --bench million --features postgres`.

// A benchmark harness: failing loudly on a broken set-up is the point.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

#[path = "support/admin.rs"]
mod admin;
#[path = "support/million_cases.rs"]
mod cases;
#[path = "support/million_data.rs"]
mod data;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cases::{Dialect, baseline_sql, cases, cursor_cases};
use data::{TENANT, env_usize};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use usermgmt::filter::ListQuery;
use usermgmt::storage::EnrollmentSource;
use usermgmt::{Principal, UserService};

/// A timed operation.
type Run<'a> = Box<dyn FnMut() + 'a>;

/// Medians of every case's ours/baseline pair over `iters` shuffled rounds.
fn measure(label: &str, mut runs: Vec<(String, Run<'_>, Run<'_>)>, iters: usize) -> Vec<String> {
    let mut samples: Vec<(Vec<Duration>, Vec<Duration>)> =
        vec![(Vec::new(), Vec::new()); runs.len()];
    let mut order: Vec<usize> = (0..runs.len() * 2).collect();
    let mut rng = StdRng::seed_from_u64(7);
    for round in 0..iters + 2 {
        order.shuffle(&mut rng);
        for &slot in &order {
            let (_, ours, baseline) = &mut runs[slot / 2];
            let started = Instant::now();
            if slot % 2 == 0 {
                ours()
            } else {
                baseline()
            }
            let elapsed = started.elapsed();
            if round >= 2 {
                let pair = &mut samples[slot / 2];
                if slot % 2 == 0 {
                    pair.0.push(elapsed)
                } else {
                    pair.1.push(elapsed)
                }
            }
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let mut rows = Vec::new();
    for ((name, _, _), (mut ours, mut base)) in runs.iter().zip(samples) {
        let (o, b) = (median(&mut ours), median(&mut base));
        let row = format!(
            "| {label} | {name} | {:.2} ms | {:.2} ms | {:.2} |",
            o.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3,
            o.as_secs_f64() / b.as_secs_f64()
        );
        println!("{row}");
        rows.push(row);
    }
    rows
}

pub(crate) fn keep(name: &str) -> bool {
    std::env::var("USERMGMT_BENCH_ONLY").map_or(true, |only| name.contains(&only))
}

/// Our list call for a case.
fn ours<'a>(
    runtime: &'a tokio::runtime::Runtime,
    service: &'a UserService,
    principal: &'a Principal,
    query: ListQuery,
) -> Run<'a> {
    Box::new(move || {
        let page = runtime
            .block_on(service.list_users(principal, query.clone()))
            .unwrap();
        std::hint::black_box(page);
    })
}

/// How a backend runs the hand-written SQL of a case.
trait HandWritten {
    /// The rows the page query returns.
    fn rows(&self, page: &str) -> usize;
    /// The count query's answer.
    fn count(&self, count: &str) -> i64;
    /// The timed baseline: the page (every column read), the page users' roles, the count.
    fn page_with_roles(&self, page: &str, count: Option<&str>);
}

/// SQLite, on one connection with the library's settings.
struct SqliteSql<'a>(&'a rusqlite::Connection);

impl HandWritten for SqliteSql<'_> {
    fn rows(&self, page: &str) -> usize {
        let mut stmt = self.0.prepare(page).unwrap();
        stmt.query_map([], |_| Ok(())).unwrap().count()
    }

    fn count(&self, count: &str) -> i64 {
        self.0
            .prepare_cached(count)
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .unwrap()
    }

    fn page_with_roles(&self, page: &str, count: Option<&str>) {
        let mut stmt = self.0.prepare_cached(page).unwrap();
        let columns = stmt.column_count();
        let seqs: Vec<i64> = stmt
            .query_map([], |r| {
                for i in 0..columns - 1 {
                    std::hint::black_box(rusqlite::types::Value::from(r.get_ref(i)?));
                }
                r.get(columns - 1)
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let roles = self
            .0
            .prepare_cached(
                "SELECT ur.user_seq, r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                 WHERE ur.user_seq IN (SELECT value FROM json_each(?1))",
            )
            .unwrap()
            .query_map([serde_json::to_string(&seqs).unwrap()], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .unwrap()
            .count();
        std::hint::black_box(roles);
        if let Some(count) = count {
            std::hint::black_box(self.count(count));
        }
    }
}

/// PostgreSQL, on a one-connection pool (so prepared statements stay cached).
struct PostgresSql<'a> {
    runtime: &'a tokio::runtime::Runtime,
    pool: &'a sqlx::PgPool,
}

impl HandWritten for PostgresSql<'_> {
    fn rows(&self, page: &str) -> usize {
        let query = sqlx::query(sqlx::AssertSqlSafe(page.to_owned()));
        self.runtime
            .block_on(query.fetch_all(self.pool))
            .unwrap()
            .len()
    }

    fn count(&self, count: &str) -> i64 {
        let query = sqlx::query_scalar(sqlx::AssertSqlSafe(count.to_owned()));
        self.runtime.block_on(query.fetch_one(self.pool)).unwrap()
    }

    fn page_with_roles(&self, page: &str, count: Option<&str>) {
        use sqlx::Row;
        let rows = self
            .runtime
            .block_on(sqlx::query(sqlx::AssertSqlSafe(page.to_owned())).fetch_all(self.pool))
            .unwrap();
        let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.get(0)).collect();
        let roles = sqlx::query(
            "SELECT ur.user_id, r.name FROM user_roles ur JOIN roles r \
             ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id \
             WHERE ur.tenant_id = $1 AND ur.user_id = ANY($2)",
        )
        .bind(TENANT)
        .bind(&ids);
        let roles = self.runtime.block_on(roles.fetch_all(self.pool)).unwrap();
        std::hint::black_box(roles.len());
        if let Some(count) = count {
            std::hint::black_box(self.count(count));
        }
    }
}

/// Every kept case as ours and its baseline, after checking that both answer the same number
/// of rows and the same total (ours counts the bench admin too when the filters let it in).
fn runs<'a>(
    runtime: &'a tokio::runtime::Runtime,
    service: &'a UserService,
    principal: &'a Principal,
    dialect: Dialect,
    hand: &'a dyn HandWritten,
) -> Vec<(String, Run<'a>, Run<'a>)> {
    let mut runs: Vec<(String, Run<'a>, Run<'a>)> = Vec::new();
    let cursors = cursor_cases(runtime, service, principal);
    for case in cases().into_iter().filter(|c| keep(&c.name)).chain(cursors) {
        let (page, count) = baseline_sql(&case, dialect);
        let ours_page = runtime
            .block_on(service.list_users(principal, case.query.clone()))
            .unwrap();
        assert_eq!(ours_page.items.len(), hand.rows(&page), "{}", case.name);
        if let Some(count) = &count {
            let (total, n) = (ours_page.total.unwrap() as i64, hand.count(count));
            assert!((total - n).abs() <= 1, "{}: {total} vs {n}", case.name);
        }
        let baseline: Run<'a> = Box::new(move || hand.page_with_roles(&page, count.as_deref()));
        runs.push((
            case.name.clone(),
            ours(runtime, service, principal, case.query),
            baseline,
        ));
    }
    runs
}

fn main() {
    let users = env_usize("USERMGMT_BENCH_USERS", 1_000_000);
    let iters = env_usize("USERMGMT_BENCH_ITERS", 15);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("| backend | case | ours (median) | hand-written SQL (median) | ratio |");
    println!("|---|---|---|---|---|");

    let only = std::env::var("USERMGMT_BENCH_BACKEND").unwrap_or_default();
    if only != "postgres" {
        sqlite(&runtime, users, iters);
    }
    if only != "sqlite" {
        postgres(&runtime, users, iters);
    }
}

fn sqlite(runtime: &tokio::runtime::Runtime, users: usize, iters: usize) {
    let (path, learning) = data::sqlite_dataset(runtime, users);
    let layout = usermgmt::storage::EnrollmentLayout::default();
    // SQLite asks an enrollment source (the learning database) for the enrollment filters;
    // with its change feed installed the counting index holds the enrollments.
    let source = usermgmt::sqlite::SqliteEnrollmentSource::new(&learning, layout.clone()).unwrap();
    source.install_change_feed().unwrap();
    let open = |attached: bool| {
        let options = usermgmt::sqlite::SqliteOptions {
            attached_enrollments: attached.then(|| usermgmt::sqlite::AttachedEnrollments {
                path: learning.clone(),
                layout: layout.clone(),
                timeout: Duration::from_secs(60),
            }),
            ..Default::default()
        };
        let storage = runtime
            .block_on(usermgmt::sqlite::SqliteStorage::open_with(&path, options))
            .unwrap();
        Arc::new(storage) as Arc<dyn usermgmt::storage::Storage>
    };
    let source: Arc<dyn EnrollmentSource> = Arc::new(source);
    let (service, principal) =
        runtime.block_on(data::service_over(open(false), Some(source.clone())));
    warm(runtime, &service, "SQLite");
    let conn = rusqlite::Connection::open(&path).unwrap();
    // The library's connection settings (page cache, memory map), so the comparison is of the SQL.
    conn.execute_batch(
        "PRAGMA cache_size = -32000; PRAGMA temp_store = MEMORY; PRAGMA mmap_size = 1073741824;",
    )
    .unwrap();
    conn.execute(
        "ATTACH DATABASE ?1 AS learning",
        [learning.to_str().unwrap()],
    )
    .unwrap();
    let hand = SqliteSql(&conn);
    let runs = runs(runtime, &service, &principal, Dialect::Sqlite, &hand);
    measure("SQLite", runs, iters);
    let modes = [
        (
            "source, SQL",
            data::service_over(open(false), Some(Arc::new(WithoutFeed(source.clone())))),
        ),
        (
            "source, index",
            data::service_over(open(false), Some(source)),
        ),
        ("push-down, index", data::service_over(open(true), None)),
    ];
    enrollment_modes(runtime, "SQLite", modes, Dialect::Sqlite, &hand, iters);
}

fn postgres(runtime: &tokio::runtime::Runtime, users: usize, iters: usize) {
    let Some(db_url) = data::pg_dataset(runtime, users) else {
        return;
    };
    let layout = usermgmt::storage::EnrollmentLayout::default();
    let connect = |pushdown: bool| {
        // PostgreSQL evaluates the enrollment filters in the list query (push-down), or asks
        // the learning table of the same database as a source.
        let options = usermgmt::postgres::PgOptions {
            enrollments_in_database: pushdown.then(|| layout.clone()),
            enrollments_timeout: Duration::from_secs(60),
            ..Default::default()
        };
        let storage = runtime
            .block_on(usermgmt::postgres::PgStorage::connect_with(
                &db_url, options,
            ))
            .unwrap();
        Arc::new(storage) as Arc<dyn usermgmt::storage::Storage>
    };
    let source: Arc<dyn EnrollmentSource> = runtime.block_on(async {
        let source = usermgmt::postgres::PgEnrollmentSource::new(&db_url, layout.clone()).unwrap();
        source.install_change_feed().await.unwrap();
        Arc::new(source)
    });
    let (service, principal) = runtime.block_on(data::service_over(connect(true), None));
    warm(runtime, &service, "PostgreSQL");
    // One connection, so the baseline's prepared statements stay cached.
    let pool = runtime
        .block_on(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&db_url),
        )
        .unwrap();
    let hand = PostgresSql {
        runtime,
        pool: &pool,
    };
    let runs = runs(runtime, &service, &principal, Dialect::Postgres, &hand);
    measure("PostgreSQL", runs, iters);
    let modes = [
        (
            "source, SQL",
            data::service_over(connect(false), Some(Arc::new(WithoutFeed(source.clone())))),
        ),
        (
            "source, index",
            data::service_over(connect(false), Some(source)),
        ),
        ("push-down, index", data::service_over(connect(true), None)),
    ];
    enrollment_modes(
        runtime,
        "PostgreSQL",
        modes,
        Dialect::Postgres,
        &hand,
        iters,
    );
}

/// Reads the counting index (and the enrollments', with a feed) ahead, as a server does at
/// start-up.
fn warm(runtime: &tokio::runtime::Runtime, service: &UserService, label: &str) {
    let started = Instant::now();
    let tenant = usermgmt::model::TenantId::new(TENANT).unwrap();
    runtime.block_on(service.warm_counts(&tenant)).unwrap();
    let size = service.count_index_size(&tenant).unwrap();
    eprintln!(
        "{label}: indexes built in {:.1?}: {} users ({:.0} MiB), {} enrollments ({:.0} MiB)",
        started.elapsed(),
        size.users,
        size.bytes as f64 / 1048576.0,
        size.enrollments,
        size.enrollment_bytes as f64 / 1048576.0
    );
}

/// An enrollment source without its change feed: the filters are asked of the source's SQL
/// (the counting index still counts and pages over its answer).
struct WithoutFeed(Arc<dyn EnrollmentSource>);

#[async_trait::async_trait]
impl EnrollmentSource for WithoutFeed {
    async fn matching_users(
        &self,
        tenant: &usermgmt::model::TenantId,
        filters: &usermgmt::filter::UserFilters,
    ) -> usermgmt::Result<usermgmt::filter::EnrollmentMatch> {
        self.0.matching_users(tenant, filters).await
    }
}

/// The enrollment cases through each way of answering them, each against the same
/// hand-written SQL, in the same rounds.
fn enrollment_modes<F: std::future::Future<Output = (UserService, Principal)>>(
    runtime: &tokio::runtime::Runtime,
    label: &str,
    modes: [(&str, F); 3],
    dialect: Dialect,
    hand: &dyn HandWritten,
    iters: usize,
) {
    let services: Vec<(String, UserService, Principal)> = modes
        .into_iter()
        .map(|(mode, made)| {
            let (service, principal) = runtime.block_on(made);
            warm(runtime, &service, &format!("{label} {mode}"));
            (mode.to_owned(), service, principal)
        })
        .collect();
    let mut runs: Vec<(String, Run<'_>, Run<'_>)> = Vec::new();
    for case in cases()
        .into_iter()
        .filter(|c| c.name.contains("enrollment"))
    {
        for (mode, service, principal) in &services {
            let (page, count) = baseline_sql(&case, dialect);
            let answer = runtime
                .block_on(service.list_users(principal, case.query.clone()))
                .unwrap();
            assert_eq!(answer.items.len(), hand.rows(&page), "{}", case.name);
            let count = count.unwrap();
            let (total, n) = (answer.total.unwrap() as i64, hand.count(&count));
            assert!(
                (total - n).abs() <= 1,
                "{mode} {}: {total} vs {n}",
                case.name
            );
            runs.push((
                format!("{} — {mode}", case.name),
                ours(runtime, service, principal, case.query.clone()),
                Box::new(move || hand.page_with_roles(&page, Some(&count))),
            ));
        }
    }
    measure(label, runs, iters);
}
