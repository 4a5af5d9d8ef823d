//! Behaviour specific to the SQLite backend: migrations, WAL, search modes, index use.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use usermgmt_core::filter::{ListQuery, UserFilters};
use usermgmt_sqlite::{SqliteOptions, SqliteStorage};
use usermgmt_testkit::TestStore;
use usermgmt_testkit::fixture::Fixture;

#[tokio::test]
async fn migrations_apply_once_and_reopen_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.db");
    let storage = SqliteStorage::open(&path).await.unwrap();
    assert_eq!(
        storage.schema_version().await.unwrap(),
        SqliteStorage::LATEST_SCHEMA_VERSION
    );
    let fx = Fixture::new(TestStore::new(Arc::new(storage), ())).await;
    fx.create("Persisted", "p@x.test").await;
    drop(fx);
    let reopened = SqliteStorage::open(&path).await.unwrap();
    assert_eq!(
        reopened.schema_version().await.unwrap(),
        SqliteStorage::LATEST_SCHEMA_VERSION
    );
    let fx = Fixture::new(TestStore::new(Arc::new(reopened), dir)).await;
    assert_eq!(fx.count_users().await, 2);
    let journal: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
}

/// Both search paths (trigram index and scan) give the same answers; the threshold only
/// changes the plan.
#[tokio::test]
async fn index_and_scan_search_agree() {
    let mut answers = Vec::new();
    for threshold in [1, 1_000_000] {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteOptions {
            search_scan_threshold: threshold,
            ..SqliteOptions::default()
        };
        let storage = SqliteStorage::open_with(dir.path().join("u.db"), options)
            .await
            .unwrap();
        let fx = Fixture::new(TestStore::new(Arc::new(storage), dir)).await;
        for (i, name) in ["Ada Lovelace", "Adam Smith", "Lovelace Jr", "Grace"]
            .iter()
            .enumerate()
        {
            fx.create(name, &format!("p{i}@search.test")).await;
        }
        let mut results = Vec::new();
        for term in ["lovelace", "ada", "ace", "search.test", "zzzz", "ov"] {
            let query = ListQuery {
                filters: UserFilters {
                    search: Some(term.into()),
                    ..Default::default()
                },
                ..Default::default()
            };
            let page = fx.service.list_users(&fx.admin, query).await.unwrap();
            let mut names: Vec<String> = page.items.into_iter().map(|u| u.name).collect();
            names.sort();
            results.push((term, names, page.total));
        }
        answers.push(results);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0][0].1, ["Ada Lovelace", "Lovelace Jr"]);
}
