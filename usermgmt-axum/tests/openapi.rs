//! The OpenAPI document against the router that is actually mounted: every route of SPEC §6
//! (and the one addition, `/v1/auth/me/permissions`) is documented, every documented operation is served, and nothing else answers on its paths.

// Test set-up: failing loudly is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use usermgmt_axum::{ApiState, openapi, router};
use usermgmt_core::model::{Permission, TenantId};
use usermgmt_core::{ServiceConfig, UserService};
use usermgmt_sqlite::SqliteStorage;

/// Every route of SPEC §6, as the contract lists it.
const SPEC_ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/auth/login"),
    ("POST", "/v1/auth/logout"),
    ("GET", "/v1/auth/me"),
    // Beyond §6: the caller's own effective permissions, for user interfaces.
    ("GET", "/v1/auth/me/permissions"),
    ("GET", "/v1/users"),
    ("POST", "/v1/users"),
    ("GET", "/v1/users/filter-values"),
    ("GET", "/v1/users/field-values"),
    ("GET", "/v1/users/stats"),
    ("GET", "/v1/users/analytics/overview"),
    ("GET", "/v1/users/analytics/growths"),
    ("GET", "/v1/users/bulk/export"),
    ("DELETE", "/v1/users/bulk/delete"),
    ("GET", "/v1/users/{user_id}"),
    ("PUT", "/v1/users/{user_id}"),
    ("DELETE", "/v1/users/{user_id}"),
    ("PUT", "/v1/users/{user_id}/unique-id"),
    ("GET", "/v1/users/{user_id}/sessions"),
    ("DELETE", "/v1/users/{user_id}/sessions"),
    ("DELETE", "/v1/users/{user_id}/sessions/{session_id}"),
    ("POST", "/v1/users/{user_id}/impersonate"),
    ("GET", "/v1/users/{user_id}/audit-logs"),
    ("GET", "/v1/users/{user_id}/notes"),
    ("POST", "/v1/users/{user_id}/notes"),
    ("DELETE", "/v1/users/{user_id}/notes/{note_id}"),
    ("POST", "/v1/users/{user_id}/oauth/link"),
    ("POST", "/v1/users/{user_id}/oauth/unlink"),
    ("GET", "/v1/users/{user_id}/permissions"),
    ("GET", "/v1/roles"),
    ("POST", "/v1/roles"),
    ("GET", "/v1/roles/{role_id}"),
    ("PUT", "/v1/roles/{role_id}"),
    ("DELETE", "/v1/roles/{role_id}"),
    ("GET", "/v1/provisioning-tokens"),
    ("POST", "/v1/provisioning-tokens"),
    ("DELETE", "/v1/provisioning-tokens/{token_id}"),
    ("GET", "/v1/webhooks"),
    ("POST", "/v1/webhooks"),
    ("GET", "/v1/webhooks/{webhook_id}"),
    ("PATCH", "/v1/webhooks/{webhook_id}"),
    ("DELETE", "/v1/webhooks/{webhook_id}"),
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"),
    (
        "POST",
        "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    ),
    ("POST", "/v1/webhooks/{webhook_id}/replay"),
    ("GET", "/v1/permissions"),
    ("POST", "/v1/system/users/get-or-create"),
    ("GET", "/v1/system/users/search"),
    ("GET", "/v1/system/users/by-ids"),
    ("POST", "/v1/system/users/{user_id}/roles"),
    ("POST", "/v1/system/users/{user_id}/permissions"),
    ("PATCH", "/v1/system/users/{user_id}/flags"),
    ("GET", "/v1/system/roles"),
    ("GET", "/v1/openapi.json"),
    // SPEC §10: account flows.
    ("POST", "/v1/users/{user_id}/password-reset"),
    ("POST", "/v1/auth/password-reset"),
    ("POST", "/v1/auth/password-reset/confirm"),
    ("DELETE", "/v1/auth/me"),
    ("POST", "/v1/users/{user_id}/invite"),
    ("POST", "/v1/auth/invitation/accept"),
    ("POST", "/v1/users/{user_id}/verification"),
    ("POST", "/v1/auth/verification"),
    ("POST", "/v1/auth/verify"),
    ("POST", "/v1/auth/verify/code"),
    // SPEC §11: import.
    ("POST", "/v1/users/bulk/import"),
];

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

async fn app() -> (Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let storage = SqliteStorage::open(dir.path().join("users.db"))
        .await
        .unwrap();
    let service = Arc::new(UserService::with_config(
        Arc::new(storage),
        ServiceConfig::default(),
    ));
    let state = ApiState::new(service, TenantId::new("acme").unwrap())
        .with_system_token("t0ken-for-the-openapi-test")
        .unwrap();
    (router(state), dir)
}

/// `(METHOD, path)` of every operation in the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if METHODS.contains(&method.to_uppercase().as_str()) {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// A concrete URI for a templated path: every `{…}` segment becomes a UUID.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "0199a3b2-0000-7000-8000-000000000001"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Status and body of a request without credentials.
async fn call(app: &Router, method: &str, uri: &str) -> (StatusCode, Vec<u8>) {
    let request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body.to_vec())
}

#[tokio::test]
async fn the_served_document_is_openapi_3_and_lists_exactly_the_spec_routes() {
    let (app, _dir) = app().await;
    let (status, body) = call(&app, "GET", "/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let mut doc: Value = serde_json::from_slice(&body).unwrap();
    // The served document names the service's registered permissions; the static one says
    // only their shape. Otherwise they are the same document.
    let registered = doc["components"]["schemas"]["Permission"].take();
    let names: Vec<&str> = registered["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let expected: Vec<&str> = Permission::BUILT_IN.iter().map(|p| p.as_str()).collect();
    assert_eq!(names, expected);
    let mut stat = serde_json::to_value(openapi()).unwrap();
    assert_eq!(
        stat["components"]["schemas"]["Permission"]["pattern"],
        usermgmt_core::model::PERMISSION_NAME_PATTERN
    );
    stat["components"]["schemas"]["Permission"].take();
    assert_eq!(doc, stat);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with('3'),
        "{}",
        doc["openapi"]
    );

    let spec: BTreeSet<(String, String)> = SPEC_ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let documented = documented(&doc);
    let missing: Vec<_> = spec.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&spec).collect();
    assert!(missing.is_empty(), "undocumented routes: {missing:?}");
    assert!(extra.is_empty(), "documented but not in SPEC §6: {extra:?}");
}

#[tokio::test]
async fn every_documented_operation_is_mounted_and_nothing_undocumented_answers_on_its_paths() {
    let (app, _dir) = app().await;
    let doc = serde_json::to_value(openapi()).unwrap();
    let documented = documented(&doc);
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    for path in paths {
        let uri = concrete(path);
        for method in METHODS {
            let (status, body) = call(&app, method, &uri).await;
            if documented.contains(&(method.to_owned(), path.clone())) {
                // The router's own 404/405 have empty bodies; a mounted handler answers (here,
                // without credentials, mostly 401) in the JSON error model or with the document.
                let json: Value = serde_json::from_slice(&body)
                    .unwrap_or_else(|_| panic!("{method} {uri}: {status}, not JSON"));
                assert!(
                    status == StatusCode::OK || json["error"]["code"].is_string(),
                    "{method} {uri}: {status} {json}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {uri} answers but is not documented"
                );
            }
        }
    }
}

#[tokio::test]
async fn every_schema_reference_resolves_and_operations_say_how_to_authenticate() {
    let doc = serde_json::to_value(openapi()).unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 20, "only {} references", refs.len());
    for reference in refs {
        let name = reference.trim_start_matches("#/components/schemas/");
        assert!(schemas.contains_key(name), "dangling reference {reference}");
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let security = operation["security"].as_array().unwrap();
            let scheme: Vec<&String> = security
                .iter()
                .flat_map(|s| s.as_object().unwrap().keys())
                .collect();
            let expected: &[&str] = match path.as_str() {
                "/v1/auth/login"
                | "/v1/auth/password-reset"
                | "/v1/auth/password-reset/confirm"
                | "/v1/auth/invitation/accept"
                | "/v1/auth/verification"
                | "/v1/auth/verify"
                | "/v1/auth/verify/code"
                | "/v1/openapi.json" => &[],
                p if p.starts_with("/v1/system/") => &["system_token"],
                _ => &["session_token"],
            };
            assert_eq!(scheme, expected, "{method} {path}");
            assert!(
                operation["responses"]["default"].is_object(),
                "{method} {path}"
            );
        }
    }
    // The user schema (its own fields plus the flattened profile) documents fields, never
    // secrets.
    let mut fields = BTreeSet::new();
    for part in schemas["User"]["allOf"].as_array().unwrap() {
        let part = match part["$ref"].as_str() {
            Some(r) => &schemas[r.trim_start_matches("#/components/schemas/")],
            None => part,
        };
        fields.extend(part["properties"].as_object().unwrap().keys().cloned());
    }
    for field in [
        "id", "email", "status", "roles", "city", "country", "version",
    ] {
        assert!(fields.contains(field), "User lacks {field}: {fields:?}");
    }
    assert!(
        !fields
            .iter()
            .any(|f| f.contains("hash") || f.contains("token")),
        "{fields:?}"
    );
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// The bounds the document declares are the ones core enforces: utoipa takes only literal
/// numbers, so this keeps the literals and core's constants in step.
#[test]
fn declared_bounds_are_cores_constants() {
    use usermgmt_core::filter::{MAX_AGE, MAX_DAYS, MAX_FAILED_ATTEMPTS, MAX_FILTER_VALUES};
    use usermgmt_core::validate::{MAX_EXPERTISE, MAX_PERMISSIONS, MAX_ROLES};
    let doc = serde_json::to_value(openapi()).unwrap();
    // A schema with flattened parts (`UserFilters` holds `EnrollmentFilters`) is an `allOf`.
    let schema = |name: &str, field: &str, key: &str| {
        let schema = &doc["components"]["schemas"][name];
        let parts = schema["allOf"].as_array().cloned().unwrap_or_default();
        std::iter::once(schema.clone())
            .chain(parts)
            .find_map(|part| part["properties"][field][key].as_u64())
    };
    let as_u64 = |n: usize| u64::try_from(n).unwrap();
    for (name, field, key, wanted) in [
        ("UserFilters", "age_min", "maximum", u64::from(MAX_AGE)),
        ("UserFilters", "age_max", "maximum", u64::from(MAX_AGE)),
        (
            "UserFilters",
            "created_in_last_days",
            "maximum",
            u64::from(MAX_DAYS),
        ),
        (
            "UserFilters",
            "active_in_last_days",
            "maximum",
            u64::from(MAX_DAYS),
        ),
        (
            "UserFilters",
            "inactive_for_days",
            "maximum",
            u64::from(MAX_DAYS),
        ),
        (
            "UserFilters",
            "failed_login_attempts_min",
            "maximum",
            u64::from(MAX_FAILED_ATTEMPTS),
        ),
        (
            "UserFilters",
            "failed_login_attempts_max",
            "maximum",
            u64::from(MAX_FAILED_ATTEMPTS),
        ),
        (
            "UserFilters",
            "roles",
            "maxItems",
            as_u64(MAX_FILTER_VALUES),
        ),
        (
            "UserFilters",
            "country",
            "maxItems",
            as_u64(MAX_FILTER_VALUES),
        ),
        ("UserFilters", "city", "maxItems", as_u64(MAX_FILTER_VALUES)),
        ("EnrollmentFilters", "progress_min", "maximum", 100),
        (
            "EnrollmentFilters",
            "enrolled_program_ids",
            "maxItems",
            as_u64(MAX_FILTER_VALUES),
        ),
        ("CreateUser", "roles", "maxItems", as_u64(MAX_ROLES)),
        (
            "CreateUser",
            "permissions",
            "maxItems",
            as_u64(MAX_PERMISSIONS),
        ),
        ("CreateUser", "expertise", "maxItems", as_u64(MAX_EXPERTISE)),
        (
            "CreateRole",
            "permissions",
            "maxItems",
            as_u64(MAX_PERMISSIONS),
        ),
    ] {
        assert_eq!(
            schema(name, field, key),
            Some(wanted),
            "{name}.{field} {key}"
        );
    }
}
