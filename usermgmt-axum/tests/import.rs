//! `POST /v1/users/bulk/import` over HTTP: an export of 1,000 users imported into a fresh
//! tenant exports the same; a dry run writes nothing; a malformed file is a 400; bodies past
//! the JSON routes' 1 MiB limit are taken (streamed).

// Test set-up: failing loudly is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use usermgmt_axum::{ApiState, router};
use usermgmt_core::model::TenantId;
use usermgmt_core::password::{Password, PasswordPolicy};
use usermgmt_core::{ServiceConfig, UserService};
use usermgmt_sqlite::SqliteStorage;

const PASSWORD: &str = "correct horse battery";

/// Two tenants' routers over one database, each with its admin signed in.
async fn two_tenants() -> ((Router, String), (Router, String), tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let storage = SqliteStorage::open(dir.path().join("users.db"))
        .await
        .unwrap();
    let config = ServiceConfig {
        password: PasswordPolicy::insecure_fast_for_tests(),
        ..ServiceConfig::default()
    };
    let service = Arc::new(UserService::with_config(Arc::new(storage), config));
    let mut apps = Vec::new();
    for name in ["source", "fresh"] {
        let tenant = TenantId::new(name).unwrap();
        let email = format!("admin@{name}.test");
        service
            .bootstrap_super_admin(&tenant, "Admin", &email, Password::new(PASSWORD))
            .await
            .unwrap();
        let app = router(ApiState::new(service.clone(), tenant));
        let login = json!({ "identifier": email, "password": PASSWORD });
        let (status, body) = send(
            &app,
            "POST",
            "/v1/auth/login",
            None,
            Body::from(login.to_string()),
            "application/json",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let token = serde_json::from_slice::<Value>(&body).unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        apps.push((app, token));
    }
    let fresh = apps.pop().unwrap();
    let source = apps.pop().unwrap();
    (source, fresh, dir)
}

async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Body,
    content_type: &str,
) -> (StatusCode, Vec<u8>) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    (
        status,
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
}

/// A CSV of `n` learners in the export's columns, varied.
fn generated(n: usize) -> String {
    let statuses = ["active", "inactive", "suspended", "pending_verification"];
    let countries = ["DE", "FR", "US", "JP"];
    let mut out = String::from(
        "name,email,phone,username,status,user_type,email_verified,country,city,expertise,date_of_birth,gender,bio\n",
    );
    for i in 0..n {
        out.push_str(&format!(
            "Learner {i},learner{i}@source.test,+1415555{:04},user_{i},{},learner,{},{},City {},rust;go,19{:02}-0{}-1{},{},\"Bio, with a comma {i}\"\n",
            1000 + i,
            statuses[i % 4],
            i % 2 == 0,
            countries[i % 4],
            i % 7,
            50 + i % 40,
            1 + i % 9,
            i % 10,
            if i % 3 == 0 { "female" } else { "male" },
        ));
    }
    out
}

/// The users of an export without the columns a copy cannot share (id, times), sorted.
fn comparable(export: &[u8]) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_reader(export);
    let headers = reader.headers().unwrap().clone();
    let keep: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| !matches!(*h, "id" | "created_at" | "last_login_at"))
        .map(|(i, _)| i)
        .collect();
    let mut rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            keep.iter().map(|i| r[*i].to_owned()).collect()
        })
        .collect();
    rows.sort();
    rows
}

async fn import(app: &Router, token: &str, query: &str, body: String) -> (StatusCode, Value) {
    let uri = format!("/v1/users/bulk/import{query}");
    let (status, body) = send(app, "POST", &uri, Some(token), Body::from(body), "text/csv").await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn export(app: &Router, token: &str) -> Vec<u8> {
    let (status, body) = send(
        app,
        "GET",
        "/v1/users/bulk/export?is_admin=false",
        Some(token),
        Body::empty(),
        "text/plain",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    body
}

#[tokio::test]
async fn an_export_of_1000_users_imports_into_a_fresh_tenant_and_exports_the_same() {
    let ((source, source_token), (fresh, fresh_token), _dir) = two_tenants().await;
    let csv = generated(1000);
    assert!(csv.len() < 1024 * 1024);
    let (status, answer) = import(&source, &source_token, "", csv).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["summary"]["created"], json!(1000), "{answer}");
    assert_eq!(answer["rejected"], json!([]));

    let exported = export(&source, &source_token).await;
    // A dry run checks it all and writes nothing.
    let text = String::from_utf8(exported.clone()).unwrap();
    let (status, answer) = import(&fresh, &fresh_token, "?dry_run=true", text.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["summary"]["invalid"], json!(0), "{answer}");
    assert_eq!(answer["summary"]["committed"], json!(false));
    assert_eq!(comparable(&export(&fresh, &fresh_token).await).len(), 0);

    let (status, answer) = import(&fresh, &fresh_token, "", text).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["summary"]["created"], json!(1000), "{answer}");
    let copied = export(&fresh, &fresh_token).await;
    assert_eq!(comparable(&exported).len(), 1000);
    assert_eq!(
        comparable(&exported),
        comparable(&copied),
        "the two exports are equal"
    );
}

#[tokio::test]
async fn bad_files_and_parameters_are_400_and_large_bodies_stream() {
    let ((source, token), _, _dir) = two_tenants().await;
    let (status, answer) = import(&source, &token, "", "name,shoe_size\nJo,44\n".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer["error"]["fields"]["file"].is_array(), "{answer}");
    for empty in ["", "?format=json_lines"] {
        let (status, answer) = import(&source, &token, empty, String::new()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "an empty body: {answer}");
    }
    let (status, answer) = import(&source, &token, "?dry_run=maybe", "name\n".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, _) = send(
        &source,
        "POST",
        "/v1/users/bulk/import",
        None,
        Body::from("name\n"),
        "text/csv",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // 3,000 rows with a long bio: about 2 MiB, over the JSON routes' limit.
    let mut big = String::from("name,email,user_type,bio\n");
    for i in 0..3000 {
        big.push_str(&format!(
            "Big {i},big{i}@source.test,learner,{}\n",
            "x".repeat(650)
        ));
    }
    assert!(big.len() > 2 * 1024 * 1024 - 100_000);
    let (status, answer) = import(&source, &token, "?dry_run=true", big).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["summary"]["rows"], json!(3000), "{answer}");
}

#[tokio::test]
async fn the_per_row_report_streams_as_json_lines() {
    let ((app, token), _, _dir) = two_tenants().await;
    // 1,200 rows (three batches), two of them bad: every row reported, in order, then the
    // summary; all-or-nothing, so nothing is committed.
    let mut file = generated(1200);
    file = file.replace("learner7@source.test", "not-an-email");
    file = file.replace("Learner 1100,", ",");
    let request = Request::builder()
        .method("POST")
        .uri("/v1/users/bulk/import")
        .header(header::CONTENT_TYPE, "text/csv")
        .header(header::ACCEPT, "application/x-ndjson")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(file))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/x-ndjson"
    );
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let lines: Vec<Value> = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1201);
    for (i, row) in lines[..1200].iter().enumerate() {
        assert_eq!(
            row["line"],
            i + 2,
            "rows in file order (line 1 is the header)"
        );
        let bad = i == 7 || i == 1100;
        assert_eq!(
            row["outcome"],
            if bad { "rejected" } else { "created" },
            "{row}"
        );
        assert_eq!(row["errors"].is_object(), bad);
    }
    let summary = &lines[1200]["summary"];
    assert_eq!(summary["rows"], 1200);
    assert_eq!(summary["invalid"], 2);
    assert_eq!(summary["committed"], false);
    assert_eq!(summary["created"], 0);

    // An error before any row is an ordinary error answer.
    let request = Request::builder()
        .method("POST")
        .uri("/v1/users/bulk/import")
        .header(header::ACCEPT, "application/x-ndjson")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from("name,nonsense\nA,b\n"))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
