//! A list page with two enrollment filters (`enrollment_status=active`, `progress_min=50`) and
//! its total, over 100,000 users with 500,000 enrollments (5 each), on both backends and in
//! both modes: intersect (an enrollment source answers with user ids) and push-down (the list
//! query joins the learning table). Medians of `USERMGMT_BENCH_ITERS` (default 20) runs.
//!
//! Uses the user data sets of `benches/backends.rs` (run it first); the PostgreSQL server is
//! `USERMGMT_BENCH_POSTGRES_URL`.
//!
//! Run: `cargo bench --bench enrollments --features postgres`.

// A benchmark harness: failing loudly on a broken set-up is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "support/admin.rs"]
mod admin;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use sqlx::Connection;
use usermgmt::filter::{ListQuery, UserFilters};
use usermgmt::model::{EnrollmentStatus, TenantId};
use usermgmt::password::PasswordPolicy;
use usermgmt::service::EnrollmentOptions;
use usermgmt::storage::{EnrollmentLayout, EnrollmentSource, Storage};
use usermgmt::{Principal, ServiceConfig, UserService};

const USERS: usize = 100_000;
const PER_USER: usize = 5;

/// (user id, program, type, status, progress, seconds, last activity in Unix seconds)
type Row = (uuid::Uuid, String, String, &'static str, i64, i64, i64);

fn enrollments(users: &[uuid::Uuid]) -> Vec<Row> {
    let mut rng = StdRng::seed_from_u64(5);
    let now = Utc
        .with_ymd_and_hms(2026, 3, 1, 9, 30, 0)
        .single()
        .unwrap()
        .timestamp();
    let mut out = Vec::with_capacity(users.len() * PER_USER);
    for &user in users {
        for _ in 0..PER_USER {
            let status = EnrollmentStatus::ALL.choose(&mut rng).unwrap().as_str();
            out.push((
                user,
                format!("p{}", rng.random_range(0..2_000)),
                (*["course", "bootcamp", "workshop"].choose(&mut rng).unwrap()).to_owned(),
                status,
                rng.random_range(0..=100),
                rng.random_range(0..50_000),
                now - rng.random_range(0..400 * 86_400),
            ));
        }
    }
    out
}

fn query() -> ListQuery {
    let filters = UserFilters {
        enrollment: usermgmt::filter::EnrollmentFilters {
            enrollment_status: vec![EnrollmentStatus::Active],
            progress_min: Some(50),
            ..Default::default()
        },
        ..Default::default()
    };
    ListQuery {
        filters,
        ..Default::default()
    }
}

/// Median of `iters` timed runs of `run` (after two warm-up runs); `run` returns the total.
fn median(label: &str, iters: usize, mut run: impl FnMut() -> i64) -> i64 {
    let mut samples = Vec::new();
    let mut total = 0;
    for round in 0..iters + 2 {
        let started = Instant::now();
        total = run();
        if round >= 2 {
            samples.push(started.elapsed());
        }
    }
    samples.sort();
    let p50: Duration = samples[samples.len() / 2];
    println!("{label:<32} p50 {p50:>10.2?}  total {total}");
    total
}

/// The page and its total through the service.
fn measure(
    runtime: &tokio::runtime::Runtime,
    label: &str,
    service: &UserService,
    principal: &Principal,
    iters: usize,
) -> i64 {
    median(label, iters, || {
        let page = runtime
            .block_on(service.list_users(principal, query()))
            .expect("list");
        assert!(
            page.skipped_filters.is_empty(),
            "{label}: {:?}",
            page.skipped_filters
        );
        page.total.expect("total") as i64
    })
}

/// The hand-written page and count for the same filters: the semi-join an engineer would write
/// against the learning table, with no authorisation, planning or related lists.
const BASELINE_SQLITE: &str = "FROM users u WHERE u.tenant_id = 'bench' AND u.deleted_at IS NULL \
     AND u.id IN (SELECT unhex(replace(e.user_id, '-', '')) FROM learning.enrollments e \
     WHERE e.tenant_id = 'bench' AND e.status = 'active' AND e.progress >= 50)";
const BASELINE_POSTGRES: &str = "FROM users u WHERE u.tenant_id = 'bench' AND u.deleted_at IS NULL \
     AND u.id IN (SELECT e.user_id FROM enrollments e \
     WHERE e.tenant_id = 'bench' AND e.status = 'active' AND e.progress >= 50)";

fn baseline_sqlite(users_db: &Path, learning: &Path, iters: usize) -> i64 {
    let conn = rusqlite::Connection::open(users_db).unwrap();
    // The cache settings the storage's connections use, so the comparison is of the SQL.
    conn.execute_batch("PRAGMA cache_size = -32000; PRAGMA temp_store = MEMORY;")
        .unwrap();
    conn.execute(
        "ATTACH DATABASE ?1 AS learning",
        [learning.to_str().unwrap()],
    )
    .unwrap();
    median("sqlite, hand-written", iters, || {
        let page = format!(
            "SELECT u.id, u.name, u.email {BASELINE_SQLITE} ORDER BY u.created_at DESC, u.id DESC LIMIT 21"
        );
        let mut stmt = conn.prepare_cached(&page).unwrap();
        let rows = stmt
            .query_map([], |r| r.get::<_, Vec<u8>>(0))
            .unwrap()
            .count();
        std::hint::black_box(rows);
        conn.query_row(&format!("SELECT count(*) {BASELINE_SQLITE}"), [], |r| {
            r.get(0)
        })
        .unwrap()
    })
}

fn baseline_postgres(runtime: &tokio::runtime::Runtime, users_url: &str, iters: usize) -> i64 {
    let mut conn = runtime
        .block_on(sqlx::PgConnection::connect(users_url))
        .unwrap();
    median("postgres, hand-written", iters, || {
        runtime.block_on(async {
            let page = format!(
                "SELECT u.id, u.name, u.email {BASELINE_POSTGRES} ORDER BY u.created_at DESC, u.id DESC LIMIT 21"
            );
            let rows: Vec<(uuid::Uuid, String, Option<String>)> =
                sqlx::query_as(sqlx::AssertSqlSafe(page)).fetch_all(&mut conn).await.unwrap();
            std::hint::black_box(rows);
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) {BASELINE_POSTGRES}")))
                .fetch_one(&mut conn)
                .await
                .unwrap()
        })
    })
}

fn sqlite_learning(path: &Path, rows: &[Row]) {
    if path.exists() {
        return;
    }
    let mut conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE enrollments (tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, program_id TEXT NOT NULL, \
         program_type TEXT NOT NULL, status TEXT NOT NULL, progress INTEGER NOT NULL, time_spent_seconds INTEGER NOT NULL, \
         last_activity_at INTEGER); CREATE INDEX enrollments_by_status ON enrollments (tenant_id, status, progress);",
    )
    .unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut stmt = tx
            .prepare("INSERT INTO enrollments VALUES ('bench', ?1, ?2, ?3, ?4, ?5, ?6, ?7)")
            .unwrap();
        for r in rows {
            stmt.execute(rusqlite::params![
                r.0.to_string(),
                r.1,
                r.2,
                r.3,
                r.4,
                r.5,
                r.6
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
}

async fn pg_learning(url: &str, rows: &[Row]) {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('enrollments') IS NOT NULL")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    if exists {
        return;
    }
    sqlx::raw_sql(
        "CREATE TABLE enrollments (tenant_id text NOT NULL, user_id uuid NOT NULL, program_id text NOT NULL, \
         program_type text NOT NULL, status text NOT NULL, progress integer NOT NULL, time_spent_seconds bigint NOT NULL, \
         last_activity_at timestamptz); CREATE INDEX enrollments_by_status ON enrollments (tenant_id, status, progress);",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    for chunk in rows.chunks(50_000) {
        sqlx::query(
            "INSERT INTO enrollments SELECT 'bench', u, p, t, s, g, ts, to_timestamp(la) FROM unnest($1::uuid[], $2::text[], \
             $3::text[], $4::text[], $5::int[], $6::bigint[], $7::bigint[]) AS x(u, p, t, s, g, ts, la)",
        )
        .bind(chunk.iter().map(|r| r.0).collect::<Vec<_>>())
        .bind(chunk.iter().map(|r| r.1.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|r| r.2.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|r| r.3.to_owned()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|r| r.4 as i32).collect::<Vec<_>>())
        .bind(chunk.iter().map(|r| r.5).collect::<Vec<_>>())
        .bind(chunk.iter().map(|r| r.6).collect::<Vec<_>>())
        .execute(&mut conn)
        .await
        .unwrap();
    }
    sqlx::raw_sql("ANALYZE enrollments")
        .execute(&mut conn)
        .await
        .unwrap();
}

async fn service_over(
    storage: Arc<dyn Storage>,
    source: Option<Arc<dyn EnrollmentSource>>,
) -> (UserService, Principal) {
    let config = ServiceConfig {
        password: PasswordPolicy::insecure_fast_for_tests(),
        ..ServiceConfig::default()
    };
    let mut service = UserService::with_config(storage, config);
    if let Some(source) = source {
        service = service.with_enrollment_source(
            source,
            EnrollmentOptions {
                timeout: Duration::from_secs(30),
                strict: true,
            },
        );
    }
    let tenant = TenantId::new("bench").unwrap();
    let principal = admin::bench_admin(&service, tenant).await;
    (service, principal)
}

fn main() {
    let iters = std::env::var("USERMGMT_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let users_db = dir.join(format!("backends-{USERS}-v1.db"));
    assert!(
        users_db.exists(),
        "run `cargo bench --bench backends` first"
    );
    let ids: Vec<uuid::Uuid> = rusqlite::Connection::open(&users_db)
        .unwrap()
        .prepare("SELECT id FROM users WHERE tenant_id = 'bench' ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let rows = enrollments(&ids);
    println!("{} users, {} enrollments", ids.len(), rows.len());
    let learning = dir.join("learning-500000-v1.db");
    sqlite_learning(&learning, &rows);

    let layout = EnrollmentLayout::default();
    let source = usermgmt::sqlite::SqliteEnrollmentSource::new(&learning, layout.clone()).unwrap();
    let storage = runtime
        .block_on(usermgmt::sqlite::SqliteStorage::open(&users_db))
        .unwrap();
    let (service, principal) =
        runtime.block_on(service_over(Arc::new(storage), Some(Arc::new(source))));
    let expected = baseline_sqlite(&users_db, &learning, iters);
    let total = measure(&runtime, "sqlite, intersect", &service, &principal, iters);
    assert_eq!(total, expected);
    let options = usermgmt::sqlite::SqliteOptions {
        attached_enrollments: Some(usermgmt::sqlite::AttachedEnrollments {
            path: learning.clone(),
            layout: layout.clone(),
            timeout: Duration::from_secs(30),
        }),
        ..Default::default()
    };
    let storage = runtime
        .block_on(usermgmt::sqlite::SqliteStorage::open_with(
            &users_db, options,
        ))
        .unwrap();
    let (service, principal) = runtime.block_on(service_over(Arc::new(storage), None));
    let total = measure(&runtime, "sqlite, push-down", &service, &principal, iters);
    assert_eq!(total, expected);

    let Ok(url) = std::env::var("USERMGMT_BENCH_POSTGRES_URL") else {
        println!("postgres: USERMGMT_BENCH_POSTGRES_URL not set; skipped");
        return;
    };
    let (base, _) = url.rsplit_once('/').unwrap();
    let users_url = format!("{base}/usermgmt_bench_{USERS}");
    let learning_url = format!("{base}/usermgmt_learning_bench");
    runtime.block_on(async {
        // The PostgreSQL data set has its own user ids: the enrollments are generated over them
        // with the same seed, so both backends see the same distribution.
        let mut users = sqlx::PgConnection::connect(&users_url).await.unwrap();
        let ids: Vec<uuid::Uuid> =
            sqlx::query_scalar("SELECT id FROM users WHERE tenant_id = 'bench' ORDER BY id")
                .fetch_all(&mut users)
                .await
                .unwrap();
        let rows = enrollments(&ids);
        let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'usermgmt_learning_bench')",
        )
        .fetch_one(&mut admin)
        .await
        .unwrap();
        if !exists {
            sqlx::raw_sql("CREATE DATABASE usermgmt_learning_bench")
                .execute(&mut admin)
                .await
                .unwrap();
        }
        pg_learning(&learning_url, &rows).await;
        pg_learning(&users_url, &rows).await;
    });
    // The source's lazy pool must be created inside the runtime.
    let source = runtime
        .block_on(async {
            usermgmt::postgres::PgEnrollmentSource::new(&learning_url, layout.clone())
        })
        .unwrap();
    let storage = runtime
        .block_on(usermgmt::postgres::PgStorage::connect(&users_url))
        .unwrap();
    let (service, principal) =
        runtime.block_on(service_over(Arc::new(storage), Some(Arc::new(source))));
    let expected = baseline_postgres(&runtime, &users_url, iters);
    let total = measure(&runtime, "postgres, intersect", &service, &principal, iters);
    assert_eq!(total, expected);
    let options = usermgmt::postgres::PgOptions {
        enrollments_in_database: Some(layout),
        enrollments_timeout: Duration::from_secs(30),
        ..Default::default()
    };
    let storage = runtime
        .block_on(usermgmt::postgres::PgStorage::connect_with(
            &users_url, options,
        ))
        .unwrap();
    let (service, principal) = runtime.block_on(service_over(Arc::new(storage), None));
    let total = measure(&runtime, "postgres, push-down", &service, &principal, iters);
    assert_eq!(total, expected);
}
