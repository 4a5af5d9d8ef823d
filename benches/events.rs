//! Events (SPEC §13, issue 20): what the outbox costs the writes that carry it, and how fast
//! webhooks reach a receiver.
//!
//! - **Outbox write overhead**: N creations then N renames through `UserService` (no
//!   passwords, so argon2 is not measured), on a database with the outbox and on one without
//!   (PostgreSQL: the announcing trigger dropped; SQLite, whose audit writer announces
//!   itself: the outbox rows skipped by a trigger, the counter upsert kept); runs alternate,
//!   the median of 5 each.
//! - **Delivery throughput**: N users inserted with one endpoint subscribed (their creation
//!   events are in the outbox), then `WebhookDispatcher` rounds until a local receiver
//!   (axum on loopback, answering 204) has all N, against POSTing the same signed bodies
//!   straight with the same client and concurrency (no outbox, no fan-out, no bookkeeping).
//!
//! SQLite always; PostgreSQL when `USERMGMT_BENCH_POSTGRES_URL` names a server. Run:
//! `USERMGMT_BENCH_POSTGRES_URL=postgres://… cargo bench --bench events --features postgres`
//! (`USERMGMT_BENCH_WRITES`, default 2,000; `USERMGMT_BENCH_EVENTS`, default 5,000).

// A benchmark harness: failing loudly on a broken set-up is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sqlx::{Connection, Executor};
use usermgmt::events::{ReqwestTransport, WebhookPolicy, WebhookTransport, sign, webhook_body};
use usermgmt::model::TenantId;
use usermgmt::password::PasswordPolicy;
use usermgmt::service::{CreateUser, CreateWebhook, UpdateUser};
use usermgmt::storage::Storage;
use usermgmt::{Principal, ServiceConfig, UserService};

#[path = "support/admin.rs"]
mod admin;
#[path = "support/learners.rs"]
mod learners;

fn policy() -> WebhookPolicy {
    WebhookPolicy {
        allow_private_networks: true,
        allow_plain_http: true,
        ..WebhookPolicy::default()
    }
}

async fn service(storage: Arc<dyn Storage>) -> (UserService, Principal) {
    let config = ServiceConfig {
        password: PasswordPolicy::insecure_fast_for_tests(),
        webhooks: policy(),
        ..ServiceConfig::default()
    };
    let service = UserService::with_config(storage, config);
    let admin = admin::bench_admin(&service, TenantId::new("bench").unwrap()).await;
    (service, admin)
}

/// N creations then N renames through the service: seconds.
async fn writes(storage: Arc<dyn Storage>, n: usize) -> f64 {
    let (service, admin) = service(storage).await;
    let started = Instant::now();
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let input = CreateUser {
            name: format!("Learner {i}"),
            email: Some(format!("learner{i}@events.test")),
            is_learner: true,
            ..Default::default()
        };
        ids.push(service.create_user(&admin, input).await.unwrap().id);
    }
    for (i, id) in ids.iter().enumerate() {
        let patch = UpdateUser {
            name: Some(format!("Renamed {i}")),
            ..Default::default()
        };
        service.update_user(&admin, *id, patch).await.unwrap();
    }
    started.elapsed().as_secs_f64()
}

/// A receiver on loopback answering 204; its URL and how many requests it got.
async fn receiver() -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, count)
}

/// N events delivered by the dispatcher, then the same N bodies POSTed straight:
/// (dispatcher seconds, straight seconds).
async fn deliveries(storage: Arc<dyn Storage>, n: usize) -> (f64, f64) {
    let (service, admin) = service(storage.clone()).await;
    let (url, count) = receiver().await;
    let input = CreateWebhook {
        url: url.clone(),
        kinds: Vec::new(),
        enabled: true,
    };
    let issued = service.create_webhook(&admin, input).await.unwrap();
    let tenant = admin.tenant_id().clone();
    learners::insert_learners(storage.as_ref(), &tenant, n).await;
    let transport: Arc<dyn WebhookTransport> = Arc::new(ReqwestTransport::new(&policy()).unwrap());
    let dispatcher = service.webhook_dispatcher(transport.clone()).await.unwrap();
    let started = Instant::now();
    while count.load(Ordering::Relaxed) < n {
        let report = dispatcher.run_once().await.unwrap();
        if report.events == 0 && report.attempts == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let ours = started.elapsed().as_secs_f64();
    // The same bodies, POSTed straight.
    let events = storage
        .read_events(&tenant, 0, 0, 1, u32::try_from(n + 10).unwrap())
        .await
        .unwrap()
        .events;
    let bodies: Vec<Vec<u8>> = events.iter().take(n).map(webhook_body).collect();
    count.store(0, Ordering::Relaxed);
    let started = Instant::now();
    let posts = futures_util::stream::iter(bodies)
        .map(|body| {
            let (transport, url, secret) = (transport.clone(), url.clone(), issued.secret.clone());
            async move {
                let headers = [
                    ("Content-Type", "application/json".to_owned()),
                    (
                        "Usermgmt-Signature",
                        sign(&secret, chrono::Utc::now().timestamp(), &body),
                    ),
                ];
                transport.post(&url, &headers, body).await.unwrap()
            }
        })
        .buffer_unordered(policy().concurrency);
    let answered: Vec<u16> = posts.collect().await;
    let straight = started.elapsed().as_secs_f64();
    assert!(answered.iter().all(|s| *s == 204));
    (ours, straight)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

type Fresh = Box<dyn Fn(bool) -> Pin<Box<dyn Future<Output = Arc<dyn Storage>>>>>;

async fn run(backend: &str, fresh: Fresh, writes_n: usize, events_n: usize) {
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        with.push(writes(fresh(true).await, writes_n).await);
        without.push(writes(fresh(false).await, writes_n).await);
    }
    let (w, wo) = (median(with.clone()), median(without.clone()));
    let ops = (2 * writes_n) as f64;
    println!(
        "{backend:<9} outbox writes: {writes_n} creates + {writes_n} updates  with outbox {:>6.0} ops/s \
         (median {w:.2} s of {with:.2?})  without {:>6.0} ops/s (median {wo:.2} s of {without:.2?})  \
         time ratio with/without {:.3}",
        ops / w,
        ops / wo,
        w / wo
    );
    let (ours, straight) = deliveries(fresh(true).await, events_n).await;
    println!(
        "{backend:<9} webhook delivery: {events_n} events  dispatcher {:>6.0} deliveries/s ({ours:.2} s)  \
         straight POSTs {:>6.0}/s ({straight:.2} s)  ratio {:.2}",
        events_n as f64 / ours,
        events_n as f64 / straight,
        straight / ours
    );
}

fn main() {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (writes_n, events_n) = (
        env("USERMGMT_BENCH_WRITES", 2_000),
        env("USERMGMT_BENCH_EVENTS", 5_000),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let counter = Arc::new(AtomicUsize::new(0));
        let sqlite: Fresh = Box::new(move |outbox| {
            let (dir, counter) = (dir.clone(), counter.clone());
            Box::pin(async move {
                let path = dir.path().join(format!(
                    "events{}.db",
                    counter.fetch_add(1, Ordering::Relaxed)
                ));
                let storage = usermgmt::sqlite::SqliteStorage::open(&path).await.unwrap();
                if !outbox {
                    let conn = rusqlite::Connection::open(&path).unwrap();
                    // The audit writer announces its events itself (migration 13): its
                    // outbox rows are skipped (the per-tenant counter upsert still runs).
                    conn.execute_batch(
                        "CREATE TRIGGER bench_no_outbox BEFORE INSERT ON outbox_events \
                         BEGIN SELECT RAISE(IGNORE); END",
                    )
                    .unwrap();
                }
                Arc::new(storage) as Arc<dyn Storage>
            })
        });
        run("sqlite", sqlite, writes_n, events_n).await;
        match std::env::var("USERMGMT_BENCH_POSTGRES_URL") {
            Ok(url) => {
                let counter = Arc::new(AtomicUsize::new(0));
                let postgres: Fresh = Box::new(move |outbox| {
                    let (url, counter) = (url.clone(), counter.clone());
                    Box::pin(async move {
                        let (server, _) = url.rsplit_once('/').unwrap();
                        let database = format!(
                            "usermgmt_events_bench_{}",
                            counter.fetch_add(1, Ordering::Relaxed) % 2
                        );
                        let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
                        let drop = format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)");
                        admin.execute(sqlx::AssertSqlSafe(drop)).await.unwrap();
                        let create = format!("CREATE DATABASE {database}");
                        admin.execute(sqlx::AssertSqlSafe(create)).await.unwrap();
                        let db_url = format!("{server}/{database}");
                        let storage = usermgmt::postgres::PgStorage::connect(&db_url)
                            .await
                            .unwrap();
                        if !outbox {
                            let mut conn = sqlx::PgConnection::connect(&db_url).await.unwrap();
                            conn.execute("DROP TRIGGER audit_events_announce ON audit_events")
                                .await
                                .unwrap();
                        }
                        Arc::new(storage) as Arc<dyn Storage>
                    })
                });
                run("postgres", postgres, writes_n, events_n).await;
            }
            Err(_) => eprintln!("USERMGMT_BENCH_POSTGRES_URL not set: PostgreSQL skipped"),
        }
    });
}
