//! The account-flow routes (SPEC §10) over HTTP: invitations, verification (link or SMS code),
//! self-service deletion, and the password reset sent by an administrator,
//! requested for an identifier (the same answer for known and unknown ones, throttled per
//! client) and confirmed with the link's token.

// Test set-up: failing loudly is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use usermgmt_axum::{ApiState, ClientIp, router};
use usermgmt_core::model::TenantId;
use usermgmt_core::notify::DevNotifier;
use usermgmt_core::password::{Password, PasswordPolicy};
use usermgmt_core::service::ThrottlePolicy;
use usermgmt_core::{ServiceConfig, UserService};
use usermgmt_sqlite::SqliteStorage;

const ADMIN: (&str, &str) = ("ada@acme.test", "correct horse battery");

struct Fixture {
    app: Router,
    notifier: Arc<DevNotifier>,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let storage = SqliteStorage::open(dir.path().join("users.db"))
        .await
        .unwrap();
    let config = ServiceConfig {
        password: PasswordPolicy::insecure_fast_for_tests(),
        throttle: ThrottlePolicy {
            client_burst: 12,
            ..ThrottlePolicy::default()
        },
        ..ServiceConfig::default()
    };
    let notifier = Arc::new(DevNotifier::default());
    let service = Arc::new(
        UserService::with_config(Arc::new(storage), config).with_notifier(notifier.clone()),
    );
    let tenant = TenantId::new("acme").unwrap();
    service
        .bootstrap_super_admin(&tenant, "Ada Admin", ADMIN.0, Password::new(ADMIN.1))
        .await
        .unwrap();
    Fixture {
        app: router(ApiState::new(service, tenant)),
        notifier,
        _dir: dir,
    }
}

/// A request from `client` (the throttle's key), with an optional bearer token.
fn call(
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
    client: u8,
) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let mut request = match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => request.body(Body::empty()).unwrap(),
    };
    request
        .extensions_mut()
        .insert(ClientIp(IpAddr::V4(Ipv4Addr::new(203, 0, 113, client))));
    request
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Vec<u8>) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body.to_vec())
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

async fn login(app: &Router, identifier: &str, password: &str) -> (StatusCode, Value) {
    let body = json!({ "identifier": identifier, "password": password });
    let (status, body) = send(app, call("POST", "/v1/auth/login", None, Some(body), 1)).await;
    (status, json_of(&body))
}

/// The newest message's token, waiting for the background delivery.
async fn newest_token(notifier: &DevNotifier, seen: usize) -> Option<String> {
    for _ in 0..200 {
        let messages = notifier.messages();
        if messages.len() > seen {
            let link = messages
                .last()
                .unwrap()
                .link()
                .unwrap_or_default()
                .to_owned();
            return link.split("token=").nth(1).map(str::to_owned);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    None
}

#[tokio::test]
async fn an_admin_sends_a_reset_and_the_link_sets_a_password_once() {
    let fx = fixture().await;
    let app = &fx.app;
    let (_, body) = login(app, ADMIN.0, ADMIN.1).await;
    let admin = body["token"].as_str().unwrap().to_owned();
    let user = json!({ "name": "Lea", "email": "lea@acme.test", "password": "learner password 1", "is_learner": true });
    let (status, body) = send(app, call("POST", "/v1/users", Some(&admin), Some(user), 1)).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = json_of(&body)["id"].as_str().unwrap().to_owned();
    let (_, body) = login(app, "lea@acme.test", "learner password 1").await;
    let lea_session = body["token"].as_str().unwrap().to_owned();

    let uri = format!("/v1/users/{id}/password-reset");
    let (status, _) = send(app, call("POST", &uri, Some(&lea_session), None, 1)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "needs user.update");
    let (status, _) = send(app, call("POST", &uri, None, None, 1)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = send(app, call("POST", &uri, Some(&admin), None, 1)).await;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let token = newest_token(&fx.notifier, 0).await.unwrap();

    let confirm = |password: &str| {
        call(
            "POST",
            "/v1/auth/password-reset/confirm",
            None,
            Some(json!({ "token": token, "password": password })),
            1,
        )
    };
    let (status, body) = send(app, confirm("short")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(json_of(&body)["error"]["fields"]["password"].is_array());
    let (status, _) = send(app, confirm("a brand new passphrase")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = send(app, confirm("a brand new passphrase")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = json_of(&body)["error"]["fields"]["token"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("already used"), "{message}");

    let (status, _) = send(app, call("GET", "/v1/auth/me", Some(&lea_session), None, 1)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "sessions ended");
    let (status, _) = login(app, "lea@acme.test", "a brand new passphrase").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn requests_answer_alike_for_known_and_unknown_identifiers_and_are_throttled() {
    let fx = fixture().await;
    let app = &fx.app;
    let ask = |identifier: &str, client: u8| {
        call(
            "POST",
            "/v1/auth/password-reset",
            None,
            Some(json!({ "identifier": identifier })),
            client,
        )
    };
    let known = send(app, ask(ADMIN.0, 2)).await;
    let unknown = send(app, ask("nobody@acme.test", 2)).await;
    assert_eq!(known.0, StatusCode::ACCEPTED);
    assert_eq!(known, unknown, "same status and body");
    let token = newest_token(&fx.notifier, 0)
        .await
        .expect("the admin got a link");
    assert_eq!(fx.notifier.messages().len(), 1, "nobody else did");
    assert_eq!(token.len(), 43);

    let (status, body) = send(app, ask("   ", 2)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(json_of(&body)["error"]["fields"]["identifier"].is_array());

    // Client 3 spends its budget (12 attempts, shared with logins), then gets 429.
    let mut statuses = Vec::new();
    for i in 0..14 {
        statuses.push(send(app, ask(&format!("user{i}@acme.test"), 3)).await.0);
    }
    assert!(
        statuses[..12].iter().all(|s| *s == StatusCode::ACCEPTED),
        "{statuses:?}"
    );
    assert_eq!(statuses[13], StatusCode::TOO_MANY_REQUESTS);
    // Another client is not affected.
    assert_eq!(
        send(app, ask("x@acme.test", 4)).await.0,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn a_user_deletes_their_own_account_with_their_password() {
    let fx = fixture().await;
    let app = &fx.app;
    let (_, body) = login(app, ADMIN.0, ADMIN.1).await;
    let admin = body["token"].as_str().unwrap().to_owned();
    let user = json!({ "name": "Lea", "email": "lea@acme.test", "password": "learner password 1", "is_learner": true });
    let (status, _) = send(app, call("POST", "/v1/users", Some(&admin), Some(user), 1)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, body) = login(app, "lea@acme.test", "learner password 1").await;
    let lea = body["token"].as_str().unwrap().to_owned();
    let delete = |body: Value| call("DELETE", "/v1/auth/me", Some(&lea), Some(body), 1);
    let (status, body) = send(app, delete(json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(json_of(&body)["error"]["fields"]["password"].is_array());
    let (status, _) = send(app, delete(json!({ "password": "not it at all" }))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = send(app, delete(json!({ "password": "learner password 1" }))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(app, call("GET", "/v1/auth/me", Some(&lea), None, 1)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = login(app, "lea@acme.test", "learner password 1").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a deleted account cannot sign in"
    );
}

/// The newest message's code, waiting for the background delivery.
async fn newest_code(notifier: &DevNotifier, seen: usize) -> Option<String> {
    for _ in 0..200 {
        let messages = notifier.messages();
        if messages.len() > seen {
            return messages.last().unwrap().code().map(str::to_owned);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    None
}

#[tokio::test]
async fn an_invited_user_sets_a_password_and_signs_in() {
    let fx = fixture().await;
    let app = &fx.app;
    let (_, body) = login(app, ADMIN.0, ADMIN.1).await;
    let admin = body["token"].as_str().unwrap().to_owned();
    let user =
        json!({ "name": "Ivo", "email": "ivo@acme.test", "invite": true, "is_learner": true });
    let (status, body) = send(app, call("POST", "/v1/users", Some(&admin), Some(user), 1)).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = json_of(&body)["id"].as_str().unwrap().to_owned();
    let token = newest_token(&fx.notifier, 0).await.unwrap();
    let both = json!({ "name": "Bo", "email": "bo@acme.test", "invite": true, "password": "learner password 1" });
    let (status, body) = send(app, call("POST", "/v1/users", Some(&admin), Some(both), 1)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(json_of(&body)["error"]["fields"]["invite"].is_array());

    let uri = format!("/v1/users/{id}/invite");
    let (status, _) = send(app, call("POST", &uri, None, None, 1)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let accept = |token: &str, password: &str| {
        call(
            "POST",
            "/v1/auth/invitation/accept",
            None,
            Some(json!({ "token": token, "password": password })),
            1,
        )
    };
    let (status, _) = send(app, accept(&token, "short")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = send(app, accept(&token, "the one I picked")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = send(app, accept(&token, "the one I picked")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(json_of(&body)["error"]["fields"]["token"].is_array());
    let (status, body) = login(app, "ivo@acme.test", "the one I picked").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"]["email_verified"], json!(true));
    let ivo = body["token"].as_str().unwrap().to_owned();
    let (status, _) = send(app, call("POST", &uri, Some(&ivo), None, 1)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "needs user.update");
    let (status, body) = send(app, call("POST", &uri, Some(&admin), None, 1)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "has a password now");
    assert!(json_of(&body)["error"]["fields"]["user_id"].is_array());
}

#[tokio::test]
async fn verification_by_link_or_code_over_http() {
    let fx = fixture().await;
    let app = &fx.app;
    let (_, body) = login(app, ADMIN.0, ADMIN.1).await;
    let admin = body["token"].as_str().unwrap().to_owned();
    let vera = json!({ "name": "Vera", "email": "vera@acme.test", "password": "learner password 1",
        "status": "pending_verification", "is_learner": true });
    let (status, _) = send(app, call("POST", "/v1/users", Some(&admin), Some(vera), 1)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = login(app, "vera@acme.test", "learner password 1").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], json!("verification_required"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("POST /v1/auth/verification")
    );
    let ask = |identifier: &str| {
        call(
            "POST",
            "/v1/auth/verification",
            None,
            Some(json!({ "identifier": identifier })),
            2,
        )
    };
    let known = send(app, ask("vera@acme.test")).await;
    let unknown = send(app, ask("nobody@acme.test")).await;
    assert_eq!(known.0, StatusCode::ACCEPTED);
    assert_eq!(known, unknown, "same status and body");
    // Asking counts against the client's budget (12 here, shared with logins): client 5 gets
    // 429 past it, and an empty identifier is a 400.
    let mut statuses = Vec::new();
    for i in 0..13 {
        let body = json!({ "identifier": format!("u{i}@acme.test") });
        let request = call("POST", "/v1/auth/verification", None, Some(body), 5);
        statuses.push(send(app, request).await.0);
    }
    assert!(
        statuses[..12].iter().all(|s| *s == StatusCode::ACCEPTED),
        "{statuses:?}"
    );
    assert_eq!(statuses[12], StatusCode::TOO_MANY_REQUESTS);
    let (status, _) = send(app, ask("  ")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let token = newest_token(&fx.notifier, 0).await.unwrap();
    let verify = json!({ "token": token });
    let (status, _) = send(app, call("POST", "/v1/auth/verify", None, Some(verify), 1)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = login(app, "vera@acme.test", "learner password 1").await;
    assert_eq!(status, StatusCode::OK);

    // By SMS: a code; unknown accounts and wrong codes answer alike; 429 past the budget.
    let phil = json!({ "name": "Phil", "phone": "+14155550177", "password": "learner password 1",
        "status": "pending_verification", "is_learner": true });
    let (_, body) = send(app, call("POST", "/v1/users", Some(&admin), Some(phil), 1)).await;
    let id = json_of(&body)["id"].as_str().unwrap().to_owned();
    let seen = fx.notifier.messages().len();
    let uri = format!("/v1/users/{id}/verification");
    let (status, _) = send(app, call("POST", &uri, Some(&admin), None, 1)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let code = newest_code(&fx.notifier, seen).await.unwrap();
    let wrong = if code == "123456" { "654321" } else { "123456" };
    let try_code = |identifier: &str, code: &str, client: u8| {
        call(
            "POST",
            "/v1/auth/verify/code",
            None,
            Some(json!({ "identifier": identifier, "code": code })),
            client,
        )
    };
    let mistaken = send(app, try_code("+14155550177", wrong, 3)).await;
    let unknown = send(app, try_code("+14155550999", wrong, 3)).await;
    assert_eq!(mistaken.0, StatusCode::BAD_REQUEST);
    assert_eq!(mistaken, unknown, "same status and body");
    assert!(json_of(&mistaken.1)["error"]["fields"]["code"].is_array());
    let (status, _) = send(app, try_code("+14155550177", &code, 3)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = login(app, "+14155550177", "learner password 1").await;
    assert_eq!(status, StatusCode::OK);
    let mut statuses = Vec::new();
    for _ in 0..13 {
        statuses.push(send(app, try_code("+14155550999", wrong, 4)).await.0);
    }
    assert_eq!(statuses[12], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
}
