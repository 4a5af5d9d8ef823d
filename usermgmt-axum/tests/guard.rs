//! The guard on the host application's own routes (`usermgmt_axum::require`) and host
//! permissions over HTTP: 401, 403, read-only impersonation on a writing route, allowed, the
//! system API granting a host permission, and the catalog and refusals of unknown names.

// Test set-up: failing loudly is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use usermgmt_axum::{ApiState, Authorized, SYSTEM_TOKEN_HEADER, require, router};
use usermgmt_core::model::{PermissionRegistry, TenantId};
use usermgmt_core::password::{Password, PasswordPolicy};
use usermgmt_core::{ServiceConfig, UserService};
use usermgmt_sqlite::SqliteStorage;

const SYSTEM_TOKEN: &str = "s3rvice-to-service";
const ADMIN: (&str, &str) = ("ada@acme.test", "correct horse battery");

struct Fixture {
    app: Router,
    _dir: tempfile::TempDir,
}

async fn created_by(caller: Authorized) -> Json {
    axum::Json(json!({ "created_by": caller.actor.user_id }))
}

type Json = axum::Json<Value>;

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let storage = SqliteStorage::open(dir.path().join("users.db"))
        .await
        .unwrap();
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
    let service = Arc::new(UserService::with_config(Arc::new(storage), config));
    let tenant = TenantId::new("acme").unwrap();
    service
        .bootstrap_super_admin(&tenant, "Ada Admin", ADMIN.0, Password::new(ADMIN.1))
        .await
        .unwrap();
    let state = ApiState::new(service, tenant)
        .with_system_token(SYSTEM_TOKEN)
        .unwrap();
    assert!(
        require(&state, "course.delete").is_err(),
        "an unregistered permission cannot guard a route"
    );
    let host = Router::new()
        .route(
            "/courses",
            get(|caller: Authorized| async move {
                Json::from(json!({ "viewer": caller.actor.user_id }))
            })
            .route_layer(require(&state, "course.view").unwrap())
            .merge(post(created_by).route_layer(require(&state, "course.create").unwrap())),
        )
        // Reads the caller without a guard: fails closed.
        .route("/unguarded", get(created_by));
    Fixture {
        app: router(state).merge(host),
        _dir: dir,
    }
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body)
}

fn call(
    method: &str,
    uri: &str,
    credential: Option<(&str, &str)>,
    body: Option<Value>,
) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some((name, value)) = credential {
        request = request.header(name, value);
    }
    match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => request.body(Body::empty()).unwrap(),
    }
}

async fn as_user(
    app: &Router,
    method: &str,
    uri: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let bearer = format!("Bearer {token}");
    send(
        app,
        call(method, uri, Some(("authorization", &bearer)), body),
    )
    .await
}

async fn login(app: &Router, identifier: &str, password: &str) -> String {
    let body = json!({ "identifier": identifier, "password": password });
    let (status, body) = send(app, call("POST", "/v1/auth/login", None, Some(body))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

/// A teacher holding `course.view` and `course.create` through a role, and their token.
async fn teacher(app: &Router, admin: &str) -> (String, String) {
    let role = json!({ "name": "teacher", "permissions": ["course.view", "course.create"] });
    let (status, body) = as_user(app, "POST", "/v1/roles", admin, Some(role)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let user = json!({
        "name": "Tess Teacher", "email": "tess@acme.test", "password": "teacher password 1",
        "is_instructor": true, "roles": ["teacher"],
    });
    let (status, body) = as_user(app, "POST", "/v1/users", admin, Some(user)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    (id, login(app, "tess@acme.test", "teacher password 1").await)
}

#[tokio::test]
async fn the_guard_answers_401_403_and_admits_holders() {
    let fx = fixture().await;
    let app = &fx.app;
    let (status, body) = send(app, call("GET", "/courses", None, None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthenticated");
    let (status, _) = as_user(app, "POST", "/courses", "not-a-session", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let admin = login(app, ADMIN.0, ADMIN.1).await;
    let learner = json!({
        "name": "Lea", "email": "lea@acme.test", "password": "learner password 1", "is_learner": true,
    });
    let (status, _) = as_user(app, "POST", "/v1/users", &admin, Some(learner)).await;
    assert_eq!(status, StatusCode::CREATED);
    let lea = login(app, "lea@acme.test", "learner password 1").await;
    let (status, body) = as_user(app, "GET", "/courses", &lea, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("course.view")
    );

    let (teacher_id, tess) = teacher(app, &admin).await;
    let (status, body) = as_user(app, "GET", "/courses", &tess, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["viewer"], teacher_id.as_str());
    let (status, body) = as_user(app, "POST", "/courses", &tess, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["created_by"], teacher_id.as_str());

    // Revoked: the next request is refused.
    let (_, roles) = as_user(app, "GET", "/v1/roles", &admin, None).await;
    let role_id = roles
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "teacher")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let narrower = json!({ "permissions": ["course.view"] });
    let (status, _) = as_user(
        app,
        "PUT",
        &format!("/v1/roles/{role_id}"),
        &admin,
        Some(narrower),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = as_user(app, "POST", "/courses", &tess, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = as_user(app, "GET", "/courses", &tess, None).await;
    assert_eq!(status, StatusCode::OK);

    // Suspended: unauthenticated at once.
    let suspend = json!({ "status": "suspended" });
    let (status, _) = as_user(
        app,
        "PUT",
        &format!("/v1/users/{teacher_id}"),
        &admin,
        Some(suspend),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = as_user(app, "GET", "/courses", &tess, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A handler reading the caller without a guard fails closed.
    let (status, body) = as_user(app, "GET", "/unguarded", &admin, None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["error"]["code"], "internal");
}

#[tokio::test]
async fn read_only_impersonation_is_refused_a_writing_host_route_and_masquerade_is_not() {
    let fx = fixture().await;
    let app = &fx.app;
    let admin = login(app, ADMIN.0, ADMIN.1).await;
    let (teacher_id, _) = teacher(app, &admin).await;
    let start = |mode: &str| json!({ "mode": mode, "reason": "support ticket 12" });
    let uri = format!("/v1/users/{teacher_id}/impersonate");
    let (status, body) = as_user(app, "POST", &uri, &admin, Some(start("impersonate"))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let read_only = body["token"].as_str().unwrap().to_owned();
    let (status, _) = as_user(app, "GET", "/courses", &read_only, None).await;
    assert_eq!(status, StatusCode::OK, "reading host routes is allowed");
    let (status, body) = as_user(app, "POST", "/courses", &read_only, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "impersonation_read_only");

    let (status, body) = as_user(app, "POST", &uri, &admin, Some(start("masquerade"))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let masquerade = body["token"].as_str().unwrap().to_owned();
    let (status, body) = as_user(app, "POST", "/courses", &masquerade, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["created_by"], teacher_id.as_str());
}

#[tokio::test]
async fn the_system_api_grants_host_permissions_and_unknown_names_are_400() {
    let fx = fixture().await;
    let app = &fx.app;
    let admin = login(app, ADMIN.0, ADMIN.1).await;
    let (status, catalog) = as_user(app, "GET", "/v1/permissions", &admin, None).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = catalog
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["permission"].as_str().unwrap())
        .collect();
    assert!(
        names.ends_with(&["course.create", "course.view"]),
        "{names:?}"
    );

    let learner = json!({
        "name": "Lea", "email": "lea@acme.test", "password": "learner password 1", "is_learner": true,
    });
    let (_, body) = as_user(app, "POST", "/v1/users", &admin, Some(learner)).await;
    let lea_id = body["id"].as_str().unwrap().to_owned();
    let lea = login(app, "lea@acme.test", "learner password 1").await;
    let (status, _) = as_user(app, "GET", "/courses", &lea, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let uri = format!("/v1/system/users/{lea_id}/permissions");
    let system = Some((SYSTEM_TOKEN_HEADER, SYSTEM_TOKEN));
    let grant = |names: Value| call("POST", &uri, system, Some(json!({ "permissions": names })));
    let (status, body) = send(app, grant(json!(["course.delete"]))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("course.delete"), "{body}");
    let (status, body) = send(app, grant(json!(["Course.View"]))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("Course.View"), "{body}");
    let (status, body) = send(app, grant(json!(["course.view"]))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["permissions"], json!(["course.view"]));
    let (status, _) = as_user(app, "GET", "/courses", &lea, None).await;
    assert_eq!(status, StatusCode::OK);

    // The list filter by effective permission: the admin (super-admin role) and Lea (direct).
    let uri = "/v1/users?permission=course.view&include_total=true";
    let (status, body) = as_user(app, "GET", uri, &admin, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 2, "{body}");
    let uri = "/v1/users?permission=course.delete";
    let (status, body) = as_user(app, "GET", uri, &admin, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("course.delete"), "{body}");

    let role = json!({ "name": "deleters", "permissions": ["course.delete"] });
    let (status, body) = as_user(app, "POST", "/v1/roles", &admin, Some(role)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "validation");
    assert!(
        body["error"]["fields"]["permissions"][0]
            .as_str()
            .unwrap()
            .contains("course.delete")
    );
}
