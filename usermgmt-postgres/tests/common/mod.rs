//! A fresh PostgreSQL database per test, on the server named by `USERMGMT_TEST_POSTGRES_URL`.
//! In CI (`CI` set) a missing or unreachable server fails the test; elsewhere the test is
//! skipped with a printed reason.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic, dead_code)]

use std::sync::Arc;

use sqlx::Connection;
use usermgmt_postgres::PgStorage;
use usermgmt_testkit::TestStore;

/// The server URL, or `None` (skip) outside CI.
pub(crate) fn server_url() -> Option<String> {
    match std::env::var("USERMGMT_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("USERMGMT_TEST_POSTGRES_URL is not set: PostgreSQL tests must run in CI")
        }
        _ => {
            eprintln!("skipped: USERMGMT_TEST_POSTGRES_URL is not set (no PostgreSQL server)");
            None
        }
    }
}

/// Replaces the database name in a URL.
pub(crate) fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = match base.rsplit_once('/') {
        Some((prefix, _)) if prefix.contains("://") && prefix.matches('/').count() >= 2 => {
            prefix.to_owned()
        }
        _ => base.to_owned(),
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

/// Drops the test database when the store goes.
pub(crate) struct DropDatabase {
    admin_url: String,
    name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // A separate thread with its own runtime: Drop may run inside an async test.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&url).await.ok()?;
                let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// The name of the database behind a store made by [`fresh_store`].
pub(crate) fn database_of(store: &TestStore) -> Option<String> {
    store
        .guard::<DropDatabase>()
        .map(|guard| guard.name.clone())
}

/// A fresh, migrated database on the test server.
pub(crate) async fn fresh_store() -> Option<TestStore> {
    fresh_store_with(usermgmt_postgres::PgOptions::default())
        .await
        .map(|(store, _)| store)
}

/// [`fresh_store`] with explicit options; also returns the database's URL.
pub(crate) async fn fresh_store_with(
    options: usermgmt_postgres::PgOptions,
) -> Option<(TestStore, String)> {
    let url = server_url()?;
    let name = format!("usermgmt_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| {
        panic!("PostgreSQL at USERMGMT_TEST_POSTGRES_URL is not reachable: {e}")
    });
    let sql = format!("CREATE DATABASE \"{name}\"");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let db_url = with_database(&url, &name);
    let storage = PgStorage::connect_with(&db_url, options)
        .await
        .expect("connect and migrate");
    let fault_url = db_url.clone();
    let fault: usermgmt_testkit::OutboxFault = Arc::new(move |on| {
        let url = fault_url.clone();
        Box::pin(async move {
            let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
            let sql = if on {
                "CREATE FUNCTION inject_failure() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$; \
                 CREATE TRIGGER inject_failure AFTER INSERT ON outbox_events \
                 FOR EACH STATEMENT EXECUTE FUNCTION inject_failure();"
            } else {
                "DROP TRIGGER inject_failure ON outbox_events; DROP FUNCTION inject_failure();"
            };
            sqlx::raw_sql(sql)
                .execute(&mut conn)
                .await
                .expect("inject a failure");
        })
    });
    Some((
        TestStore::new(
            Arc::new(storage),
            DropDatabase {
                admin_url: url,
                name,
            },
        )
        .with_outbox_fault(fault),
        db_url,
    ))
}
