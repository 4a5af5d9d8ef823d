//! The usermgmt HTTP API as a standalone server (SPEC §7).
//!
//! `cargo run --release --example server` serves on `127.0.0.1:8080` over the SQLite file
//! `usermgmt.db`, creating it and a super-admin on first start. Settings (environment):
//!
//! - `USERMGMT_DATABASE_URL` — a SQLite path (default `usermgmt.db`, `sqlite://` prefix
//!   optional) or `postgres://…` (needs `--features postgres`).
//! - `USERMGMT_BIND` — listen address (default `127.0.0.1:8080`; `USERMGMT_ADDR` is an alias).
//! - `USERMGMT_TRUSTED_PROXIES` — comma-separated addresses or networks of reverse proxies
//!   whose `X-Forwarded-For` names the client (default: none; the peer address is the client).
//! - `USERMGMT_TENANT` — the tenant logins sign in to (default `default`).
//! - `USERMGMT_ADMIN_EMAIL`, `USERMGMT_ADMIN_PASSWORD`, `USERMGMT_ADMIN_NAME` — the bootstrap
//!   super-admin (the default password is printed at start-up; one set here never is).
//! - `USERMGMT_LOGIN_CLIENT_BURST` — login attempts one client address may make at once
//!   before it is throttled (default 20, then one every 3 s; `0` turns the throttle off).
//! - `USERMGMT_GEOIP_DB` — a MaxMind DB file (e.g. `GeoLite2-City.mmdb`) that locates session
//!   IPs (needs `--features maxmind`).
//! - `USERMGMT_SYSTEM_TOKEN` — enables the system API with this token (at least 16
//!   characters; a shorter one stops the server).
//! - `USERMGMT_LEARNING_DB` — a learning database (SQLite file, default `usermgmt-learning.db`)
//!   wired as the enrollment source when the file exists, so the enrollment filters
//!   (`has_enrollments`, `progress_min`, …) apply; without it they are reported in
//!   `skipped_filters`.
//! - `RUST_LOG` — log filter (default `info,tower_http=debug`: every request is logged with
//!   its `x-request-id`, status and latency).
//!
//! The server plays an LMS host: it registers `course.view`, `course.create` and `grade.edit`
//! (grant them through roles on the Roles & Permissions page or the API) and guards its own
//! demo routes with them — `GET /lms/courses` (`course.view`), `POST /lms/courses`
//! (`course.create`) and `POST /lms/grades` (`grade.edit`).
//!
//! Account-flow messages (invitations, password resets, verifications) are kept in memory by
//! the development notifier and listed at `GET /dev/messages` for an administrator holding
//! every permission (a link lets its reader take the account over) — unless
//! `USERMGMT_SMTP_URL` is set:
//!
//! - `USERMGMT_SMTP_URL` — send email through this SMTP server (`smtp://host:port`, add
//!   `?tls=required` for STARTTLS, `smtps://` for TLS, `user:pass@` for credentials); SMS
//!   codes still go to `/dev/messages` (the example has no SMS gateway).
//! - `USERMGMT_SMTP_FROM` — the sender (default `usermgmt <no-reply@localhost>`).
//! - `USERMGMT_PUBLIC_URL` — the address users reach the server at, which links start with
//!   (default `http://` and the listen address); the pages are under `/admin/account/`.
//!
//! - `USERMGMT_WEBHOOKS_ALLOW_PRIVATE` — `1` accepts webhook endpoints on private and loopback
//!   addresses, over `http://` too (a receiver on this machine); default: public HTTPS only.
//! - `USERMGMT_WEBHOOK_DELIVERY` — `off` leaves deliveries queued instead of sending them from
//!   this process.
//!
//! `--demo-users N` first adds N generated users (seeded; roles, profiles, varied states,
//! sessions for a fifth of the active ones) when the tenant has only its admin, and writes their
//! enrollments to a new learning database at `USERMGMT_LEARNING_DB`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::http::{HeaderName, Request};
use chrono::Utc;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use usermgmt::http::{ApiState, Authorized, require, router};
use usermgmt::model::{PermissionRegistry, TenantId};
use usermgmt::password::Password;
use usermgmt::service::EnrollmentOptions;
use usermgmt::sqlite::SqliteEnrollmentSource;
use usermgmt::storage::{EnrollmentLayout, Storage};
use usermgmt::{Principal, ServiceConfig, UserService};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The bootstrap admin's password when `USERMGMT_ADMIN_PASSWORD` is not set (printed).
const DEFAULT_ADMIN_PASSWORD: &str = "change-me-now";

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_owned())
}

/// The LMS permissions this server registers as its host application's.
fn lms_permissions() -> Result<PermissionRegistry, BoxError> {
    Ok(PermissionRegistry::new()
        .register("course.view", "See courses and their members")?
        .register_writing("course.create", "Create courses")?
        .register_writing("grade.edit", "Enter and change grades")?)
}

/// The host application's own routes, each guarded by one of its permissions.
fn lms_routes(state: &ApiState) -> Result<axum::Router, BoxError> {
    use axum::routing::{get, post};
    let said = |what: &'static str| {
        move |caller: Authorized| async move {
            axum::Json(serde_json::json!({ "ok": what, "user_id": caller.actor.user_id }))
        }
    };
    let courses = get(said("course list"))
        .route_layer(require(state, "course.view")?)
        .merge(post(said("course created")).route_layer(require(state, "course.create")?));
    let grades = post(said("grade saved")).route_layer(require(state, "grade.edit")?);
    Ok(axum::Router::new()
        .route("/lms/courses", courses)
        .route("/lms/grades", grades))
}

/// `GET /dev/messages`: the account-flow messages the development notifier kept (links and
/// codes included) — no mail server needed to try the flows. Only for an administrator who
/// holds every registered permission (`everything`), and so outranks every user: a link lets
/// its reader take the account over.
fn dev_messages(
    state: &ApiState,
    messages: Arc<usermgmt::notify::DevNotifier>,
    everything: usermgmt::model::PermissionSet,
) -> Result<axum::Router, BoxError> {
    let list = move |auth: Authorized| {
        let messages = messages.clone();
        let allowed = everything.is_subset(&auth.actor.permissions);
        async move {
            if !allowed {
                let refusal = serde_json::json!({ "error": { "code": "forbidden", "message":
                    "the development messages are for an administrator holding every permission" } });
                return Err((axum::http::StatusCode::FORBIDDEN, axum::Json(refusal)));
            }
            let listed: Vec<serde_json::Value> = messages
                .messages()
                .iter()
                .map(|m| {
                    serde_json::json!({
                        "kind": m.kind, "user_id": m.user_id, "to": format!("{:?}", m.recipient),
                        "link": m.link(), "code": m.code(), "expires_at": m.expires_at,
                    })
                })
                .collect();
            Ok(axum::Json(listed))
        }
    };
    Ok(axum::Router::new()
        .route("/dev/messages", axum::routing::get(list))
        .route_layer(require(state, "user.update")?))
}

/// `--demo-users N`, if given.
fn demo_users() -> Result<Option<usize>, BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(None),
        [flag, n] if flag == "--demo-users" => Ok(Some(n.parse()?)),
        _ => Err("usage: server [--demo-users N]".into()),
    }
}

async fn open_storage(url: &str) -> Result<Arc<dyn Storage>, BoxError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        return Ok(Arc::new(usermgmt::postgres::PgStorage::connect(url).await?));
        #[cfg(not(feature = "postgres"))]
        return Err("PostgreSQL needs `--features postgres`".into());
    }
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    Ok(Arc::new(usermgmt::sqlite::SqliteStorage::open(path).await?))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=debug".into()),
        )
        .init();
    let demo = demo_users()?;
    let url = env_or("USERMGMT_DATABASE_URL", "usermgmt.db");
    let addr: SocketAddr = std::env::var("USERMGMT_BIND")
        .or_else(|_| std::env::var("USERMGMT_ADDR"))
        .unwrap_or_else(|_| "127.0.0.1:8080".to_owned())
        .parse()?;
    let email = env_or("USERMGMT_ADMIN_EMAIL", "admin@example.com");
    let password_given = std::env::var("USERMGMT_ADMIN_PASSWORD").is_ok();
    let password = env_or("USERMGMT_ADMIN_PASSWORD", DEFAULT_ADMIN_PASSWORD);
    let trusted_proxies = std::env::var("USERMGMT_TRUSTED_PROXIES")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<usermgmt::http::IpNet>().or_else(|_| {
                p.parse::<std::net::IpAddr>()
                    .map(usermgmt::http::IpNet::from)
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("USERMGMT_TRUSTED_PROXIES: {e}"))?;
    let name = env_or("USERMGMT_ADMIN_NAME", "Administrator");

    let learning_db = PathBuf::from(env_or("USERMGMT_LEARNING_DB", "usermgmt-learning.db"));

    let storage = open_storage(&url).await?;
    let mut config = ServiceConfig {
        permissions: lms_permissions()?,
        ..ServiceConfig::default()
    };
    if let Ok(burst) = std::env::var("USERMGMT_LOGIN_CLIENT_BURST") {
        config.throttle.client_burst = burst
            .parse()
            .map_err(|e| format!("USERMGMT_LOGIN_CLIENT_BURST: {e}"))?;
    }
    // Links in account messages open the admin UI's account pages.
    let public_url = env_or("USERMGMT_PUBLIC_URL", &format!("http://{addr}"));
    config.flows.link_base = format!("{}/admin", public_url.trim_end_matches('/'));
    // Account-flow messages stay in memory (`GET /dev/messages` shows them to an administrator
    // holding `user.update`), or go out by SMTP when USERMGMT_SMTP_URL is set.
    let messages = Arc::new(usermgmt::notify::DevNotifier::default());
    let notifier: Arc<dyn usermgmt::notify::Notifier> = match std::env::var("USERMGMT_SMTP_URL") {
        Ok(url) => {
            let from = env_or("USERMGMT_SMTP_FROM", "usermgmt <no-reply@localhost>");
            let smtp = usermgmt::notify::SmtpNotifier::new(&usermgmt::notify::SmtpSettings::new(
                url, from,
            ))?
            .with_templates(Arc::new(usermgmt::notify::DefaultTemplates {
                product: "the usermgmt example".to_owned(),
            }))
            .with_sms(messages.clone());
            println!("account messages: email by SMTP, SMS codes at /dev/messages");
            Arc::new(smtp)
        }
        Err(_) => messages.clone(),
    };
    // Webhook endpoints must be public HTTPS addresses, unless USERMGMT_WEBHOOKS_ALLOW_PRIVATE=1
    // (a receiver on this machine or the local network, over http or https).
    if env_or("USERMGMT_WEBHOOKS_ALLOW_PRIVATE", "0") == "1" {
        config.webhooks.allow_private_networks = true;
        config.webhooks.allow_plain_http = true;
    }
    let webhook_policy = config.webhooks.clone();
    let service = UserService::with_config(storage.clone(), config).with_notifier(notifier);
    // Session locations from a MaxMind DB file (GeoLite2-City.mmdb), with `--features maxmind`.
    #[cfg(feature = "maxmind")]
    let service = match std::env::var("USERMGMT_GEOIP_DB") {
        Ok(path) => {
            service.with_geo_resolver(Arc::new(usermgmt::geo::MaxMindResolver::open(&path)?))
        }
        Err(_) => service,
    };
    let tenant = match std::env::var("USERMGMT_TENANT") {
        Ok(name) => TenantId::new(name)?,
        Err(_) => TenantId::default_tenant(),
    };
    let admin = service
        .bootstrap_super_admin(&tenant, &name, &email, Password::new(password.clone()))
        .await?;
    // Stored grants of permissions no longer registered are named here (and grant nothing).
    service.permission_report().await?;
    // This process delivers webhooks unless USERMGMT_WEBHOOK_DELIVERY=off (several instances
    // over one PostgreSQL database share the deliveries).
    if env_or("USERMGMT_WEBHOOK_DELIVERY", "on") != "off" {
        let transport = Arc::new(usermgmt::events::ReqwestTransport::new(&webhook_policy)?);
        let dispatcher = service.webhook_dispatcher(transport).await?;
        // The handle is dropped: deliveries run for the life of the process.
        drop(dispatcher.spawn(std::time::Duration::from_millis(500)));
    }
    if let Some(count) = demo {
        let me = Principal::user(tenant.clone(), admin.id);
        let stats = service.stats(&me).await?;
        if stats.total <= 1 {
            let started = std::time::Instant::now();
            let added = usermgmt_testkit::demo::load(
                storage.as_ref(),
                7,
                &tenant,
                count,
                Utc::now(),
                &learning_db,
                &mut |stage, done, total| {
                    println!("demo {stage}: {done}/{total} ({:.1?})", started.elapsed())
                },
            )
            .await?;
            println!(
                "added {} demo users, {} sessions and {} enrollments (in {}) in {:.1?}",
                added.users,
                added.sessions,
                added.enrollments,
                learning_db.display(),
                started.elapsed()
            );
            // The demo learning database gets the change feed, so the counting index keeps
            // its enrollments and answers enrollment filters in memory.
            SqliteEnrollmentSource::new(&learning_db, EnrollmentLayout::default())?
                .install_change_feed()?;
        } else {
            println!(
                "the tenant already has {} users: no demo users added",
                stats.total
            );
        }
    }

    let service = if learning_db.exists() {
        let source = SqliteEnrollmentSource::new(&learning_db, EnrollmentLayout::default())?;
        println!("enrollment source: {}", learning_db.display());
        service.with_enrollment_source(Arc::new(source), EnrollmentOptions::default())
    } else {
        println!(
            "no learning database at {}: enrollment filters are skipped",
            learning_db.display()
        );
        service
    };
    // Build the counting index now rather than on the first counted request (requests that
    // need it meanwhile wait for it; the enrollments', when the learning database has its
    // change feed, answer through the source until they are read).
    let warming = service.clone();
    let warm_tenant = tenant.clone();
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        match warming.warm_counts(&warm_tenant).await {
            Ok(true) => println!("counting index built in {:.1?}", started.elapsed()),
            Ok(false) => {}
            Err(e) => eprintln!("counting index not built: {e}"),
        }
    });

    let everything = service.permissions().all();
    let mut state = ApiState::new(Arc::new(service), tenant).with_trusted_proxies(trusted_proxies);
    if let Ok(token) = std::env::var("USERMGMT_SYSTEM_TOKEN") {
        state = state.with_system_token(&token)?;
    }
    // Every request gets an `x-request-id` (kept if the client sent one), logged with its
    // method, path, status and latency, and echoed in the response.
    let request_id = HeaderName::from_static("x-request-id");
    // SCIM 2.0 for identity providers, authenticated by provisioning tokens.
    let app = router(state.clone())
        .nest("/scim/v2", usermgmt::http::scim_router(state.clone()))
        .merge(lms_routes(&state)?)
        .merge(dev_messages(&state, messages, everything)?);
    // The admin web UI at /admin/users, calling the API at the root.
    #[cfg(feature = "admin-ui")]
    let app = app.merge(usermgmt::http::admin_ui("", "/admin"));
    // Unknown paths and methods answer the JSON error model across the whole app.
    let app = app.layer(axum::middleware::map_response(usermgmt::http::json_errors));
    let app = app.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                    let id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", id, method = %request.method(), path = %request.uri().path())
                }),
            )
            .layer(PropagateRequestIdLayer::new(request_id)),
    );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("usermgmt listening on http://{}", listener.local_addr()?);
    println!("database: {url}");
    #[cfg(feature = "admin-ui")]
    println!("admin UI: http://{}/admin/users", listener.local_addr()?);
    if password_given {
        println!("admin: {email} (password from USERMGMT_ADMIN_PASSWORD)");
    } else {
        println!(
            "admin: {email} / {password} (the default: set USERMGMT_ADMIN_EMAIL and USERMGMT_ADMIN_PASSWORD)"
        );
        println!(
            "try: curl -s -X POST http://{addr}/v1/auth/login -H 'content-type: application/json' \
             -d '{{\"identifier\":\"{email}\",\"password\":\"{password}\"}}'"
        );
    }
    // With the peer address: sessions record the client IP, logins are throttled per client.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
        println!("shutting down");
    })
    .await?;
    Ok(())
}
