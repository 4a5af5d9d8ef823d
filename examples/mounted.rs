//! Mounting the usermgmt routes inside an existing axum app: the host keeps its own routes and
//! state, the admin API lives under `/admin` (e.g. `POST /admin/v1/auth/login`,
//! `GET /admin/v1/users`) and the admin web UI under `/admin/ui` (`/admin/ui/users`), calling
//! that API. The host's own `POST /courses` is guarded by a host permission, `course.create`,
//! which it registers with usermgmt and grants through usermgmt's roles: a caller's session
//! token (from `POST /admin/v1/auth/login`) goes in `Authorization: Bearer …`.
//!
//! Run with `cargo run --example mounted` (serves on `127.0.0.1:8081` over `mounted.db`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use usermgmt::http::{ApiState, Authorized, admin_ui, require, router};
use usermgmt::model::{PermissionRegistry, TenantId};
use usermgmt::password::Password;
use usermgmt::sqlite::SqliteStorage;
use usermgmt::{ServiceConfig, UserService};

/// The host application's own state.
#[derive(Clone, Default)]
struct HostState {
    hits: Arc<AtomicU64>,
}

async fn hello(State(host): State<HostState>) -> String {
    let n = host.hits.fetch_add(1, Ordering::Relaxed) + 1;
    format!("hello from the host app (visit {n})\n")
}

/// A host route: only callers holding `course.create` reach it.
async fn create_course(caller: Authorized) -> String {
    format!("course created by user {}\n", caller.actor.user_id)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let storage = SqliteStorage::open("mounted.db").await?;
    let permissions = PermissionRegistry::new()
        .register("course.view", "See courses")?
        .register_writing("course.create", "Create courses")?;
    let config = ServiceConfig {
        permissions,
        ..Default::default()
    };
    let service = Arc::new(UserService::with_config(Arc::new(storage), config));
    let tenant = TenantId::default_tenant();
    service
        .bootstrap_super_admin(
            &tenant,
            "Host Admin",
            "admin@example.com",
            Password::new("change-me-now"),
        )
        .await?;
    service.permission_report().await?;

    let state = ApiState::new(service, tenant);
    let courses = Router::new()
        .route("/courses", post(create_course))
        .route_layer(require(&state, "course.create")?);
    let admin_api = router(state);
    let app = Router::new()
        .merge(courses)
        .route("/", get(hello))
        .route("/health", get(|| async { "ok\n" }))
        .with_state(HostState::default())
        .nest("/admin", admin_api)
        .merge(admin_ui("/admin", "/admin/ui"));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
    println!(
        "host app on http://{addr}/ ; admin API under /admin/v1/… ; admin UI at http://{addr}/admin/ui/users",
        addr = listener.local_addr()?
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
