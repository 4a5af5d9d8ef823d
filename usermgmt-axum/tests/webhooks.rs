//! Webhooks over HTTP with a real receiver on loopback (allowed by this test's policy): the
//! receiver verifies every signature, fails the first two attempts of each delivery and
//! accepts the third; an always-failing receiver dead-letters; redelivery and replay send
//! again.

// Test set-up: failing loudly is the point.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use usermgmt_axum::{ApiState, router};
use usermgmt_core::events::{
    DELIVERY_ID_HEADER, EVENT_ID_HEADER, ReqwestTransport, SIGNATURE_HEADER, WebhookPolicy, verify,
};
use usermgmt_core::model::TenantId;
use usermgmt_core::password::{Password, PasswordPolicy};
use usermgmt_core::{ServiceConfig, UserService};
use usermgmt_sqlite::SqliteStorage;

const PASSWORD: &str = "correct horse battery";

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    delivery: String,
    event_id: String,
    body: Value,
    signed: bool,
    answered: u16,
}

#[derive(Default)]
struct Receiver {
    /// The signing secret per path, once the endpoint exists.
    secrets: BTreeMap<String, String>,
    /// Attempts seen per delivery id.
    attempts: BTreeMap<String, u32>,
    /// Whether `/flaky` always fails.
    down: bool,
    seen: Vec<Received>,
}

type Shared = Arc<Mutex<Receiver>>;

async fn receive(
    State(shared): State<Shared>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut r = shared.lock().unwrap();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let delivery = header(DELIVERY_ID_HEADER);
    let secret = r.secrets.get(&path).cloned().unwrap_or_default();
    let now = chrono::Utc::now().timestamp();
    let signed = verify(&secret, &header(SIGNATURE_HEADER), &body, now, 300);
    let attempt = {
        let n = r.attempts.entry(delivery.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let answered = if !signed {
        StatusCode::UNAUTHORIZED
    } else if path == "flaky" && r.down {
        StatusCode::SERVICE_UNAVAILABLE
    } else if path == "hook" && attempt <= 2 {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    };
    r.seen.push(Received {
        path,
        delivery,
        event_id: header(EVENT_ID_HEADER),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        signed,
        answered: answered.as_u16(),
    });
    answered
}

async fn start_receiver() -> (Shared, String) {
    let shared: Shared = Arc::new(Mutex::new(Receiver {
        down: true,
        ..Receiver::default()
    }));
    let app = Router::new()
        .route("/{path}", axum::routing::post(receive))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (shared, base)
}

/// An endpoint's delivery history, newest first.
async fn deliveries(app: &Router, token: Option<&str>, endpoint: &str) -> Value {
    let uri = format!("/v1/webhooks/{endpoint}/deliveries");
    let (status, body) = call(app, "GET", &uri, token, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn policy() -> WebhookPolicy {
    WebhookPolicy {
        allow_private_networks: true,
        allow_plain_http: true,
        max_attempts: 3,
        first_retry_delay: Duration::from_millis(40),
        max_retry_delay: Duration::from_millis(200),
        timeout: Duration::from_secs(5),
        ..WebhookPolicy::default()
    }
}

/// Runs dispatcher rounds until the receiver has seen what `want` asks for.
async fn until(
    dispatcher: &usermgmt_core::events::WebhookDispatcher,
    shared: &Shared,
    want: impl Fn(&Receiver) -> bool,
) {
    for _ in 0..400 {
        dispatcher.run_once().await.unwrap();
        if want(&shared.lock().unwrap()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "the receiver never saw what was expected: {:?}",
        shared.lock().unwrap().seen
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_signed_retried_dead_lettered_and_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(
        SqliteStorage::open(dir.path().join("users.db"))
            .await
            .unwrap(),
    );
    let config = ServiceConfig {
        password: PasswordPolicy::insecure_fast_for_tests(),
        webhooks: policy(),
        ..ServiceConfig::default()
    };
    let service = Arc::new(UserService::with_config(storage.clone(), config));
    let tenant = TenantId::new("acme").unwrap();
    service
        .bootstrap_super_admin(&tenant, "Admin", "admin@acme.test", Password::new(PASSWORD))
        .await
        .unwrap();
    let app = router(ApiState::new(service.clone(), tenant.clone()));
    let login = json!({ "identifier": "admin@acme.test", "password": PASSWORD });
    let (_, session) = call(&app, "POST", "/v1/auth/login", None, Some(login)).await;
    let admin = session["token"].as_str().unwrap().to_owned();
    let token = Some(admin.as_str());

    // The default policy refuses loopback (another service over the same database).
    let strict = UserService::with_config(
        storage.clone(),
        ServiceConfig {
            password: PasswordPolicy::insecure_fast_for_tests(),
            ..ServiceConfig::default()
        },
    );
    let strict_app = router(ApiState::new(Arc::new(strict), tenant.clone()));
    let (status, body) = call(
        &strict_app,
        "POST",
        "/v1/webhooks",
        token,
        Some(json!({ "url": "https://127.0.0.1/x" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("url"));

    let (shared, base) = start_receiver().await;
    let mut endpoints = BTreeMap::new();
    for path in ["hook", "flaky"] {
        let create = json!({ "url": format!("{base}/{path}"), "kinds": ["user.created"] });
        let (status, issued) = call(&app, "POST", "/v1/webhooks", token, Some(create)).await;
        assert_eq!(status, StatusCode::CREATED, "{issued}");
        let secret = issued["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"));
        shared
            .lock()
            .unwrap()
            .secrets
            .insert(path.to_owned(), secret.clone());
        let id = issued["endpoint"]["id"].as_str().unwrap().to_owned();
        let (_, one) = call(&app, "GET", &format!("/v1/webhooks/{id}"), token, None).await;
        assert!(
            !one.to_string().contains(&secret),
            "the secret is shown once"
        );
        endpoints.insert(path, id);
    }
    let (_, listed) = call(&app, "GET", "/v1/webhooks", token, None).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(2));

    let new_user = json!({ "name": "Wanda", "email": "wanda@acme.test", "is_learner": true, "password": "a secret Passw0rd!" });
    let (status, user) = call(&app, "POST", "/v1/users", token, Some(new_user)).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let user_id = user["id"].as_str().unwrap().to_owned();

    let transport = Arc::new(ReqwestTransport::new(&policy()).unwrap());
    let dispatcher = service.webhook_dispatcher(transport).await.unwrap();
    let delivered_to = |path: &'static str| {
        move |r: &Receiver| r.seen.iter().any(|s| s.path == path && s.answered == 204)
    };
    until(&dispatcher, &shared, delivered_to("hook")).await;
    // The flaky endpoint's delivery goes dead after its 3 attempts.
    for _ in 0..400 {
        dispatcher.run_once().await.unwrap();
        let d = deliveries(&app, token, &endpoints["flaky"]).await;
        if d[0]["status"] == "dead" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    let seen = shared.lock().unwrap().seen.clone();
    assert!(
        seen.iter().all(|s| s.signed),
        "every request carries a valid signature"
    );
    let hook: Vec<&Received> = seen.iter().filter(|s| s.path == "hook").collect();
    assert_eq!(
        hook.iter().map(|s| s.answered).collect::<Vec<_>>(),
        vec![500, 500, 204]
    );
    assert!(
        hook.iter().all(|s| s.delivery == hook[0].delivery),
        "one delivery, three attempts"
    );
    let body = &hook[2].body;
    assert_eq!(body["type"], "user.created");
    assert_eq!(body["user_id"], user_id.as_str());
    assert_eq!(body["tenant_id"], "acme");
    assert_eq!(body["id"].to_string(), hook[2].event_id);
    assert!(!body.to_string().contains("Passw0rd") && !body.to_string().contains("argon2"));

    let hook_deliveries = deliveries(&app, token, &endpoints["hook"]).await;
    assert_eq!(hook_deliveries[0]["status"], "delivered");
    assert_eq!(hook_deliveries[0]["attempts"], 3);
    assert_eq!(hook_deliveries[0]["response_status"], 204);
    let flaky = deliveries(&app, token, &endpoints["flaky"]).await;
    assert_eq!(flaky[0]["status"], "dead", "{flaky}");
    assert_eq!(flaky[0]["attempts"], 3);
    assert_eq!(flaky[0]["response_status"], 503);
    assert_eq!(seen.iter().filter(|s| s.path == "flaky").count(), 3);

    // Redelivery of the dead letter, once the receiver is back.
    shared.lock().unwrap().down = false;
    let dead = flaky[0]["id"].as_str().unwrap();
    let uri = format!(
        "/v1/webhooks/{}/deliveries/{dead}/redeliver",
        endpoints["flaky"]
    );
    let (status, _) = call(&app, "POST", &uri, token, None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    until(&dispatcher, &shared, delivered_to("flaky")).await;
    let flaky = deliveries(&app, token, &endpoints["flaky"]).await;
    assert_eq!(
        (flaky[0]["status"].as_str(), flaky[0]["attempts"].as_u64()),
        (Some("delivered"), Some(1))
    );

    // Replay from the first event: the admin's and Wanda's creations go to the endpoint again.
    // JSON Schema counts 1.0 as an integer: so does the server.
    let replay = json!({ "from_event_id": 1.0 });
    let uri = format!("/v1/webhooks/{}/replay", endpoints["flaky"]);
    let (status, outcome) = call(&app, "POST", &uri, token, Some(replay)).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["queued"], 2);
    assert_eq!(outcome["first_event_id"], 1);
    let before = shared.lock().unwrap().seen.len();
    until(&dispatcher, &shared, move |r: &Receiver| {
        r.seen.len() >= before + 2
    })
    .await;
    let replayed: Vec<String> = shared.lock().unwrap().seen[before..]
        .iter()
        .map(|s| s.body["user_id"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(replayed.contains(&user_id), "{replayed:?}");
    assert_eq!(replayed.len(), 2);

    // Managing webhooks takes webhook.manage: a user without it is refused.
    let (status, _) = call(&app, "GET", "/v1/webhooks", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
