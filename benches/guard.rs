//! The cost of guarding a host route with a host permission (`usermgmt_axum::require`), on
//! SQLite and (with `USERMGMT_BENCH_POSTGRES_URL`, a server URL: the bench creates and drops a
//! database of its own) PostgreSQL, against baselines measured in the same run:
//!
//! - **unguarded**: the same trivial route with no check (the floor);
//! - **hand-written**: the check a host would write itself against the same database — one
//!   SQL statement that finds the session by its token hash and asks whether its active user
//!   holds the permission through a role or directly — over one `rusqlite` connection in
//!   `block_in_place`, as usermgmt's own SQLite pool runs its queries (on PostgreSQL, one
//!   query on an `sqlx` pool);
//! - **framework-style**: the same check in the two steps a generic authorisation layer takes
//!   (axum-login's `AuthnBackend::get_user` for the session's user, then
//!   `AuthzBackend::get_user_permissions` and a set look-up), on the same connection.
//!
//! The guard does what the hand-written check does, plus usermgmt's rules: it resolves the
//! session (expiry, termination, impersonation still valid), reads the user's status and
//! effective permissions, ignores unregistered names and refuses writing permissions to
//! read-only impersonation sessions. Grants are read on every request (no cache), so a
//! revocation applies to the next request.
//!
//! Harness: plain timing loops (`harness = false`): requests go through the axum router
//! in-process (`tower::ServiceExt::oneshot`), one at a time; `USERMGMT_BENCH_ROUNDS` rounds
//! (default 7) of `USERMGMT_BENCH_REQUESTS` requests (default 2,000) per variant, variants in
//! a fresh random order each round; the median of the rounds' mean latencies is printed with
//! the guard's overhead over the unguarded route and its ratio to the hand-written check.
//!
//! Run: `cargo bench --bench guard --features postgres`.

// A benchmark harness: failing loudly on a broken set-up is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use tower::ServiceExt;
use usermgmt::http::{ApiState, Authorized, require};
use usermgmt::model::{Permission, PermissionRegistry, SessionToken, TenantId};
use usermgmt::password::{Password, PasswordPolicy};
use usermgmt::service::{ClientInfo, CreateRole, CreateUser, LoginRequest};
use usermgmt::sqlite::SqliteStorage;
use usermgmt::storage::Storage;
use usermgmt::{Principal, ServiceConfig, UserService};

const PASSWORD: &str = "correct horse battery staple";

/// The hand-written check: the session's active user holds the permission.
const CHECK: &str = "SELECT EXISTS (SELECT 1 FROM sessions s JOIN users u ON u.seq = s.user_seq \
    WHERE s.token_hash = ?1 AND s.terminated_at IS NULL AND s.expires_at > ?2 \
    AND u.status = 'active' AND (\
    EXISTS (SELECT 1 FROM user_roles ur JOIN role_permissions rp ON rp.role_id = ur.role_id \
        WHERE ur.user_seq = u.seq AND rp.permission = ?3) \
    OR EXISTS (SELECT 1 FROM user_permissions up WHERE up.user_seq = u.seq AND up.permission = ?3)))";

/// The session's active user (framework-style, step 1).
const SESSION_USER: &str = "SELECT u.seq FROM sessions s JOIN users u ON u.seq = s.user_seq \
    WHERE s.token_hash = ?1 AND s.terminated_at IS NULL AND s.expires_at > ?2 \
    AND u.status = 'active'";

/// The user's permissions (framework-style, step 2).
const USER_PERMISSIONS: &str = "SELECT rp.permission FROM user_roles ur \
    JOIN role_permissions rp ON rp.role_id = ur.role_id WHERE ur.user_seq = ?1 \
    UNION SELECT up.permission FROM user_permissions up WHERE up.user_seq = ?1";

async fn framework_style(
    conn: Arc<Mutex<rusqlite::Connection>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(hash) = bearer_hash(&request) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let now = chrono::Utc::now().timestamp_micros();
    let user = tokio::task::block_in_place(|| {
        let conn = conn.lock().unwrap();
        let mut stmt = conn.prepare_cached(SESSION_USER).unwrap();
        stmt.query_row(rusqlite::params![&hash[..], now], |r| r.get::<_, i64>(0))
            .ok()
    });
    let Some(user) = user else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let permissions: std::collections::HashSet<String> = tokio::task::block_in_place(|| {
        let conn = conn.lock().unwrap();
        let mut stmt = conn.prepare_cached(USER_PERMISSIONS).unwrap();
        stmt.query_map([user], |r| r.get::<_, String>(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    });
    if permissions.contains("course.view") {
        next.run(request).await
    } else {
        StatusCode::FORBIDDEN.into_response()
    }
}

async fn hand_written(
    conn: Arc<Mutex<rusqlite::Connection>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(hash) = bearer_hash(&request) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let now = chrono::Utc::now().timestamp_micros();
    // As usermgmt's own SQLite pool does: no thread hop, the worker hands its other tasks on.
    let allowed = tokio::task::block_in_place(|| {
        let conn = conn.lock().unwrap();
        let mut stmt = conn.prepare_cached(CHECK).unwrap();
        stmt.query_row(rusqlite::params![&hash[..], now, "course.view"], |r| {
            r.get::<_, bool>(0)
        })
        .unwrap()
    });
    if allowed {
        next.run(request).await
    } else {
        StatusCode::FORBIDDEN.into_response()
    }
}

/// The hand-written check on PostgreSQL.
const PG_CHECK: &str = "SELECT EXISTS (SELECT 1 FROM sessions s JOIN users u \
    ON u.tenant_id = s.tenant_id AND u.id = s.user_id \
    WHERE s.token_hash = $1 AND s.terminated_at IS NULL AND s.expires_at > now() \
    AND u.status = 'active' AND (\
    EXISTS (SELECT 1 FROM user_roles ur JOIN role_permissions rp \
        ON rp.tenant_id = ur.tenant_id AND rp.role_id = ur.role_id \
        WHERE ur.tenant_id = u.tenant_id AND ur.user_id = u.id AND rp.permission = $2) \
    OR EXISTS (SELECT 1 FROM user_permissions up \
        WHERE up.tenant_id = u.tenant_id AND up.user_id = u.id AND up.permission = $2)))";

/// Framework-style on PostgreSQL, step 1 and step 2.
const PG_SESSION_USER: &str = "SELECT u.tenant_id, u.id FROM sessions s JOIN users u \
    ON u.tenant_id = s.tenant_id AND u.id = s.user_id \
    WHERE s.token_hash = $1 AND s.terminated_at IS NULL AND s.expires_at > now() \
    AND u.status = 'active'";
const PG_USER_PERMISSIONS: &str = "SELECT rp.permission FROM user_roles ur JOIN role_permissions rp \
    ON rp.tenant_id = ur.tenant_id AND rp.role_id = ur.role_id \
    WHERE ur.tenant_id = $1 AND ur.user_id = $2 \
    UNION SELECT permission FROM user_permissions WHERE tenant_id = $1 AND user_id = $2";

fn bearer_hash(request: &Request) -> Option<[u8; 32]> {
    request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| SessionToken::from_client(t).hash())
}

async fn pg_hand_written(pool: sqlx::PgPool, request: Request, next: Next) -> Response {
    let Some(hash) = bearer_hash(&request) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let allowed: bool = sqlx::query_scalar(PG_CHECK)
        .bind(&hash[..])
        .bind("course.view")
        .fetch_one(&pool)
        .await
        .unwrap();
    if allowed {
        next.run(request).await
    } else {
        StatusCode::FORBIDDEN.into_response()
    }
}

async fn pg_framework_style(pool: sqlx::PgPool, request: Request, next: Next) -> Response {
    let Some(hash) = bearer_hash(&request) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let user: Option<(String, uuid::Uuid)> = sqlx::query_as(PG_SESSION_USER)
        .bind(&hash[..])
        .fetch_optional(&pool)
        .await
        .unwrap();
    let Some((tenant, user)) = user else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let permissions: std::collections::HashSet<String> = sqlx::query_scalar(PG_USER_PERMISSIONS)
        .bind(tenant)
        .bind(user)
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    if permissions.contains("course.view") {
        next.run(request).await
    } else {
        StatusCode::FORBIDDEN.into_response()
    }
}

fn mean(total: Duration, n: usize) -> Duration {
    total / u32::try_from(n).unwrap()
}

/// A service over `storage` with a teacher who holds `course.view` through a role, and the
/// teacher's session token.
fn teacher_session(
    runtime: &tokio::runtime::Runtime,
    storage: Arc<dyn Storage>,
) -> (Arc<UserService>, TenantId, String) {
    let permissions = PermissionRegistry::new()
        .register("course.view", "See courses")
        .unwrap()
        .register_writing("course.create", "Create courses")
        .unwrap();
    let config = ServiceConfig {
        password: PasswordPolicy::insecure_fast_for_tests(),
        permissions,
        ..ServiceConfig::default()
    };
    let service = Arc::new(UserService::with_config(storage, config));
    let tenant = TenantId::default_tenant();
    let token = runtime.block_on(async {
        let admin = service
            .bootstrap_super_admin(
                &tenant,
                "Bench",
                "bench@example.com",
                Password::new(PASSWORD),
            )
            .await
            .unwrap();
        let admin = Principal::user(tenant.clone(), admin.id);
        let course_view = Permission::new("course.view").unwrap();
        service
            .create_role(
                &admin,
                CreateRole {
                    name: "teacher".into(),
                    description: None,
                    permissions: vec![course_view, Permission::USER_VIEW],
                },
            )
            .await
            .unwrap();
        let teacher = CreateUser {
            name: "Tess".into(),
            email: Some("tess@example.com".into()),
            password: Some(Password::new(PASSWORD)),
            is_instructor: true,
            roles: vec!["teacher".into()],
            ..Default::default()
        };
        service.create_user(&admin, teacher).await.unwrap();
        let request = LoginRequest {
            identifier: "tess@example.com".into(),
            password: Password::new(PASSWORD),
        };
        let outcome = service
            .login(&tenant, request, ClientInfo::default())
            .await
            .unwrap();
        outcome.token.expose().to_owned()
    });
    (service, tenant, token)
}

/// Times the variants (`[unguarded, hand-written, framework-style, guard]`) and prints them.
fn measure(
    runtime: &tokio::runtime::Runtime,
    backend: &str,
    variants: [(&str, Router); 4],
    token: &str,
    rounds: usize,
    requests: usize,
) {
    let call = |app: &Router| {
        let request = Request::get("/courses")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
    };
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); variants.len()];
    let mut rng = StdRng::seed_from_u64(17);
    for round in 0..=rounds {
        let mut order: Vec<usize> = (0..variants.len()).collect();
        order.shuffle(&mut rng);
        for i in order {
            let app = &variants[i].1;
            let started = Instant::now();
            runtime.block_on(async {
                for _ in 0..requests {
                    call(app).await;
                }
            });
            // Round 0 warms up.
            if round > 0 {
                samples[i].push(mean(started.elapsed(), requests));
            }
        }
    }
    let medians: Vec<Duration> = samples
        .iter_mut()
        .map(|s| {
            s.sort();
            s[s.len() / 2]
        })
        .collect();
    println!(
        "## Guarding a host route ({backend}, {rounds} rounds × {requests} requests, in-process)\n"
    );
    println!("| variant | median per request | min | max |");
    println!("|---|---|---|---|");
    for ((name, _), s) in variants.iter().zip(&samples) {
        println!(
            "| {name} | {:.1?} | {:.1?} | {:.1?} |",
            s[s.len() / 2],
            s[0],
            s[s.len() - 1]
        );
    }
    let (floor, by_hand, framework, guard) = (medians[0], medians[1], medians[2], medians[3]);
    println!(
        "\noverhead over the unguarded route — guard: {:.1?}; hand-written: {:.1?}; \
         framework-style: {:.1?}. guard / hand-written: {:.2}×; guard / framework-style: {:.2}×\n",
        guard.saturating_sub(floor),
        by_hand.saturating_sub(floor),
        framework.saturating_sub(floor),
        guard.as_secs_f64() / by_hand.as_secs_f64(),
        guard.as_secs_f64() / framework.as_secs_f64()
    );
}

/// The unguarded route and the guarded one over `service`.
fn ours(service: &Arc<UserService>, tenant: &TenantId) -> (Router, Router) {
    let state = ApiState::new(service.clone(), tenant.clone());
    let unguarded = Router::new().route("/courses", get(|| async { "ok" }));
    let guarded = Router::new()
        .route("/courses", get(|_: Authorized| async { "ok" }))
        .route_layer(require(&state, "course.view").unwrap());
    (unguarded, guarded)
}

fn main() {
    let env = |key: &str, default: usize| {
        std::env::var(key)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rounds = env("USERMGMT_BENCH_ROUNDS", 7);
    let requests = env("USERMGMT_BENCH_REQUESTS", 2_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("guard.db");
    let storage = runtime.block_on(SqliteStorage::open(&path)).expect("open");
    let (service, tenant, token) = teacher_session(&runtime, Arc::new(storage));
    let (unguarded, guarded) = ours(&service, &tenant);
    let conn = Arc::new(Mutex::new(rusqlite::Connection::open(&path).unwrap()));
    let shared = conn.clone();
    let by_hand = Router::new()
        .route("/courses", get(|| async { "ok" }))
        .route_layer(axum::middleware::from_fn(move |request, next| {
            hand_written(shared.clone(), request, next)
        }));
    let framework = Router::new()
        .route("/courses", get(|| async { "ok" }))
        .route_layer(axum::middleware::from_fn(move |request, next| {
            framework_style(conn.clone(), request, next)
        }));
    let variants = [
        ("unguarded route", unguarded),
        ("hand-written check (1 SQL statement)", by_hand),
        ("framework-style check (user, then permissions)", framework),
        ("usermgmt_axum::require(\"course.view\")", guarded),
    ];
    measure(&runtime, "SQLite", variants, &token, rounds, requests);

    let Ok(server) = std::env::var("USERMGMT_BENCH_POSTGRES_URL") else {
        println!("(USERMGMT_BENCH_POSTGRES_URL not set: PostgreSQL skipped)");
        return;
    };
    let admin = runtime
        .block_on(sqlx::PgPool::connect(&server))
        .expect("the PostgreSQL server");
    for statement in [
        "DROP DATABASE IF EXISTS usermgmt_guard_bench",
        "CREATE DATABASE usermgmt_guard_bench",
    ] {
        runtime
            .block_on(sqlx::query(statement).execute(&admin))
            .unwrap();
    }
    let (base, _) = server
        .rsplit_once('/')
        .expect("USERMGMT_BENCH_POSTGRES_URL needs a database path");
    let url = format!("{base}/usermgmt_guard_bench");
    let storage = runtime
        .block_on(usermgmt::postgres::PgStorage::connect(&url))
        .unwrap();
    let (service, tenant, token) = teacher_session(&runtime, Arc::new(storage));
    let (unguarded, guarded) = ours(&service, &tenant);
    let pool = runtime.block_on(sqlx::PgPool::connect(&url)).unwrap();
    let shared = pool.clone();
    let by_hand = Router::new()
        .route("/courses", get(|| async { "ok" }))
        .route_layer(axum::middleware::from_fn(move |request, next| {
            pg_hand_written(shared.clone(), request, next)
        }));
    let framework = Router::new()
        .route("/courses", get(|| async { "ok" }))
        .route_layer(axum::middleware::from_fn(move |request, next| {
            pg_framework_style(pool.clone(), request, next)
        }));
    let variants = [
        ("unguarded route", unguarded),
        ("hand-written check (1 query)", by_hand),
        ("framework-style check (user, then permissions)", framework),
        ("usermgmt_axum::require(\"course.view\")", guarded),
    ];
    measure(
        &runtime,
        "PostgreSQL",
        variants,
        &token,
        rounds,
        requests / 4,
    );
    drop(service);
    runtime
        .block_on(
            sqlx::query("DROP DATABASE IF EXISTS usermgmt_guard_bench WITH (FORCE)")
                .execute(&admin),
        )
        .unwrap();
}
