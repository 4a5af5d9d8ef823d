//! The routes through the real router over a SQLite file: status codes, shapes and the error
//! model.

// Test set-up: failing loudly is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use usermgmt_axum::{ApiState, SYSTEM_TOKEN_HEADER, router};
use usermgmt_core::model::TenantId;
use usermgmt_core::password::{Password, PasswordPolicy};
use usermgmt_core::service::CreateUser;
use usermgmt_core::{Principal, ServiceConfig, UserService};
use usermgmt_sqlite::SqliteStorage;

const SYSTEM_TOKEN: &str = "s3rvice-to-service";

struct Fixture {
    app: Router,
    service: Arc<UserService>,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let storage = SqliteStorage::open(dir.path().join("users.db"))
        .await
        .unwrap();
    let config = ServiceConfig {
        password: PasswordPolicy::insecure_fast_for_tests(),
        ..ServiceConfig::default()
    };
    let service = Arc::new(UserService::with_config(Arc::new(storage), config));
    let tenant = TenantId::new("acme").unwrap();
    let admin = service
        .bootstrap_super_admin(
            &tenant,
            "Ada Admin",
            "ada@acme.test",
            Password::new("correct horse battery"),
        )
        .await
        .unwrap();
    let principal = Principal::user(tenant.clone(), admin.id);
    service
        .create_user(
            &principal,
            CreateUser {
                name: "Lea Learner".into(),
                email: Some("lea@acme.test".into()),
                password: Some(Password::new("learner password 1")),
                is_learner: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    Fixture {
        app: router(
            ApiState::new(service.clone(), tenant)
                .with_system_token(SYSTEM_TOKEN)
                .unwrap(),
        ),
        service,
        _dir: dir,
    }
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        // JSON everywhere but the export, whose file comes back as a string.
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, body)
}

fn post_json(uri: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

fn get(uri: &str, token: Option<&str>) -> Request<Body> {
    let mut request = Request::get(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Body::empty()).unwrap()
}

async fn login(app: &Router, identifier: &str, password: &str) -> String {
    let body = json!({ "identifier": identifier, "password": password }).to_string();
    let (status, body) = send(app, post_json("/v1/auth/login", &body)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn login_then_me_and_stats() {
    let fx = fixture().await;
    let body = json!({ "identifier": "ada@acme.test", "password": "correct horse battery" });
    let (status, body) = send(&fx.app, post_json("/v1/auth/login", &body.to_string())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"]["email"], "ada@acme.test");
    assert!(body["session_id"].is_string());
    let text = body.to_string();
    assert!(!text.contains("argon2"), "no hash in the response: {text}");
    let token = body["token"].as_str().unwrap();

    let (status, me) = send(&fx.app, get("/v1/auth/me", Some(token))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["name"], "Ada Admin");

    let (status, stats) = send(&fx.app, get("/v1/users/stats", Some(token))).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["total"], 2, "{stats}");
}

#[tokio::test]
async fn own_permissions_are_the_effective_ones_without_needing_a_permission() {
    let fx = fixture().await;
    let admin = login(&fx.app, "ada@acme.test", "correct horse battery").await;
    let learner_token = login(&fx.app, "lea@acme.test", "learner password 1").await;
    let learner = learner_id(&fx.app, &admin).await;

    let (status, mine) = send(&fx.app, get("/v1/auth/me/permissions", Some(&admin))).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert!(
        mine.as_array().unwrap().contains(&json!("user.delete")),
        "{mine}"
    );

    let uri = format!("/v1/users/{learner}/permissions");
    let (_, seen_by_admin) = send(&fx.app, get(&uri, Some(&admin))).await;
    let (status, own) = send(
        &fx.app,
        get("/v1/auth/me/permissions", Some(&learner_token)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own, seen_by_admin);
    assert!(
        !own.as_array().unwrap().contains(&json!("user.delete")),
        "{own}"
    );

    let (status, _) = send(&fx.app, get("/v1/auth/me/permissions", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let fx = fixture().await;
    let token = login(&fx.app, "ada@acme.test", "correct horse battery").await;
    let request = Request::post("/v1/auth/logout")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let (status, _) = send(&fx.app, request).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = send(&fx.app, get("/v1/auth/me", Some(&token))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthenticated");
}

#[tokio::test]
async fn missing_or_bad_credentials_are_401_in_the_error_model() {
    let fx = fixture().await;
    let (status, body) = send(&fx.app, get("/v1/users/stats", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthenticated");
    let (status, _) = send(&fx.app, get("/v1/users/stats", Some("not-a-token"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let wrong = json!({ "identifier": "ada@acme.test", "password": "wrong" }).to_string();
    let (status, body) = send(&fx.app, post_json("/v1/auth/login", &wrong)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "invalid_credentials");
    assert!(body["error"]["message"].is_string());
    assert!(body["error"]["fields"].is_object());
}

#[tokio::test]
async fn missing_permission_is_403_naming_it() {
    let fx = fixture().await;
    let token = login(&fx.app, "lea@acme.test", "learner password 1").await;
    let (status, body) = send(&fx.app, get("/v1/users/stats", Some(&token))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "forbidden");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("user.list"), "{message}");
}

#[tokio::test]
async fn unreadable_bodies_are_400_and_oversized_ones_413() {
    let fx = fixture().await;
    for bad in [
        "{not json",
        r#"{"identifier": 5, "password": "x"}"#,
        r#"{"identifier": "ada@acme.test", "password": "x", "admin": true}"#,
    ] {
        let (status, body) = send(&fx.app, post_json("/v1/auth/login", bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["error"]["code"], "validation", "{bad}");
    }
    let huge = format!(
        r#"{{"identifier": "{}", "password": "x"}}"#,
        "a".repeat(2 * 1024 * 1024)
    );
    let (status, body) = send(&fx.app, post_json("/v1/auth/login", &huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"]["code"], "payload_too_large");
}

#[tokio::test]
async fn list_filters_from_the_query_string() {
    let fx = fixture().await;
    let token = login(&fx.app, "ada@acme.test", "correct horse battery").await;
    let (status, page) = send(&fx.app, get("/v1/users", Some(&token))).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 2);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert!(!page.to_string().contains("argon2"));

    let uri = "/v1/users?is_learner=true&statuses=active,suspended&sort_by=name&sort_order=asc";
    let (status, page) = send(&fx.app, get(uri, Some(&token))).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["email"], "lea@acme.test");

    let (status, page) = send(&fx.app, get("/v1/users?search=Ada", Some(&token))).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"][0]["name"], "Ada Admin");
    assert_eq!(page["total"], 1);
}

#[tokio::test]
async fn bad_query_parameters_are_400_naming_each() {
    let fx = fixture().await;
    let token = login(&fx.app, "ada@acme.test", "correct horse battery").await;
    let uri = "/v1/users?colour=red&created_after=yesterday&status=gone&page=x";
    let (status, body) = send(&fx.app, get(uri, Some(&token))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "validation");
    for key in ["colour", "created_after", "status", "page"] {
        assert!(body["error"]["fields"][key].is_array(), "{key}: {body}");
    }
}

#[tokio::test]
async fn hostile_string_filters_are_answered_not_500() {
    let mut answered = 0;
    let fx = fixture().await;
    let token = login(&fx.app, "ada@acme.test", "correct horse battery").await;
    for value in [
        "%27%20OR%201%3D1%20--",
        "%25",
        "_",
        "%22%3B%20DROP%20TABLE%20users%3B",
        "%FF%FE",
        "%E2%82",
    ] {
        for key in ["search", "country", "city", "roles", "designation"] {
            let uri = format!("/v1/users?{key}={value}");
            let (status, body) = send(&fx.app, get(&uri, Some(&token))).await;
            // Either a clear refusal (e.g. not a country code) or an honest empty result.
            if status == StatusCode::OK {
                assert_eq!(body["total"], 0, "{uri}: {body}");
                answered += 1;
            } else {
                assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
                assert!(body["error"]["fields"][key].is_array(), "{uri}: {body}");
            }
        }
    }
    assert!(answered >= 12, "most values reach the query: {answered}");
}

/// A request carrying one credential header and, when given, a JSON body.
fn request(
    method: &str,
    uri: &str,
    credential: (&str, String),
    body: Option<Value>,
) -> Request<Body> {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(credential.0, credential.1);
    match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => request.body(Body::empty()).unwrap(),
    }
}

/// As a user session (bearer token).
fn with_token(method: &str, uri: &str, token: &str, body: Option<Value>) -> Request<Body> {
    let credential = (header::AUTHORIZATION.as_str(), format!("Bearer {token}"));
    request(method, uri, credential, body)
}

#[tokio::test]
async fn create_read_update_with_if_match_and_delete() {
    let fx = fixture().await;
    let token = login(&fx.app, "ada@acme.test", "correct horse battery").await;
    let new = json!({ "name": "Ines Learner", "email": "ines@acme.test", "is_learner": true });
    let response = fx
        .app
        .clone()
        .oneshot(with_token("POST", "/v1/users", &token, Some(new.clone())))
        .await
        .unwrap();
    let status = response.status();
    let etag = response.headers().get(header::ETAG).cloned();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let created: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let etag = etag.unwrap().to_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(etag, format!("\"{}\"", created["version"]));

    let (status, body) = send(&fx.app, with_token("POST", "/v1/users", &token, Some(new))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"]["fields"]["email"].is_array(), "{body}");

    let uri = format!("/v1/users/{id}");
    let (status, body) = send(&fx.app, get(&uri, Some(&token))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["email"], "ines@acme.test");

    let mut stale = with_token("PUT", &uri, &token, Some(json!({ "designation": "Lead" })));
    stale
        .headers_mut()
        .insert(header::IF_MATCH, "\"999\"".parse().unwrap());
    let (status, body) = send(&fx.app, stale).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    let (_, unchanged) = send(&fx.app, get(&uri, Some(&token))).await;
    assert!(
        unchanged["designation"].is_null(),
        "nothing changed: {unchanged}"
    );

    let mut fresh = with_token("PUT", &uri, &token, Some(json!({ "designation": "Lead" })));
    fresh
        .headers_mut()
        .insert(header::IF_MATCH, etag.parse().unwrap());
    let (status, body) = send(&fx.app, fresh).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["designation"], "Lead");

    let (status, body) = send(&fx.app, with_token("DELETE", &uri, &token, None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "deleted");
}

#[tokio::test]
async fn bad_ids_and_unknown_users() {
    let fx = fixture().await;
    let token = login(&fx.app, "ada@acme.test", "correct horse battery").await;
    let (status, body) = send(&fx.app, get("/v1/users/not-a-uuid", Some(&token))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["fields"]["user_id"].is_array(), "{body}");
    let missing = "/v1/users/00000000-0000-7000-8000-000000000000";
    let (status, body) = send(&fx.app, get(missing, Some(&token))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    let unknown_field = json!({ "name": "X", "shoe_size": 44 });
    let (status, body) = send(
        &fx.app,
        with_token("POST", "/v1/users", &token, Some(unknown_field)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn insights_routes_and_their_parameters() {
    let fx = fixture().await;
    let token = login(&fx.app, "ada@acme.test", "correct horse battery").await;
    let ok = [
        "/v1/users/filter-values",
        "/v1/users/field-values?field=country&q=d&page=1&page_size=5",
        "/v1/users/analytics/overview",
        "/v1/users/analytics/overview?period=week",
        "/v1/users/analytics/growths?interval=day&from=2026-01-01&to=2026-01-31",
    ];
    for uri in ok {
        let (status, body) = send(&fx.app, get(uri, Some(&token))).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    }
    let (_, series) = send(&fx.app, get(ok[4], Some(&token))).await;
    assert_eq!(series.as_array().unwrap().len(), 31);

    let bad: [(&str, &[&str]); 6] = [
        ("/v1/users/stats?x=1", &["x"]),
        ("/v1/users/field-values", &["field"]),
        ("/v1/users/field-values?field=password_hash", &["field"]),
        ("/v1/users/analytics/overview?period=decade", &["period"]),
        ("/v1/users/analytics/growths", &["interval", "from", "to"]),
        (
            "/v1/users/analytics/growths?interval=day&from=2026-02-30&to=2026-03-01&to=2026-03-02",
            &["from", "to"],
        ),
    ];
    for (uri, fields) in bad {
        let (status, body) = send(&fx.app, get(uri, Some(&token))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        for field in fields {
            assert!(
                body["error"]["fields"][field].is_array(),
                "{uri}: {field} not named in {body}"
            );
        }
    }
}

#[tokio::test]
async fn export_streams_an_attachment_and_bulk_delete_spares_the_actor() {
    let fx = fixture().await;
    let token = login(&fx.app, "ada@acme.test", "correct horse battery").await;
    let response = fx
        .app
        .clone()
        .oneshot(get("/v1/users/bulk/export?is_learner=true", Some(&token)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"users.csv\""
    );
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let csv = String::from_utf8(bytes.to_vec()).unwrap();
    assert_eq!(csv.lines().count(), 2, "header + the learner: {csv}");
    assert!(csv.contains("lea@acme.test") && !csv.contains("ada@acme.test"));
    assert!(!csv.contains("argon2"));

    let (status, body) = send(
        &fx.app,
        get("/v1/users/bulk/export?format=xml", Some(&token)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["fields"]["format"].is_array(), "{body}");

    let empty = json!({ "filters": {} });
    let (status, _) = send(
        &fx.app,
        with_token("DELETE", "/v1/users/bulk/delete", &token, Some(empty)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Filters that select every user are refused like an empty one (a blank search
    // normalises to no filter at all).
    for everyone in [
        json!({ "filters": { "statuses": ["active"] } }),
        json!({ "filters": { "search": "   " } }),
    ] {
        let (status, body) = send(
            &fx.app,
            with_token("DELETE", "/v1/users/bulk/delete", &token, Some(everyone)),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["error"]["fields"]["filters"].is_array(), "{body}");
    }
    // A third user the filter leaves out; the actor matches it and is spared.
    let (status, _) = send(
        &fx.app,
        with_token(
            "POST",
            "/v1/users",
            &token,
            Some(json!({ "name": "Sue", "email": "sue@acme.test", "is_learner": true, "status": "suspended" })),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let active = json!({ "filters": { "statuses": ["active"] } });
    let (status, outcome) = send(
        &fx.app,
        with_token("DELETE", "/v1/users/bulk/delete", &token, Some(active)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["deleted"], 1, "{outcome}");
    assert_eq!(outcome["skipped_self"], true, "{outcome}");
    let (status, me) = send(&fx.app, get("/v1/auth/me", Some(&token))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["status"], "active");
}

#[tokio::test]
async fn unique_id_set_and_conflicting() {
    let fx = fixture().await;
    let token = login(&fx.app, "ada@acme.test", "correct horse battery").await;
    let (_, page) = send(&fx.app, get("/v1/users?is_learner=true", Some(&token))).await;
    let learner = page["items"][0]["id"].as_str().unwrap().to_owned();
    let (_, me) = send(&fx.app, get("/v1/auth/me", Some(&token))).await;
    let admin = me["id"].as_str().unwrap().to_owned();
    let set = json!({ "unique_id": "EMP-0001" });
    let uri = format!("/v1/users/{learner}/unique-id");
    let (status, body) = send(&fx.app, with_token("PUT", &uri, &token, Some(set.clone()))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["unique_id"], "EMP-0001");
    let uri = format!("/v1/users/{admin}/unique-id");
    let (status, body) = send(&fx.app, with_token("PUT", &uri, &token, Some(set))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

async fn learner_id(app: &Router, token: &str) -> String {
    let (_, page) = send(app, get("/v1/users?is_learner=true", Some(token))).await;
    page["items"][0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn sessions_listed_and_terminated() {
    let fx = fixture().await;
    let admin = login(&fx.app, "ada@acme.test", "correct horse battery").await;
    let learner_token = login(&fx.app, "lea@acme.test", "learner password 1").await;
    let learner = learner_id(&fx.app, &admin).await;
    let uri = format!("/v1/users/{learner}/sessions");
    let (status, sessions) = send(&fx.app, get(&uri, Some(&admin))).await;
    assert_eq!(status, StatusCode::OK, "{sessions}");
    let sessions = sessions.as_array().unwrap().clone();
    assert_eq!(sessions.len(), 1);
    assert!(
        !serde_json::to_string(&sessions)
            .unwrap()
            .contains(&learner_token)
    );
    let one = format!("{uri}/{}", sessions[0]["id"].as_str().unwrap());
    let (status, _) = send(&fx.app, with_token("DELETE", &one, &admin, None)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(&fx.app, get("/v1/auth/me", Some(&learner_token))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    login(&fx.app, "lea@acme.test", "learner password 1").await;
    let (status, body) = send(&fx.app, with_token("DELETE", &uri, &admin, None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["terminated"], 1);
    let bad = format!("{uri}/nope");
    let (status, body) = send(&fx.app, with_token("DELETE", &bad, &admin, None)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["fields"]["session_id"].is_array());
}

#[tokio::test]
async fn impersonation_signs_in_as_the_user_and_is_audited() {
    let fx = fixture().await;
    let admin = login(&fx.app, "ada@acme.test", "correct horse battery").await;
    let learner = learner_id(&fx.app, &admin).await;
    let uri = format!("/v1/users/{learner}/impersonate");
    let request = json!({ "mode": "impersonate", "reason": "ticket 42" });
    let (status, body) = send(&fx.app, with_token("POST", &uri, &admin, Some(request))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["user"]["id"], learner.as_str());
    let token = body["token"].as_str().unwrap().to_owned();
    let (status, me) = send(&fx.app, get("/v1/auth/me", Some(&token))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], "lea@acme.test");
    let audit = format!("/v1/users/{learner}/audit-logs");
    let (_, page) = send(&fx.app, get(&audit, Some(&admin))).await;
    assert!(
        page.to_string().contains("impersonation.started"),
        "audited: {page}"
    );
}

#[tokio::test]
async fn notes_and_audit_log() {
    let fx = fixture().await;
    let admin = login(&fx.app, "ada@acme.test", "correct horse battery").await;
    let learner = learner_id(&fx.app, &admin).await;
    let notes = format!("/v1/users/{learner}/notes");
    let note = json!({ "body": "Called about billing" });
    let (status, created) = send(&fx.app, with_token("POST", &notes, &admin, Some(note))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, list) = send(&fx.app, get(&notes, Some(&admin))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let one = format!("{notes}/{}", created["id"].as_str().unwrap());
    let (status, _) = send(&fx.app, with_token("DELETE", &one, &admin, None)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = send(&fx.app, get(&notes, Some(&admin))).await;
    assert!(list.as_array().unwrap().is_empty());

    let audit = format!("/v1/users/{learner}/audit-logs?page=1&page_size=50");
    let (status, page) = send(&fx.app, get(&audit, Some(&admin))).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(!page["items"].as_array().unwrap().is_empty(), "{page}");
    assert!(!page.to_string().contains("argon2"));
    let (status, _) = send(
        &fx.app,
        get(
            &format!("/v1/users/{learner}/audit-logs?page=zero"),
            Some(&admin),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn roles_crud_and_permissions() {
    let fx = fixture().await;
    let admin = login(&fx.app, "ada@acme.test", "correct horse battery").await;
    let role = json!({ "name": "support", "description": "Help desk", "permissions": ["user.list", "user.view"] });
    let (status, created) = send(
        &fx.app,
        with_token("POST", "/v1/roles", &admin, Some(role.clone())),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, body) = send(&fx.app, with_token("POST", "/v1/roles", &admin, Some(role))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let uri = format!("/v1/roles/{}", created["id"].as_str().unwrap());
    let change = json!({ "permissions": ["user.list"] });
    let (status, updated) = send(&fx.app, with_token("PUT", &uri, &admin, Some(change))).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["permissions"], json!(["user.list"]));
    let (status, list) = send(&fx.app, get("/v1/roles", Some(&admin))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list.as_array().unwrap().len(),
        2,
        "super_admin + support: {list}"
    );
    let (status, catalog) = send(&fx.app, get("/v1/permissions", Some(&admin))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(catalog.to_string().contains("user.impersonate"));
    let (_, me) = send(&fx.app, get("/v1/auth/me", Some(&admin))).await;
    let mine = format!("/v1/users/{}/permissions", me["id"].as_str().unwrap());
    let (status, perms) = send(&fx.app, get(&mine, Some(&admin))).await;
    assert_eq!(status, StatusCode::OK, "{perms}");
    assert!(perms.to_string().contains("role.manage"), "{perms}");
    let (status, _) = send(&fx.app, with_token("DELETE", &uri, &admin, None)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(&fx.app, get(&uri, Some(&admin))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn oauth_link_unique_and_unlink() {
    let fx = fixture().await;
    let admin = login(&fx.app, "ada@acme.test", "correct horse battery").await;
    let learner = learner_id(&fx.app, &admin).await;
    let (_, me) = send(&fx.app, get("/v1/auth/me", Some(&admin))).await;
    let admin_id = me["id"].as_str().unwrap().to_owned();
    let link = json!({ "provider": "google", "provider_user_id": "g-1" });
    let uri = format!("/v1/users/{learner}/oauth/link");
    let (status, user) = send(
        &fx.app,
        with_token("POST", &uri, &admin, Some(link.clone())),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    let other = format!("/v1/users/{admin_id}/oauth/link");
    let (status, body) = send(&fx.app, with_token("POST", &other, &admin, Some(link))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let unlink = format!("/v1/users/{learner}/oauth/unlink");
    let (status, body) = send(
        &fx.app,
        with_token(
            "POST",
            &unlink,
            &admin,
            Some(json!({ "provider": "google" })),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = send(
        &fx.app,
        with_token(
            "POST",
            &unlink,
            &admin,
            Some(json!({ "provider": "myspace" })),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

/// As another service (system token).
fn system(method: &str, uri: &str, token: &str, body: Option<Value>) -> Request<Body> {
    request(method, uri, (SYSTEM_TOKEN_HEADER, token.to_owned()), body)
}

/// A system API call with the right token: status and body.
async fn system_call(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    send(app, system(method, uri, SYSTEM_TOKEN, body)).await
}

#[tokio::test]
async fn system_api_with_its_own_token_only() {
    let fx = fixture().await;
    let admin = login(&fx.app, "ada@acme.test", "correct horse battery").await;
    let body = json!({ "email": "new@acme.test" });
    let uri = "/v1/system/users/get-or-create";
    let (status, created) = system_call(&fx.app, "POST", uri, Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, again) = system_call(&fx.app, "POST", uri, Some(body.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["user"]["id"], created["user"]["id"]);
    let id = created["user"]["id"].as_str().unwrap().to_owned();

    // The schemes stay apart: a user session, a wrong token and no token are all 401 here,
    // and the system token opens no admin route.
    let (status, _) = send(&fx.app, with_token("POST", uri, &admin, Some(body.clone()))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = send(
        &fx.app,
        system("POST", uri, "s3rvice-to-servicE", Some(body)),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = system_call(&fx.app, "GET", "/v1/users", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let by_ids = format!("/v1/system/users/by-ids?ids={id},00000000-0000-7000-8000-000000000000");
    let (status, found) = system_call(&fx.app, "GET", &by_ids, None).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["users"].as_array().unwrap().len(), 1);
    assert_eq!(found["missing"].as_array().unwrap().len(), 1);
    let (status, _) = system_call(&fx.app, "GET", "/v1/system/users/by-ids?ids=x", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, hits) = system_call(&fx.app, "GET", "/v1/system/users/search?q=Ada", None).await;
    assert_eq!(status, StatusCode::OK, "{hits}");
    assert_eq!(hits.as_array().unwrap().len(), 1);
    let (status, role) =
        system_call(&fx.app, "GET", "/v1/system/roles?name=super_admin", None).await;
    assert_eq!(status, StatusCode::OK, "{role}");

    let perms = format!("/v1/system/users/{id}/permissions");
    let (status, user) = system_call(
        &fx.app,
        "POST",
        &perms,
        Some(json!({ "permissions": ["user.list"] })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    let roles = format!("/v1/system/users/{id}/roles");
    let (status, user) = system_call(
        &fx.app,
        "POST",
        &roles,
        Some(json!({ "roles": ["super_admin"] })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert!(user.to_string().contains("super_admin"), "{user}");
    let flags = format!("/v1/system/users/{id}/flags");
    let (status, user) = system_call(
        &fx.app,
        "PATCH",
        &flags,
        Some(json!({ "is_instructor": true })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["is_instructor"], true);
}

/// Every admin route with a request that would succeed for a full administrator, and
/// whether it changes data.
fn admin_routes(user: &str, role: &str) -> Vec<(&'static str, String, Option<Value>, bool)> {
    let nil = "00000000-0000-7000-8000-000000000001";
    vec![
        ("GET", "/v1/users".into(), None, false),
        ("GET", "/v1/users/stats".into(), None, false),
        ("GET", "/v1/users/filter-values".into(), None, false),
        (
            "GET",
            "/v1/users/field-values?field=city".into(),
            None,
            false,
        ),
        ("GET", "/v1/users/analytics/overview".into(), None, false),
        (
            "GET",
            "/v1/users/analytics/growths?interval=day&from=2026-01-01&to=2026-01-02".into(),
            None,
            false,
        ),
        ("GET", "/v1/users/bulk/export".into(), None, false),
        ("GET", format!("/v1/users/{user}"), None, false),
        ("GET", format!("/v1/users/{user}/sessions"), None, false),
        ("GET", format!("/v1/users/{user}/audit-logs"), None, false),
        ("GET", format!("/v1/users/{user}/notes"), None, false),
        ("GET", format!("/v1/users/{user}/permissions"), None, false),
        ("GET", "/v1/roles".into(), None, false),
        ("GET", format!("/v1/roles/{role}"), None, false),
        ("GET", "/v1/permissions".into(), None, false),
        (
            "POST",
            "/v1/users".into(),
            Some(json!({ "name": "New One", "email": "new1@acme.test", "is_learner": true })),
            true,
        ),
        (
            "PUT",
            format!("/v1/users/{user}"),
            Some(json!({ "designation": "Changed" })),
            true,
        ),
        (
            "PUT",
            format!("/v1/users/{user}/unique-id"),
            Some(json!({ "unique_id": "X-1" })),
            true,
        ),
        ("DELETE", format!("/v1/users/{user}"), None, true),
        (
            "DELETE",
            "/v1/users/bulk/delete".into(),
            Some(json!({ "user_ids": [user] })),
            true,
        ),
        ("DELETE", format!("/v1/users/{user}/sessions"), None, true),
        (
            "DELETE",
            format!("/v1/users/{user}/sessions/{nil}"),
            None,
            true,
        ),
        (
            "POST",
            format!("/v1/users/{user}/notes"),
            Some(json!({ "body": "note" })),
            true,
        ),
        (
            "DELETE",
            format!("/v1/users/{user}/notes/{nil}"),
            None,
            true,
        ),
        (
            "POST",
            format!("/v1/users/{user}/oauth/link"),
            Some(json!({ "provider": "github", "provider_user_id": "gh-1" })),
            true,
        ),
        (
            "POST",
            format!("/v1/users/{user}/oauth/unlink"),
            Some(json!({ "provider": "github" })),
            true,
        ),
        (
            "POST",
            format!("/v1/users/{user}/impersonate"),
            Some(json!({ "mode": "masquerade", "reason": "r" })),
            true,
        ),
        (
            "POST",
            "/v1/roles".into(),
            Some(json!({ "name": "r2", "permissions": ["user.list"] })),
            true,
        ),
        (
            "PUT",
            format!("/v1/roles/{role}"),
            Some(json!({ "description": "d" })),
            true,
        ),
        ("DELETE", format!("/v1/roles/{role}"), None, true),
    ]
}

/// What an administrator sees: users (with versions), roles and the learner's audit log.
async fn snapshot(app: &Router, admin: &str, user: &str) -> Value {
    let (_, users) = send(app, get("/v1/users?page_size=100", Some(admin))).await;
    let (_, roles) = send(app, get("/v1/roles", Some(admin))).await;
    let (_, audit) = send(
        app,
        get(&format!("/v1/users/{user}/audit-logs"), Some(admin)),
    )
    .await;
    json!({ "users": users["items"], "roles": roles, "audit": audit["total"] })
}

#[tokio::test]
async fn every_route_refuses_a_principal_without_its_permission() {
    let fx = fixture().await;
    let admin = login(&fx.app, "ada@acme.test", "correct horse battery").await;
    let learner_token = login(&fx.app, "lea@acme.test", "learner password 1").await;
    let learner = learner_id(&fx.app, &admin).await;
    let role = json!({ "name": "spare", "permissions": ["user.list"] });
    let (_, role) = send(&fx.app, with_token("POST", "/v1/roles", &admin, Some(role))).await;
    let role = role["id"].as_str().unwrap().to_owned();
    let before = snapshot(&fx.app, &admin, &learner).await;
    for (method, uri, body, _) in admin_routes(&learner, &role) {
        let (status, answer) = send(&fx.app, with_token(method, &uri, &learner_token, body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {uri}: {answer}");
        assert_eq!(answer["error"]["code"], "forbidden", "{method} {uri}");
    }
    assert_eq!(snapshot(&fx.app, &admin, &learner).await, before);
}

#[tokio::test]
async fn read_only_impersonation_is_refused_on_every_mutating_route() {
    let fx = fixture().await;
    let admin = login(&fx.app, "ada@acme.test", "correct horse battery").await;
    let learner = learner_id(&fx.app, &admin).await;
    // A manager holding every user and role permission, impersonated read-only.
    let all = json!({ "name": "manager", "permissions": [
        "user.list", "user.view", "user.create", "user.update", "user.delete", "user.export",
        "user.impersonate", "role.manage"
    ] });
    let (status, body) = send(&fx.app, with_token("POST", "/v1/roles", &admin, Some(all))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let manager = json!({ "name": "Max Manager", "email": "max@acme.test", "is_admin": true, "roles": ["manager"] });
    let (status, body) = send(
        &fx.app,
        with_token("POST", "/v1/users", &admin, Some(manager)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let manager = body["id"].as_str().unwrap().to_owned();
    let request = json!({ "mode": "impersonate", "reason": "audit" });
    let uri = format!("/v1/users/{manager}/impersonate");
    let (status, body) = send(&fx.app, with_token("POST", &uri, &admin, Some(request))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let role = json!({ "name": "spare", "permissions": ["user.list"] });
    let (_, role) = send(&fx.app, with_token("POST", "/v1/roles", &admin, Some(role))).await;
    let role = role["id"].as_str().unwrap().to_owned();

    let before = snapshot(&fx.app, &admin, &learner).await;
    let mut reads = 0;
    for (method, uri, body, mutates) in admin_routes(&learner, &role) {
        let (status, answer) = send(&fx.app, with_token(method, &uri, &token, body)).await;
        if mutates {
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {uri}: {answer}");
            assert_eq!(
                answer["error"]["code"], "impersonation_read_only",
                "{method} {uri}"
            );
        } else {
            assert_eq!(status, StatusCode::OK, "{method} {uri}: {answer}");
            reads += 1;
        }
    }
    assert!(reads >= 10);
    assert_eq!(snapshot(&fx.app, &admin, &learner).await, before);
}

#[tokio::test]
async fn tenants_stay_apart_over_http() {
    let fx = fixture().await;
    let acme = login(&fx.app, "ada@acme.test", "correct horse battery").await;
    let learner = learner_id(&fx.app, &acme).await;
    // A second tenant in the same database, served by its own router over the same service.
    let globex = TenantId::new("globex").unwrap();
    fx.service
        .bootstrap_super_admin(
            &globex,
            "Gus Admin",
            "gus@globex.test",
            Password::new("globex password"),
        )
        .await
        .unwrap();
    let globex_app = router(ApiState::new(fx.service.clone(), globex));
    // The acme admin's credentials do not sign in to globex.
    let wrong = json!({ "identifier": "ada@acme.test", "password": "correct horse battery" });
    let (status, _) = send(&globex_app, post_json("/v1/auth/login", &wrong.to_string())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let gus = login(&globex_app, "gus@globex.test", "globex password").await;
    // A globex session sees only globex, whichever router it is sent to.
    for app in [&globex_app, &fx.app] {
        let (status, page) = send(app, get("/v1/users", Some(&gus))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["total"], 1, "{page}");
        assert_eq!(page["items"][0]["email"], "gus@globex.test");
        let (status, _) = send(app, get(&format!("/v1/users/{learner}"), Some(&gus))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let change = json!({ "designation": "x" });
        let (status, _) = send(
            app,
            with_token("PUT", &format!("/v1/users/{learner}"), &gus, Some(change)),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (_, page) = send(&fx.app, get(&format!("/v1/users/{learner}"), Some(&acme))).await;
    assert!(page["designation"].is_null(), "unchanged: {page}");
}

#[tokio::test]
async fn every_filter_answers_hostile_values_with_200_or_a_400_naming_it() {
    let fx = fixture().await;
    let token = login(&fx.app, "ada@acme.test", "correct horse battery").await;
    let Value::Object(fields) =
        serde_json::to_value(usermgmt_core::filter::UserFilters::default()).unwrap()
    else {
        panic!("filters serialise to an object");
    };
    assert!(fields.len() >= 40, "every filter: {}", fields.len());
    let values = [
        "%27%20OR%201%3D1%20--",
        "%FF%FE",
        "%E2%82",
        "-1",
        "99999999999999999999",
        "2026-13-45",
        "true,false",
        "%00",
    ];
    for key in fields.keys() {
        for value in values {
            let uri = format!("/v1/users?{key}={value}");
            let (status, body) = send(&fx.app, get(&uri, Some(&token))).await;
            match status {
                StatusCode::OK => assert!(body["items"].is_array(), "{uri}: {body}"),
                StatusCode::BAD_REQUEST => {
                    assert!(body["error"]["fields"][key].is_array(), "{uri}: {body}")
                }
                other => panic!("{uri}: {other} {body}"),
            }
        }
    }
}

/// Unknown paths (404) and unknown methods on known paths (405) answer the JSON error model.
#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let fx = fixture().await;
    let (status, body) = send(&fx.app, get("/v1/nothing-here", None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found", "{body}");
    let response = fx
        .app
        .clone()
        .oneshot(
            Request::builder()
                .method("PATCH")
                .uri("/v1/users")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(response.headers().contains_key(header::ALLOW));
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
}

/// An empty or short system token is refused when the state is built; the token works as a
/// bearer token too, and a user's session token never opens the system API.
#[tokio::test]
async fn system_token_rules() {
    let fx = fixture().await;
    let tenant = TenantId::new("acme").unwrap();
    for weak in ["", "   ", "short-token", "fifteen-chars.."] {
        assert!(
            ApiState::new(fx.service.clone(), tenant.clone())
                .with_system_token(weak)
                .is_err(),
            "{weak:?}"
        );
    }
    let uri = "/v1/system/roles?name=super_admin";
    let bearer = Request::builder()
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {SYSTEM_TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let (status, body) = send(&fx.app, bearer).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = send(&fx.app, get(uri, None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let user = login(&fx.app, "ada@acme.test", "correct horse battery").await;
    let (status, _) = send(&fx.app, get(uri, Some(&user))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // And the system token opens no admin route.
    let (status, _) = send(&fx.app, get("/v1/users", Some(SYSTEM_TOKEN))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

fn login_from(peer: &str, forwarded: Option<&str>, password: &str) -> Request<Body> {
    let body = json!({ "identifier": "lea@acme.test", "password": password }).to_string();
    let mut request = post_json("/v1/auth/login", &body);
    let peer: std::net::SocketAddr = peer.parse().unwrap();
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    if let Some(forwarded) = forwarded {
        request
            .headers_mut()
            .insert("x-forwarded-for", forwarded.parse().unwrap());
    }
    request
}

/// Sessions record the peer address; `X-Forwarded-For` counts only from a trusted proxy.
#[tokio::test]
async fn sessions_record_the_client_address() {
    let fx = fixture().await;
    let tenant = TenantId::new("acme").unwrap();
    let app = router(
        ApiState::new(fx.service.clone(), tenant)
            .with_trusted_proxies(["10.0.0.0/8".parse().unwrap()]),
    );
    let cases = [
        ("198.51.100.4:5000", None, "198.51.100.4"),
        // An untrusted peer cannot pick its address.
        ("198.51.100.4:5000", Some("203.0.113.9"), "198.51.100.4"),
        // Through the trusted proxy: the right-most address that is not a proxy.
        (
            "10.1.2.3:443",
            Some("192.0.2.1, 203.0.113.9, 10.0.0.7"),
            "203.0.113.9",
        ),
    ];
    for (peer, forwarded, expected) in cases {
        let (status, body) = send(&app, login_from(peer, forwarded, "learner password 1")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let user = body["user"]["id"].as_str().unwrap().to_owned();
        let session = body["session_id"].as_str().unwrap().to_owned();
        let admin = login(&fx.app, "ada@acme.test", "correct horse battery").await;
        let (_, sessions) = send(
            &fx.app,
            get(&format!("/v1/users/{user}/sessions"), Some(&admin)),
        )
        .await;
        let found = sessions
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == session.as_str())
            .unwrap_or_else(|| panic!("{sessions}"));
        assert_eq!(found["ip"], expected, "{peer} {forwarded:?}");
    }
}

/// One client address gets a bounded number of login attempts: then 429 with Retry-After,
/// while another address still signs in.
#[tokio::test]
async fn login_attempts_are_throttled_per_client() {
    let fx = fixture().await;
    let burst = fx.service.config().throttle.client_burst;
    for _ in 0..burst {
        let (status, _) = send(&fx.app, login_from("198.51.100.7:1", None, "wrong")).await;
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS);
    }
    let response = fx
        .app
        .clone()
        .oneshot(login_from("198.51.100.7:1", None, "learner password 1"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    let (status, body) = send(
        &fx.app,
        login_from("198.51.100.8:1", None, "learner password 1"),
    )
    .await;
    // The account locked after 5 failures; the known-client rule does not apply to a new
    // address, so the lock answers — not the throttle.
    assert_eq!(status, StatusCode::LOCKED, "{body}");
}

/// What schemathesis found accepted against the document: each is now a 400 naming the field.
#[tokio::test]
async fn schema_violating_requests_are_refused() {
    let fx = fixture().await;
    let token = login(&fx.app, "ada@acme.test", "correct horse battery").await;
    let roles = send(&fx.app, get("/v1/roles", Some(&token))).await.1;
    let role = roles[0]["id"].as_str().unwrap().to_owned();
    // A JSON array is not an object body (serde would map it onto the fields by position).
    let (status, body) = send(
        &fx.app,
        with_token(
            "PUT",
            &format!("/v1/roles/{role}"),
            &token,
            Some(json!([null, null])),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["fields"]["body"].is_array(), "{body}");
    for (uri, field) in [
        ("/v1/users?page=2147483648", "page"),
        (
            "/v1/users?failed_login_attempts_min=2147483648",
            "failed_login_attempts_min",
        ),
        (
            "/v1/users?total_time_spent_min=9223372036854775808",
            "total_time_spent_min",
        ),
        ("/v1/users?locale=en-Latn-US-x-private", "locale"),
    ] {
        let (status, body) = send(&fx.app, get(uri, Some(&token))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert!(body["error"]["fields"][field].is_array(), "{uri}: {body}");
    }
    for uri in ["/v1/system/users/by-ids?ids=", "/v1/system/users/by-ids"] {
        let (status, body) = system_call(&fx.app, "GET", uri, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert!(body["error"]["fields"]["ids"].is_array(), "{body}");
    }
}
