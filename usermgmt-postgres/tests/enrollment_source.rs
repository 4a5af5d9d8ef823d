//! The PostgreSQL learning-database enrollment source: the reference semantics (differential
//! test) and non-fatal failures (closed port, missing table, slow query).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use sqlx::Connection;
use usermgmt_core::model::{Enrollment, TenantId};
use usermgmt_core::service::EnrollmentOptions;
use usermgmt_postgres::{EnrollmentLayout, PgEnrollmentSource};
use usermgmt_testkit::differential::Learning;
use usermgmt_testkit::enrollments::{
    LearningWriter, assert_enrollment_filters_skipped, enrolled_total,
};
use usermgmt_testkit::fixture::Fixture;

/// A learning table that takes seconds to read.
const SLOW_VIEW: &str = "CREATE VIEW enrollments AS SELECT 't1'::text AS tenant_id, gen_random_uuid() AS user_id, \
    'p'::text AS program_id, 'course'::text AS program_type, 'active'::text AS status, 50 AS progress, \
    1::bigint AS time_spent_seconds, now() AS last_activity_at FROM pg_sleep(5)";

const TABLE: &str = "CREATE TABLE enrollments (tenant_id text NOT NULL, user_id uuid NOT NULL, program_id text NOT NULL, \
    program_type text NOT NULL, status text NOT NULL, progress integer NOT NULL, time_spent_seconds bigint NOT NULL, \
    last_activity_at timestamptz)";

/// A fresh database on the test server, set up by `setup`; returns its URL.
async fn learning_database(url: &str, setup: &str) -> String {
    let name = format!("usermgmt_learning_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .unwrap();
    let db_url = common::with_database(url, &name);
    let mut conn = sqlx::PgConnection::connect(&db_url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(setup.to_owned()))
        .execute(&mut conn)
        .await
        .unwrap();
    db_url
}

async fn fill(db_url: &str, tenant: &TenantId, enrollments: &[Enrollment]) {
    let mut conn = sqlx::PgConnection::connect(db_url).await.unwrap();
    insert(&mut conn, tenant, enrollments).await;
}

async fn insert(conn: &mut sqlx::PgConnection, tenant: &TenantId, enrollments: &[Enrollment]) {
    let column = |f: fn(&Enrollment) -> String| enrollments.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO enrollments SELECT $1, u, p, t, s, g, ts, la FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], \
         $6::int[], $7::bigint[], $8::timestamptz[]) AS x(u, p, t, s, g, ts, la)",
    )
    .bind(tenant.as_str())
    .bind(enrollments.iter().map(|e| e.user_id).collect::<Vec<_>>())
    .bind(column(|e| e.program_id.clone()))
    .bind(column(|e| e.program_type.clone()))
    .bind(column(|e| e.status.as_str().to_owned()))
    .bind(enrollments.iter().map(|e| i32::from(e.progress)).collect::<Vec<_>>())
    .bind(enrollments.iter().map(|e| e.time_spent_seconds as i64).collect::<Vec<_>>())
    .bind(enrollments.iter().map(|e| e.last_activity_at).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .unwrap();
}

/// Writes to the learning table of the database at its URL, as another service would.
struct PgLearningWriter(String);

#[async_trait::async_trait]
impl LearningWriter for PgLearningWriter {
    async fn replace(&self, tenant: &TenantId, user: uuid::Uuid, enrollments: &[Enrollment]) {
        let mut conn = sqlx::PgConnection::connect(&self.0).await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("DELETE FROM enrollments WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.as_str())
            .bind(user)
            .execute(&mut *tx)
            .await
            .unwrap();
        insert(&mut tx, tenant, enrollments).await;
        tx.commit().await.unwrap();
    }
}

#[test]
fn differential_through_a_learning_database() {
    let Some(url) = common::server_url() else {
        return;
    };
    let runtime = usermgmt_testkit::property_runtime();
    let made = std::sync::atomic::AtomicUsize::new(0);
    let source = move |tenant: &TenantId, enrollments: &[Enrollment]| -> Learning {
        let (url, tenant, enrollments) = (url.clone(), tenant.clone(), enrollments.to_vec());
        // The second data set's learning database has the change feed: the counting index
        // holds its enrollments and follows the writes.
        let feed = made.fetch_add(1, std::sync::atomic::Ordering::Relaxed) > 0;
        // The factory is called inside the test's runtime: set the database up on its own.
        let db_url = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let db_url = learning_database(&url, TABLE).await;
                fill(&db_url, &tenant, &enrollments).await;
                if feed {
                    PgEnrollmentSource::new(&db_url, EnrollmentLayout::default())
                        .unwrap()
                        .install_change_feed()
                        .await
                        .unwrap();
                }
                db_url
            })
        })
        .join()
        .unwrap();
        Learning {
            source: Arc::new(
                PgEnrollmentSource::new(&db_url, EnrollmentLayout::default()).unwrap(),
            ),
            writer: Arc::new(PgLearningWriter(db_url)),
        }
    };
    let cases = usermgmt_testkit::property_cases(200);
    usermgmt_testkit::differential::run_with_source(
        &runtime,
        common::fresh_store,
        &source,
        &[41, 42],
        cases,
    );
}

/// A closed port, a missing table and a query slower than the timeout: the list answers with
/// the enrollment filters skipped and named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_skip_the_enrollment_filters() {
    let Some(url) = common::server_url() else {
        return;
    };
    let Some(store) = common::fresh_store().await else {
        return;
    };
    let fx = Fixture::new(store).await;
    let no_table = learning_database(&url, "CREATE TABLE other (x integer)").await;
    let slow = learning_database(&url, SLOW_VIEW).await;
    let options = EnrollmentOptions {
        timeout: Duration::from_millis(500),
        strict: false,
    };
    for (label, source_url) in [
        (
            "closed port",
            "postgres://postgres@127.0.0.1:1/learning".to_owned(),
        ),
        ("missing table", no_table),
        ("slow query", slow),
    ] {
        let source = PgEnrollmentSource::new(&source_url, EnrollmentLayout::default()).unwrap();
        let service = fx
            .service
            .clone()
            .with_enrollment_source(Arc::new(source), options.clone());
        assert_enrollment_filters_skipped(&service, &fx.admin, 1, label).await;
    }
}

/// The differential test with the enrollment filters evaluated inside the list query, against
/// a learning table in the same database.
#[test]
fn differential_with_pushdown() {
    if common::server_url().is_none() {
        return;
    }
    let runtime = usermgmt_testkit::property_runtime();
    let current: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let store_url = current.clone();
    let factory = move || {
        let store_url = store_url.clone();
        async move {
            let options = usermgmt_postgres::PgOptions {
                enrollments_in_database: Some(EnrollmentLayout::default()),
                ..Default::default()
            };
            let (store, url) = common::fresh_store_with(options).await?;
            *store_url.lock().unwrap() = Some(url);
            Some(store)
        }
    };
    // In push-down mode the service never asks a source; this factory only fills the table
    // (with the change feed for the second data set: the counting index follows it).
    let made = std::sync::atomic::AtomicUsize::new(0);
    let source = move |tenant: &TenantId, enrollments: &[Enrollment]| -> Learning {
        let url = current
            .lock()
            .unwrap()
            .clone()
            .expect("a store was made first");
        let feed = made.fetch_add(1, std::sync::atomic::Ordering::Relaxed) > 0;
        let (tenant, enrollments, db_url) = (tenant.clone(), enrollments.to_vec(), url.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
                sqlx::raw_sql(TABLE).execute(&mut conn).await.unwrap();
                fill(&url, &tenant, &enrollments).await;
                if feed {
                    PgEnrollmentSource::new(&url, EnrollmentLayout::default())
                        .unwrap()
                        .install_change_feed()
                        .await
                        .unwrap();
                }
            })
        })
        .join()
        .unwrap();
        Learning {
            source: Arc::new(usermgmt_testkit::enrollments::MemoryEnrollmentSource::default()),
            writer: Arc::new(PgLearningWriter(db_url)),
        }
    };
    let cases = usermgmt_testkit::property_cases(200);
    usermgmt_testkit::differential::run_with_source(&runtime, factory, &source, &[43, 44], cases);
}

/// With push-down and no learning table, or a query past the timeout, the list answers with
/// the enrollment filters skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushdown_failures_skip_the_filters() {
    for (label, setup) in [("missing table", None), ("slow query", Some(SLOW_VIEW))] {
        let options = usermgmt_postgres::PgOptions {
            enrollments_in_database: Some(EnrollmentLayout::default()),
            enrollments_timeout: Duration::from_millis(500),
            ..Default::default()
        };
        let Some((store, url)) = common::fresh_store_with(options).await else {
            return;
        };
        if let Some(setup) = setup {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(setup).execute(&mut conn).await.unwrap();
        }
        let fx = Fixture::new(store).await;
        assert_enrollment_filters_skipped(&fx.service, &fx.admin, 1, label).await;
    }
}

/// The feed's insert trigger disabled (or the feed installed again after writes it missed):
/// the list still counts every enrollment, instead of serving what the index last read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_that_went_quiet_is_not_followed() {
    let Some(url) = common::server_url() else {
        return;
    };
    let Some(store) = common::fresh_store().await else {
        return;
    };
    let fx = Fixture::new(store).await;
    let (ada, bob, cy) = (
        fx.create("Ada", "ada@example.com").await,
        fx.create("Bob", "bob@example.com").await,
        fx.create("Cy", "cy@example.com").await,
    );
    let mut one = Vec::new();
    for seed in 0.. {
        one = usermgmt_testkit::enrollments::generate_for(seed, [ada.id], chrono::Utc::now());
        if !one.is_empty() {
            break;
        }
    }
    one.truncate(1);
    let db_url = learning_database(&url, TABLE).await;
    fill(&db_url, &fx.tenant, &one).await;
    let source = PgEnrollmentSource::new(&db_url, EnrollmentLayout::default()).unwrap();
    source.install_change_feed().await.unwrap();
    let service = fx
        .service
        .clone()
        .with_enrollment_source(Arc::new(source.clone()), EnrollmentOptions::default());
    assert!(service.warm_counts(&fx.tenant).await.unwrap());
    assert_eq!(enrolled_total(&service, &fx.admin).await, Some(1));
    let mut conn = sqlx::PgConnection::connect(&db_url).await.unwrap();
    let enrol = |user: uuid::Uuid| {
        let mut e = one[0].clone();
        e.user_id = user;
        vec![e]
    };
    sqlx::raw_sql("ALTER TABLE enrollments DISABLE TRIGGER usermgmt_feed_enrollments_insert")
        .execute(&mut conn)
        .await
        .unwrap();
    insert(&mut conn, &fx.tenant, &enrol(bob.id)).await;
    assert_eq!(
        enrolled_total(&service, &fx.admin).await,
        Some(2),
        "disabled trigger"
    );

    // Enabled again and the feed installed again: the write it missed is still counted.
    sqlx::raw_sql("ALTER TABLE enrollments ENABLE TRIGGER usermgmt_feed_enrollments_insert")
        .execute(&mut conn)
        .await
        .unwrap();
    source.install_change_feed().await.unwrap();
    insert(&mut conn, &fx.tenant, &enrol(cy.id)).await;
    assert!(service.warm_counts(&fx.tenant).await.unwrap());
    assert_eq!(
        enrolled_total(&service, &fx.admin).await,
        Some(3),
        "reinstalled"
    );
}
