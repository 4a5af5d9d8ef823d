//! The million-user data sets shared by `benches/million.rs` and `benches/million_ops.rs`:
//! [`usermgmt_testkit::realistic`] (seed 42) loaded once through `Storage::insert_users`
//! (SQLite: prepared inserts in 10k-user transactions; PostgreSQL: COPY) and cached — the
//! SQLite file and its learning database under `target/bench-data/`, the PostgreSQL database
//! `usermgmt_million_<N>_v1` (with its learning table `enrollments`) on the server named by
//! `USERMGMT_BENCH_POSTGRES_URL`.

// Each bench uses a part of this module.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use sqlx::{Connection, Executor};
use usermgmt::model::TenantId;
use usermgmt::password::PasswordPolicy;
use usermgmt::service::EnrollmentOptions;
use usermgmt::storage::{EnrollmentSource, Storage};
use usermgmt::{Principal, ServiceConfig, UserService};
use usermgmt_testkit::ManualClock;

/// The data sets' tenant.
pub(crate) const TENANT: &str = "bench";

/// The instant the data sets are generated relative to (and the services' clock).
pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).single().unwrap()
}

/// An environment variable as a number, or `default`.
pub(crate) fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The SQLite data set of `users` users: (users file, learning database file), created when
/// missing.
pub(crate) fn sqlite_dataset(
    runtime: &tokio::runtime::Runtime,
    users: usize,
) -> (PathBuf, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("million-{users}-v1.db"));
    let fresh = !path.exists();
    let storage = runtime
        .block_on(usermgmt::sqlite::SqliteStorage::open(&path))
        .unwrap();
    let storage: Arc<dyn Storage> = Arc::new(storage);
    if fresh {
        runtime.block_on(load(storage.as_ref(), users));
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("ANALYZE")
            .unwrap();
    }
    // The learning database, enrollment source of the SQLite runs (generated from the same
    // seed, so its user ids are the data set's).
    let learning = dir.join(format!("million-learning-{users}-v1.db"));
    if !learning.exists() {
        let tenant = TenantId::new(TENANT).unwrap();
        let enrollments = usermgmt_testkit::realistic::users(42, tenant.clone(), users, now())
            .flat_map(|g| g.enrollments);
        let rows = usermgmt_testkit::enrollments::write_sqlite_learning_db(
            &learning,
            &tenant,
            enrollments,
        )
        .unwrap();
        eprintln!("wrote {rows} enrollments");
    }
    (path, learning)
}

/// The URL of the PostgreSQL data set of `users` users, created when missing; `None` without
/// `USERMGMT_BENCH_POSTGRES_URL`.
pub(crate) fn pg_dataset(runtime: &tokio::runtime::Runtime, users: usize) -> Option<String> {
    let Ok(url) = std::env::var("USERMGMT_BENCH_POSTGRES_URL") else {
        eprintln!("USERMGMT_BENCH_POSTGRES_URL not set: PostgreSQL skipped");
        return None;
    };
    let database = format!("usermgmt_million_{users}_v1");
    let db_url = runtime.block_on(async {
        let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&database)
                .fetch_one(&mut admin)
                .await
                .unwrap();
        // The server URL names a database to connect to first; the data set gets its own.
        let (server, _) = url.rsplit_once('/').unwrap();
        let db_url = format!("{server}/{database}");
        if !exists {
            admin
                .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
                .await
                .unwrap();
            let storage = usermgmt::postgres::PgStorage::connect(&db_url)
                .await
                .unwrap();
            load(&storage, users).await;
            let mut conn = sqlx::PgConnection::connect(&db_url).await.unwrap();
            conn.execute("VACUUM ANALYZE").await.unwrap();
        }
        pg_learning(&db_url, users).await;
        db_url
    });
    Some(db_url)
}

/// A service over `storage` (fast password hashing, the data sets' clock) and its bootstrap
/// super-admin, with `source` as enrollment source when given.
pub(crate) async fn service_over(
    storage: Arc<dyn Storage>,
    source: Option<Arc<dyn EnrollmentSource>>,
) -> (UserService, Principal) {
    let config = ServiceConfig {
        password: PasswordPolicy::insecure_fast_for_tests(),
        ..ServiceConfig::default()
    };
    let mut service =
        UserService::with_config(storage, config).with_clock(Arc::new(ManualClock::new(now())));
    if let Some(source) = source {
        let options = EnrollmentOptions {
            timeout: Duration::from_secs(60),
            strict: true,
        };
        service = service.with_enrollment_source(source, options);
    }
    let tenant = TenantId::new(TENANT).unwrap();
    let principal = crate::admin::bench_admin(&service, tenant).await;
    (service, principal)
}

/// Loads the roles and users through `insert_users`, 10,000 users per call.
pub(crate) async fn load(storage: &dyn Storage, users: usize) {
    let tenant = TenantId::new(TENANT).unwrap();
    let started = Instant::now();
    usermgmt_testkit::dataset::insert_chunked(
        storage,
        &tenant,
        usermgmt_testkit::realistic::roles(&tenant, now()),
        usermgmt_testkit::realistic::users(42, tenant.clone(), users, now()).map(|g| g.new),
        now(),
        10_000,
    )
    .await;
    eprintln!("loaded {users} users in {:.1?}", started.elapsed());
}

/// The learning table `enrollments` in the data set's database, filled by COPY once.
pub(crate) async fn pg_learning(db_url: &str, users: usize) {
    let mut conn = sqlx::PgConnection::connect(db_url).await.unwrap();
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('enrollments') IS NOT NULL")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    if exists {
        return;
    }
    conn.execute(
        "CREATE TABLE enrollments (tenant_id text NOT NULL, user_id uuid NOT NULL, program_id text NOT NULL, \
         program_type text NOT NULL, status text NOT NULL, progress integer NOT NULL, \
         time_spent_seconds bigint NOT NULL, last_activity_at timestamptz)",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let tenant = TenantId::new(TENANT).unwrap();
    let mut rows = String::new();
    let flush = async |rows: &mut String, conn: &mut sqlx::PgConnection| {
        let mut copy = conn
            .copy_in_raw("COPY enrollments FROM STDIN")
            .await
            .unwrap();
        copy.send(std::mem::take(rows).into_bytes()).await.unwrap();
        copy.finish().await.unwrap();
    };
    for generated in usermgmt_testkit::realistic::users(42, tenant, users, now()) {
        for e in generated.enrollments {
            let last = e
                .last_activity_at
                .map_or_else(|| "\\N".to_owned(), |t| t.to_rfc3339());
            rows.push_str(&format!(
                "{TENANT}\t{}\t{}\t{}\t{}\t{}\t{}\t{last}\n",
                e.user_id,
                e.program_id,
                e.program_type,
                e.status.as_str(),
                e.progress,
                e.time_spent_seconds
            ));
        }
        if rows.len() > 8 << 20 {
            flush(&mut rows, &mut conn).await;
        }
    }
    flush(&mut rows, &mut conn).await;
    conn.execute(
        "CREATE INDEX enrollments_by_status ON enrollments (tenant_id, status, progress); \
         CREATE INDEX enrollments_by_user ON enrollments (tenant_id, user_id); ANALYZE enrollments",
    )
    .await
    .unwrap();
    eprintln!("loaded the learning table in {:.1?}", started.elapsed());
}
