//! Concurrency and faults against a real PostgreSQL server.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::collections::HashSet;

use usermgmt_core::Principal;
use usermgmt_core::filter::UserFilters;
use usermgmt_core::model::Status;
use usermgmt_core::service::{BulkDeleteRequest, CreateUser, GetOrCreateUser};
use usermgmt_testkit::fixture::Fixture;

/// Fifty concurrent get-or-create calls with one email make exactly one user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_or_create_fifty_concurrent_calls_make_one_user() {
    let Some(store) = common::fresh_store().await else {
        return;
    };
    let fx = Fixture::new(store).await;
    let system = Principal::system(fx.tenant.clone());
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (service, system) = (fx.service.clone(), system.clone());
            tokio::spawn(async move {
                let input = GetOrCreateUser {
                    email: Some("crowd@example.com".into()),
                    ..Default::default()
                };
                service.system_get_or_create(&system, input).await
            })
        })
        .collect();
    let mut ids = HashSet::new();
    let mut created = 0;
    for task in tasks {
        let outcome = task.await.unwrap().unwrap();
        ids.insert(outcome.user.id);
        created += usize::from(outcome.created);
    }
    assert_eq!((ids.len(), created), (1, 1));
    assert_eq!(fx.count_users().await, 2);
}

/// A bulk delete that fails part-way (a trigger raises on one row) deletes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_bulk_delete_leaves_everything() {
    let Some(url) = common::server_url() else {
        return;
    };
    let Some(store) = common::fresh_store().await else {
        return;
    };
    let database = store_database(&store);
    let fx = Fixture::new(store).await;
    for i in 0..5 {
        let name = if i == 3 {
            "Boom".to_owned()
        } else {
            format!("Target {i}")
        };
        let input = CreateUser {
            city: Some("Doomed".into()),
            ..Fixture::learner(&name, &format!("t{i}@x.test"))
        };
        fx.service.create_user(&fx.admin, input).await.unwrap();
    }
    // One user the filter leaves out (a filter selecting everyone is refused before the
    // transaction this test is about).
    fx.create("Bystander", "bystander@x.test").await;
    let mut conn: sqlx::PgConnection =
        <sqlx::PgConnection as sqlx::Connection>::connect(&common::with_database(&url, &database))
            .await
            .unwrap();
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF NEW.status = 'deleted' AND OLD.name = 'Boom' THEN RAISE EXCEPTION 'refused'; END IF; \
           RETURN NEW; END $$; \
         CREATE TRIGGER refuse_boom BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION refuse_boom();",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let doomed = UserFilters {
        city: vec!["doomed".into()],
        ..Default::default()
    };
    let result = fx
        .service
        .bulk_delete(
            &fx.admin,
            BulkDeleteRequest::Filters(Box::new(doomed.clone())),
        )
        .await;
    assert!(
        matches!(result, Err(usermgmt_core::Error::Storage(_))),
        "{result:?}"
    );
    let listed = fx
        .service
        .list_users(
            &fx.admin,
            usermgmt_core::filter::ListQuery {
                filters: doomed,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.total, Some(5), "nothing was deleted");
    assert!(listed.items.iter().all(|u| u.status == Status::Active));
}

/// After every server connection is killed mid-run, later operations succeed without
/// restarting the application (the pool replaces dead connections).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_recover_after_connections_are_killed() {
    let Some(url) = common::server_url() else {
        return;
    };
    let Some(store) = common::fresh_store().await else {
        return;
    };
    let database = store_database(&store);
    let fx = Fixture::new(store).await;
    fx.create("Before", "before@x.test").await;
    let mut admin: sqlx::PgConnection =
        <sqlx::PgConnection as sqlx::Connection>::connect(url.as_str())
            .await
            .unwrap();
    let killed: Vec<bool> =
        sqlx::query_scalar("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()")
            .bind(&database)
            .fetch_all(&mut admin)
            .await
            .unwrap();
    assert!(!killed.is_empty(), "the pool had live connections to kill");
    fx.create("After", "after@x.test").await;
    assert_eq!(fx.count_users().await, 3);
}

/// The database name the store was created on (from the guard's debug-free accessor).
fn store_database(store: &usermgmt_testkit::TestStore) -> String {
    common::database_of(store).expect("a PostgreSQL test store")
}

/// Two transactions that lock users in opposite orders around their audit writes do not
/// deadlock through the outbox: the tenant's event counter is taken at commit, after every
/// row lock (it used to be taken at the first audit write and held, so a transaction that
/// wrote an event and then locked a user — an import's upsert, a group change — deadlocked
/// with a single-user edit of that user).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_counter_is_not_a_lock_between_row_locks() {
    let Some((fx, database)) = fixture_with_url().await else {
        return;
    };
    let first = fx.create("First", "first@x.test").await;
    let second = fx.create("Second", "second@x.test").await;
    let before: i64 = {
        let mut conn: sqlx::PgConnection = connect(&database).await;
        sqlx::query_scalar("SELECT count(*) FROM outbox_events")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    let begin = || async {
        let mut conn: sqlx::PgConnection = connect(&database).await;
        sqlx::raw_sql("SET deadlock_timeout = '200ms'; SET lock_timeout = '5s'; BEGIN")
            .execute(&mut conn)
            .await
            .unwrap();
        conn
    };
    let audit = |target: uuid::Uuid| {
        format!(
            "INSERT INTO audit_events (tenant_id, id, target_kind, target_id, actor_kind, action, \
             changes, created_at) VALUES ('{}', gen_random_uuid(), 'user', '{target}', 'system', \
             'user.updated', '{{}}', now())",
            fx.tenant.as_str()
        )
    };
    let rename =
        |id: uuid::Uuid, name: &str| format!("UPDATE users SET name = '{name}' WHERE id = '{id}'");
    // A: an event about the first user (like an import's first upsert).
    let mut a = begin().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(audit(first.id)))
        .execute(&mut a)
        .await
        .unwrap();
    // B: edits the second user and writes its event, then commits.
    let mut b = begin().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(rename(second.id, "By B")))
        .execute(&mut b)
        .await
        .unwrap();
    let b_event = tokio::spawn({
        let sql = audit(second.id);
        async move {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut b)
                .await
                .map(|_| b)
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // A now locks the second user (like the import's next upsert) and waits for B.
    let a_rename = tokio::spawn({
        let sql = rename(second.id, "By A");
        async move {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut a)
                .await
                .map(|_| a)
        }
    });
    let mut b = b_event.await.unwrap().expect("B writes its event");
    sqlx::raw_sql("COMMIT")
        .execute(&mut b)
        .await
        .expect("B commits");
    let mut a = a_rename
        .await
        .unwrap()
        .expect("A is not chosen as a deadlock victim");
    sqlx::raw_sql("COMMIT")
        .execute(&mut a)
        .await
        .expect("A commits");
    let mut conn: sqlx::PgConnection = connect(&database).await;
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM outbox_events ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let expected: Vec<i64> = (1..=before + 2).collect();
    assert_eq!(ids, expected, "both events announced, ids without gaps");
}

/// A soft delete (what `bulk_soft_delete` writes: status, deletion time, update time,
/// version) changes no indexed column of `users`, so PostgreSQL updates the rows in place
/// (HOT) without touching any of its indexes; the statuses and deletion times land beside
/// the users, in `user_statuses`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soft_delete_is_a_hot_update() {
    let Some((fx, database)) = fixture_with_url().await else {
        return;
    };
    for i in 0..20 {
        fx.create(&format!("Doomed {i}"), &format!("d{i}@x.test"))
            .await;
    }
    let mut conn: sqlx::PgConnection = connect(&database).await;
    sqlx::raw_sql("BEGIN").execute(&mut conn).await.unwrap();
    let updated = sqlx::query(
        "UPDATE users SET status = 'deleted', deleted_at = now(), updated_at = now(), \
         version = version + 1 WHERE name LIKE 'Doomed %'",
    )
    .execute(&mut conn)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(updated, 20);
    let hot: i64 = sqlx::query_scalar(
        "SELECT n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'users'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(hot, 20, "every row updated in place");
    let tracked: i64 =
        sqlx::query_scalar("SELECT count(*) FROM user_statuses WHERE deleted_at IS NOT NULL")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(tracked, 20);
    let deleted: i64 =
        sqlx::query_scalar("SELECT count(*) FROM user_statuses WHERE status = 'deleted'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(deleted, 20, "the status index beside the users follows");
    sqlx::raw_sql("ROLLBACK").execute(&mut conn).await.unwrap();
}

/// A fixture on a fresh test database, with that database's URL (for raw connections).
async fn fixture_with_url() -> Option<(Fixture, String)> {
    let url = common::server_url()?;
    let store = common::fresh_store().await?;
    let database = common::with_database(&url, &store_database(&store));
    Some((Fixture::new(store).await, database))
}

async fn connect(url: &str) -> sqlx::PgConnection {
    <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap()
}
