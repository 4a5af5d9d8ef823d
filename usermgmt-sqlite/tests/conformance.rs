//! The shared conformance suite and the differential property test, on SQLite.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use usermgmt_sqlite::SqliteStorage;
use usermgmt_testkit::{TestStore, conformance_suite};

/// A fresh database file in its own temporary directory, removed with the store.
async fn fresh_store() -> TestStore {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("users.db");
    let storage = SqliteStorage::open(&path).await.expect("open SQLite");
    let fault: usermgmt_testkit::OutboxFault = Arc::new(move |on| {
        let path = path.clone();
        Box::pin(async move {
            let conn = rusqlite::Connection::open(&path).expect("open SQLite");
            conn.busy_timeout(std::time::Duration::from_secs(10))
                .expect("busy timeout");
            let sql = if on {
                "CREATE TRIGGER inject_failure AFTER INSERT ON outbox_events \
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
            } else {
                "DROP TRIGGER inject_failure"
            };
            conn.execute_batch(sql).expect("inject a failure");
        })
    });
    TestStore::new(Arc::new(storage), dir).with_outbox_fault(fault)
}

conformance_suite!(fresh_store);

#[test]
fn differential_against_reference_model() {
    let runtime = usermgmt_testkit::property_runtime();
    let cases = usermgmt_testkit::property_cases(300);
    usermgmt_testkit::differential::run(&runtime, fresh_store, &[7, 2026], cases);
}

/// A store that answers every search with trigrams present by a scan (threshold 1), so the
/// differential test covers the scan path of search as well as the index path.
async fn scanning_store() -> TestStore {
    let dir = tempfile::tempdir().expect("temporary directory");
    let options = usermgmt_sqlite::SqliteOptions {
        search_scan_threshold: 1,
        ..Default::default()
    };
    let storage = SqliteStorage::open_with(dir.path().join("users.db"), options)
        .await
        .expect("open SQLite");
    TestStore::new(Arc::new(storage), dir)
}

#[test]
fn differential_against_reference_model_scan_search() {
    let runtime = usermgmt_testkit::property_runtime();
    let cases = usermgmt_testkit::property_cases(150);
    usermgmt_testkit::differential::run(&runtime, scanning_store, &[11], cases);
}

/// Totals under interleaved writes, through two storages opened on one database file (two
/// application instances).
#[test]
fn totals_stay_exact_under_interleaved_writes() {
    let runtime = usermgmt_testkit::property_runtime();
    let cases = (usermgmt_testkit::property_cases(240) / 10).max(4);
    usermgmt_testkit::counting::run(
        &runtime,
        || async {
            let dir = tempfile::tempdir().expect("temporary directory");
            let path = dir.path().join("users.db");
            let first = SqliteStorage::open(&path).await.expect("open SQLite");
            let second = SqliteStorage::open(&path).await.expect("open SQLite again");
            let second: Arc<dyn usermgmt_core::storage::Storage> = Arc::new(second);
            Some((TestStore::new(Arc::new(first), dir), second))
        },
        cases,
    );
}
