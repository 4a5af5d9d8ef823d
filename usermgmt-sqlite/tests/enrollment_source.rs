//! The SQLite learning-database enrollment source: the reference semantics (differential
//! test) and non-fatal failures (missing file, missing table, slow query).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use usermgmt_core::filter::{ListQuery, UserFilters};
use usermgmt_core::model::{Enrollment, TenantId};
use usermgmt_core::service::EnrollmentOptions;
use usermgmt_sqlite::{EnrollmentLayout, SqliteEnrollmentSource, SqliteStorage};
use usermgmt_testkit::TestStore;
use usermgmt_testkit::differential::Learning;
use usermgmt_testkit::enrollments::{
    SqliteLearningWriter, assert_enrollment_filters_skipped, enrolled_total,
    write_sqlite_learning_db,
};
use usermgmt_testkit::fixture::Fixture;

/// A learning table that takes seconds to read (50 million generated rows).
const SLOW_VIEW: &str = "CREATE VIEW enrollments AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n \
    WHERE i < 50000000) SELECT 't1' AS tenant_id, 'x' AS user_id, 'p' AS program_id, 'course' AS program_type, \
    'active' AS status, i % 100 AS progress, 1 AS time_spent_seconds, NULL AS last_activity_at FROM n";

async fn fresh_store() -> TestStore {
    let dir = tempfile::tempdir().expect("temporary directory");
    let storage = SqliteStorage::open(dir.path().join("users.db"))
        .await
        .expect("open SQLite");
    TestStore::new(Arc::new(storage), dir)
}

#[test]
fn differential_through_a_learning_database() {
    let runtime = usermgmt_testkit::property_runtime();
    let dir = tempfile::tempdir().unwrap();
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let root = dir.path().to_path_buf();
    let source = move |tenant: &TenantId, enrollments: &[Enrollment]| -> Learning {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = root.join(format!("learning-{n}.db"));
        write_sqlite_learning_db(&path, tenant, enrollments.iter().cloned()).unwrap();
        let source = SqliteEnrollmentSource::new(&path, EnrollmentLayout::default()).unwrap();
        // The second data set's learning database has the change feed: the counting index
        // holds its enrollments and follows the writes.
        if n > 0 {
            source.install_change_feed().unwrap();
        }
        Learning {
            source: Arc::new(source),
            writer: Arc::new(SqliteLearningWriter(path)),
        }
    };
    let cases = usermgmt_testkit::property_cases(200);
    usermgmt_testkit::differential::run_with_source(
        &runtime,
        fresh_store,
        &source,
        &[31, 32],
        cases,
    );
}

/// Missing file, missing table and a query slower than the timeout: the list answers with the
/// enrollment filters skipped and named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_skip_the_enrollment_filters() {
    let fx = Fixture::new(fresh_store().await).await;
    let dir = tempfile::tempdir().unwrap();
    let (empty, slow) = (dir.path().join("empty.db"), dir.path().join("slow.db"));
    rusqlite::Connection::open(&empty)
        .unwrap()
        .execute_batch("CREATE TABLE other (x INTEGER)")
        .unwrap();
    rusqlite::Connection::open(&slow)
        .unwrap()
        .execute_batch(SLOW_VIEW)
        .unwrap();
    let options = EnrollmentOptions {
        timeout: Duration::from_millis(300),
        strict: false,
    };
    for (label, path) in [
        ("missing file", dir.path().join("absent.db")),
        ("missing table", empty),
        ("slow query", slow),
    ] {
        let source = SqliteEnrollmentSource::new(&path, EnrollmentLayout::default()).unwrap();
        let service = fx
            .service
            .clone()
            .with_enrollment_source(Arc::new(source), options.clone());
        assert_enrollment_filters_skipped(&service, &fx.admin, 1, label).await;
    }
    assert!(
        !dir.path().join("absent.db").exists(),
        "the source never creates the file"
    );
}

#[test]
fn layouts_reject_odd_identifiers() {
    let layout = EnrollmentLayout {
        table: "enrollments; DROP TABLE users".into(),
        ..Default::default()
    };
    assert!(SqliteEnrollmentSource::new("x.db", layout).is_err());
    let custom = EnrollmentLayout {
        table: "learning_enrollment".into(),
        tenant_id: None,
        ..Default::default()
    };
    assert!(SqliteEnrollmentSource::new("x.db", custom).is_ok());
}

/// A store evaluating the enrollment filters inside its queries against an attached learning
/// database (push-down); the learning file appears once the data set's enrollments exist.
fn pushdown_store(
    path: std::path::PathBuf,
) -> impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = TestStore>>> {
    move || {
        let path = path.clone();
        Box::pin(async move {
            let dir = tempfile::tempdir().expect("temporary directory");
            let options = usermgmt_sqlite::SqliteOptions {
                attached_enrollments: Some(usermgmt_sqlite::AttachedEnrollments {
                    path,
                    layout: EnrollmentLayout::default(),
                    timeout: Duration::from_millis(300),
                }),
                ..Default::default()
            };
            let storage = SqliteStorage::open_with(dir.path().join("users.db"), options)
                .await
                .expect("open SQLite");
            TestStore::new(Arc::new(storage), dir)
        })
    }
}

#[test]
fn differential_with_pushdown() {
    let runtime = usermgmt_testkit::property_runtime();
    let dir = tempfile::tempdir().unwrap();
    let learning = dir.path().join("learning.db");
    let target = learning.clone();
    // In push-down mode the service never asks a source; this factory only writes the file
    // (with the change feed for the second data set: the counting index follows it).
    let made = std::sync::atomic::AtomicUsize::new(0);
    let source = move |tenant: &TenantId, enrollments: &[Enrollment]| -> Learning {
        write_sqlite_learning_db(&target, tenant, enrollments.iter().cloned()).unwrap();
        if made.fetch_add(1, std::sync::atomic::Ordering::Relaxed) > 0 {
            SqliteEnrollmentSource::new(&target, EnrollmentLayout::default())
                .unwrap()
                .install_change_feed()
                .unwrap();
        }
        Learning {
            source: Arc::new(usermgmt_testkit::enrollments::MemoryEnrollmentSource::default()),
            writer: Arc::new(SqliteLearningWriter(target.clone())),
        }
    };
    let cases = usermgmt_testkit::property_cases(200);
    usermgmt_testkit::differential::run_with_source(
        &runtime,
        pushdown_store(learning),
        &source,
        &[37, 38],
        cases,
    );
}

/// With push-down and no learning file, no table, or a query past the timeout, the list
/// answers with the enrollment filters skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushdown_failures_skip_the_filters() {
    let dir = tempfile::tempdir().unwrap();
    let (empty, slow) = (dir.path().join("empty.db"), dir.path().join("slow.db"));
    rusqlite::Connection::open(&empty)
        .unwrap()
        .execute_batch("CREATE TABLE other (x INTEGER)")
        .unwrap();
    rusqlite::Connection::open(&slow)
        .unwrap()
        .execute_batch(SLOW_VIEW)
        .unwrap();
    for (label, path) in [
        ("missing file", dir.path().join("absent.db")),
        ("missing table", empty),
        ("slow query", slow),
    ] {
        let fx = Fixture::new(pushdown_store(path)().await).await;
        assert_enrollment_filters_skipped(&fx.service, &fx.admin, 1, label).await;
    }
}

/// A strict service reports unreachable push-down learning data as an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_pushdown_reports_missing_learning_data() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::new(pushdown_store(dir.path().join("absent.db"))().await).await;
    let strict = fx.service.clone().with_enrollment_strictness(true);
    let filters = UserFilters {
        enrollment: usermgmt_core::filter::EnrollmentFilters {
            has_enrollments: Some(true),
            ..Default::default()
        },
        ..Default::default()
    };
    let err = strict
        .list_users(
            &fx.admin,
            ListQuery {
                filters,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, usermgmt_core::Error::EnrollmentSourceUnavailable(_)),
        "{err:?}"
    );
}

/// With push-down and no learning data, the export still runs, without the enrollment filters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushdown_export_without_learning_data_skips_the_filters() {
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::new(pushdown_store(dir.path().join("absent.db"))().await).await;
    let filters = UserFilters {
        enrollment: usermgmt_core::filter::EnrollmentFilters {
            has_enrollments: Some(true),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut stream = fx
        .service
        .export(
            &fx.admin,
            filters,
            usermgmt_core::service::ExportFormat::JsonLines,
        )
        .await
        .unwrap();
    assert_eq!(stream.skipped_filters, ["has_enrollments"]);
    let mut lines = 0;
    while let Some(chunk) = stream.next_chunk().await {
        lines += chunk.unwrap().iter().filter(|b| **b == b'\n').count();
    }
    assert_eq!(lines, 1, "the admin");
}

/// A service whose source (with its change feed) holds one enrollment, of a first user, with
/// both indexes built; answers it, a second user's id and the learning file.
async fn followed_learning(
    fx: &Fixture,
    dir: &std::path::Path,
) -> (usermgmt_core::UserService, uuid::Uuid, std::path::PathBuf) {
    let (a, b) = (
        fx.create("Ada", "ada@example.com").await,
        fx.create("Bob", "bob@example.com").await,
    );
    let path = dir.join("learning.db");
    let mut one = Vec::new();
    for seed in 0.. {
        one = usermgmt_testkit::enrollments::generate_for(seed, [a.id], chrono::Utc::now());
        if !one.is_empty() {
            break;
        }
    }
    one.truncate(1);
    write_sqlite_learning_db(&path, &fx.tenant, one).unwrap();
    let source = SqliteEnrollmentSource::new(&path, EnrollmentLayout::default()).unwrap();
    source.install_change_feed().unwrap();
    let service = fx
        .service
        .clone()
        .with_enrollment_source(Arc::new(source), EnrollmentOptions::default());
    assert!(service.warm_counts(&fx.tenant).await.unwrap());
    assert_eq!(
        service.count_index_size(&fx.tenant).map(|s| s.enrollments),
        Some(1),
        "the index holds the enrollment"
    );
    assert_eq!(enrolled_total(&service, &fx.admin).await, Some(1));
    (service, b.id, path)
}

/// Enrols `user` (its id written through `id_sql`) by copying the first enrollment row.
fn enrol(path: &std::path::Path, user: uuid::Uuid, id_sql: &str) {
    rusqlite::Connection::open(path)
        .unwrap()
        .execute(
            &format!(
                "INSERT INTO enrollments SELECT tenant_id, {id_sql}, program_id, program_type, \
                 status, progress, time_spent_seconds, last_activity_at FROM enrollments LIMIT 1"
            ),
            [user.to_string()],
        )
        .unwrap();
}

/// A user id written in upper case: a re-read by id would miss its rows, so the list asks the
/// source instead of serving what the index last read (which said 1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upper_case_user_id_is_not_lost() {
    let fx = Fixture::new(fresh_store().await).await;
    let dir = tempfile::tempdir().unwrap();
    let (service, bob, path) = followed_learning(&fx, dir.path()).await;
    enrol(&path, bob, "?1");
    assert_eq!(
        enrolled_total(&service, &fx.admin).await,
        Some(2),
        "followed"
    );
    let carol = fx.create("Carol", "carol@example.com").await;
    enrol(&path, carol.id, "upper(?1)");
    assert_eq!(enrolled_total(&service, &fx.admin).await, Some(3));
}

/// The feed's insert trigger dropped (a table rebuilt by a migration loses its triggers): an
/// unrecorded write is still counted, and so is one made before the feed was installed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_that_went_quiet_is_not_followed() {
    let fx = Fixture::new(fresh_store().await).await;
    let dir = tempfile::tempdir().unwrap();
    let (service, bob, path) = followed_learning(&fx, dir.path()).await;
    let drop_trigger = || {
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("DROP TRIGGER usermgmt_feed_enrollments_insert")
            .unwrap();
    };
    drop_trigger();
    enrol(&path, bob, "?1");
    assert_eq!(
        enrolled_total(&service, &fx.admin).await,
        Some(2),
        "quiet feed"
    );

    // Installed again before any list noticed: the reader starts over.
    let fx = Fixture::new(fresh_store().await).await;
    let dir = tempfile::tempdir().unwrap();
    let (service, bob, path) = followed_learning(&fx, dir.path()).await;
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TRIGGER usermgmt_feed_enrollments_insert")
        .unwrap();
    enrol(&path, bob, "?1");
    SqliteEnrollmentSource::new(&path, EnrollmentLayout::default())
        .unwrap()
        .install_change_feed()
        .unwrap();
    assert_eq!(
        enrolled_total(&service, &fx.admin).await,
        Some(2),
        "reinstalled"
    );
}
