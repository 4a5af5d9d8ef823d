//! SCIM 2.0 over HTTP: provisioning-token authentication, the User lifecycle (create, read,
//! PUT, PATCH with value paths, ETags, soft delete), SCIM error bodies, paging, and random
//! filters checked against RFC 7644's semantics evaluated on the server's own resources.

// Test set-up: failing loudly is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use usermgmt_axum::{ApiState, router, scim_router};
use usermgmt_core::model::TenantId;
use usermgmt_core::password::{Password, PasswordPolicy};
use usermgmt_core::scim::eval::matches;
use usermgmt_core::scim::filter::parse;
use usermgmt_core::{ServiceConfig, UserService};
use usermgmt_sqlite::SqliteStorage;

const PASSWORD: &str = "correct horse battery";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    call_with(app, method, uri, token, body, None).await
}

async fn call_with(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
    if_match: Option<&str>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(tag) = if_match {
        request = request.header(header::IF_MATCH, tag);
    }
    let request = match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/scim+json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

/// The app (admin API and SCIM), an admin session and a provisioning token.
async fn app() -> (Router, String, String, tempfile::TempDir) {
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
    service
        .bootstrap_super_admin(&tenant, "Admin", "admin@acme.test", Password::new(PASSWORD))
        .await
        .unwrap();
    let state = ApiState::new(service, tenant);
    let app = router(state.clone()).nest("/scim/v2", scim_router(state));
    let login = json!({ "identifier": "admin@acme.test", "password": PASSWORD });
    let session = call(&app, "POST", "/v1/auth/login", None, Some(login)).await;
    let session = session.body["token"].as_str().unwrap().to_owned();
    let issued = call(
        &app,
        "POST",
        "/v1/provisioning-tokens",
        Some(&session),
        Some(json!({ "name": "IdP" })),
    )
    .await;
    assert_eq!(issued.status, StatusCode::CREATED);
    let token = issued.body["secret"].as_str().unwrap().to_owned();
    (app, session, token, dir)
}

fn is_scim_error(answer: &Answer, status: StatusCode, scim_type: Option<&str>) -> bool {
    answer.status == status
        && answer.headers[header::CONTENT_TYPE] == "application/scim+json"
        && answer.body["schemas"][0] == "urn:ietf:params:scim:api:messages:2.0:Error"
        && answer.body["status"].as_str() == Some(status.as_str())
        && scim_type.is_none_or(|t| answer.body["scimType"] == t)
}

fn alice() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": "alice.w",
        "name": { "givenName": "Alice", "familyName": "Walker" },
        "emails": [
            { "value": "other@example.com", "type": "home" },
            { "value": "Alice@Example.com", "type": "work", "primary": true }
        ],
        "title": "Engineer",
        ENTERPRISE: { "employeeNumber": "E-1" },
    })
}

#[tokio::test]
async fn tokens_open_scim_and_nothing_else() {
    let (app, session, token, _dir) = app().await;
    let none = call(&app, "GET", "/scim/v2/Users", None, None).await;
    assert!(is_scim_error(&none, StatusCode::UNAUTHORIZED, None));
    let session_only = call(&app, "GET", "/scim/v2/Users", Some(&session), None).await;
    assert!(is_scim_error(&session_only, StatusCode::UNAUTHORIZED, None));
    // The provisioning token is no session.
    let admin_api = call(&app, "GET", "/v1/users", Some(&token), None).await;
    assert_eq!(admin_api.status, StatusCode::UNAUTHORIZED);
    // Discovery needs no token; unknown endpoints and methods answer SCIM errors.
    let config = call(&app, "GET", "/scim/v2/ServiceProviderConfig", None, None).await;
    assert_eq!(config.status, StatusCode::OK);
    assert_eq!(config.body["patch"]["supported"], true);
    let types = call(&app, "GET", "/scim/v2/ResourceTypes", None, None).await;
    assert_eq!(
        types.body["Resources"][0]["schema"],
        "urn:ietf:params:scim:schemas:core:2.0:User"
    );
    let schema = call(
        &app,
        "GET",
        "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
        None,
        None,
    )
    .await;
    assert_eq!(schema.status, StatusCode::OK);
    assert!(is_scim_error(
        &call(&app, "GET", "/scim/v2/Nope", Some(&token), None).await,
        StatusCode::NOT_FOUND,
        None
    ));
    assert!(is_scim_error(
        &call(&app, "DELETE", "/scim/v2/ServiceProviderConfig", None, None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        None
    ));

    // Listed without its secret, revoked by the admin: SCIM refuses it from then on.
    let listed = call(&app, "GET", "/v1/provisioning-tokens", Some(&session), None).await;
    assert!(!listed.body.to_string().contains(&token));
    let id = listed.body[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        call(&app, "GET", "/scim/v2/Users", Some(&token), None)
            .await
            .status,
        StatusCode::OK
    );
    let revoked = call(
        &app,
        "DELETE",
        &format!("/v1/provisioning-tokens/{id}"),
        Some(&session),
        None,
    )
    .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert!(is_scim_error(
        &call(&app, "GET", "/scim/v2/Users", Some(&token), None).await,
        StatusCode::UNAUTHORIZED,
        None
    ));
}

#[tokio::test]
async fn a_user_is_created_patched_replaced_and_deleted() {
    let (app, _session, token, _dir) = app().await;
    let t = Some(token.as_str());
    let created = call(&app, "POST", "/scim/v2/Users", t, Some(alice())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.headers[header::LOCATION],
        format!("http://localhost/scim/v2/Users/{id}")
    );
    assert_eq!(created.body["displayName"], "Alice Walker");
    assert_eq!(
        created.body["emails"],
        json!([{ "value": "alice@example.com" }])
    );
    assert_eq!(created.body[ENTERPRISE]["employeeNumber"], "E-1");
    assert_eq!(created.body["active"], true);
    let etag = created.headers[header::ETAG].to_str().unwrap().to_owned();
    assert_eq!(etag, created.body["meta"]["version"]);

    // Same username (any case) or address: a uniqueness error; a bad username: invalidValue.
    let mut again = alice();
    again["userName"] = json!("ALICE.W");
    again["emails"] = json!([{ "value": "new@example.com" }]);
    assert!(is_scim_error(
        &call(&app, "POST", "/scim/v2/Users", t, Some(again)).await,
        StatusCode::CONFLICT,
        Some("uniqueness")
    ));
    let mut bad = alice();
    bad["userName"] = json!("Alice Walker!");
    bad["emails"] = json!([{ "value": "bad@example.com" }]);
    let refused = call(&app, "POST", "/scim/v2/Users", t, Some(bad)).await;
    assert!(is_scim_error(
        &refused,
        StatusCode::BAD_REQUEST,
        Some("invalidValue")
    ));
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("username")
    );

    // PATCH: deactivate (with the current ETag), then a stale ETag is refused.
    let user_uri = format!("/scim/v2/Users/{id}");
    let deactivate = json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "replace", "path": "active", "value": false }] });
    let patched = call_with(
        &app,
        "PATCH",
        &user_uri,
        t,
        Some(deactivate.clone()),
        Some(&etag),
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["active"], false);
    let stale = call_with(&app, "PATCH", &user_uri, t, Some(deactivate), Some(&etag)).await;
    assert!(is_scim_error(&stale, StatusCode::PRECONDITION_FAILED, None));

    // A value path replaces one address; `add` without a path merges attributes.
    let ops = json!({ "schemas": [PATCH_OP], "Operations": [
        { "op": "replace", "path": "emails[value eq \"ALICE@example.com\"].value", "value": "aw@example.com" },
        { "op": "add", "value": { "active": true, "title": "Lead" } },
        { "op": "remove", "path": format!("{ENTERPRISE}:employeeNumber") },
    ] });
    let patched = call(&app, "PATCH", &user_uri, t, Some(ops)).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(
        patched.body["emails"],
        json!([{ "value": "aw@example.com" }])
    );
    assert_eq!(patched.body["title"], "Lead");
    assert_eq!(patched.body["active"], true);
    assert!(patched.body.get(ENTERPRISE).is_none());
    let no_target = json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "replace", "path": "emails[value eq \"x@y.z\"].value", "value": "a@b.c" }] });
    assert!(is_scim_error(
        &call(&app, "PATCH", &user_uri, t, Some(no_target)).await,
        StatusCode::BAD_REQUEST,
        Some("noTarget")
    ));
    let not_patch = json!({ "Operations": [] });
    assert!(is_scim_error(
        &call(&app, "PATCH", &user_uri, t, Some(not_patch)).await,
        StatusCode::BAD_REQUEST,
        Some("invalidSyntax")
    ));

    // PUT replaces: what it leaves out (title) is cleared.
    let put = json!({ "userName": "alice.w", "displayName": "Alice W", "emails": [{ "value": "aw@example.com" }] });
    let replaced = call(&app, "PUT", &user_uri, t, Some(put)).await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    assert!(replaced.body.get("title").is_none());
    assert_eq!(replaced.body["displayName"], "Alice W");

    // attributes / excludedAttributes.
    let only = call(
        &app,
        "GET",
        &format!("{user_uri}?attributes=userName"),
        t,
        None,
    )
    .await;
    assert_eq!(only.body.as_object().unwrap().len(), 3, "{}", only.body); // id, schemas, userName
    let without = call(
        &app,
        "GET",
        &format!("{user_uri}?excludedAttributes=emails,id"),
        t,
        None,
    )
    .await;
    assert!(without.body.get("emails").is_none() && without.body.get("id").is_some());

    // DELETE is a soft delete that SCIM no longer sees.
    assert_eq!(
        call(&app, "DELETE", &user_uri, t, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert!(is_scim_error(
        &call(&app, "GET", &user_uri, t, None).await,
        StatusCode::NOT_FOUND,
        None
    ));
    assert!(is_scim_error(
        &call(&app, "DELETE", &user_uri, t, None).await,
        StatusCode::NOT_FOUND,
        None
    ));
    let listed = call(&app, "GET", "/scim/v2/Users", t, None).await;
    assert!(!listed.body.to_string().contains(&id));
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A tiny deterministic generator (no randomness crate among this crate's dev-dependencies).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

#[tokio::test]
async fn paging_sorting_and_random_filters_match_the_reference() {
    let (app, _session, token, _dir) = app().await;
    let t = Some(token.as_str());
    for i in 0..9 {
        let body = json!({
            "userName": format!("u{i}.x"),
            "displayName": format!("Person {}", 9 - i),
            "emails": [{ "value": format!("p{i}@example.com") }],
            "active": i % 3 != 0,
            "title": if i % 2 == 0 { json!(format!("T{i}")) } else { Value::Null },
        });
        assert_eq!(
            call(&app, "POST", "/scim/v2/Users", t, Some(body))
                .await
                .status,
            StatusCode::CREATED
        );
    }
    // The admin account has no username: 10 users in all, created in order.
    let all = call(&app, "GET", "/scim/v2/Users?count=500", t, None).await;
    assert_eq!(all.body["totalResults"], 10);
    let everyone: Vec<Value> = all.body["Resources"].as_array().unwrap().clone();
    let page = call(&app, "GET", "/scim/v2/Users?startIndex=4&count=3", t, None).await;
    assert_eq!(page.body["startIndex"], 4);
    assert_eq!(
        page.body["Resources"].as_array().unwrap()[..],
        everyone[3..6]
    );
    let sorted = call(
        &app,
        "GET",
        "/scim/v2/Users?sortBy=displayName&sortOrder=descending&count=2",
        t,
        None,
    )
    .await;
    assert_eq!(sorted.body["Resources"][0]["displayName"], "Person 9");
    let bad_sort = call(&app, "GET", "/scim/v2/Users?sortBy=userName", t, None).await;
    assert!(is_scim_error(
        &bad_sort,
        StatusCode::BAD_REQUEST,
        Some("invalidValue")
    ));
    for bad in [
        "userName eq",
        "displayName co \"P\"",
        "title pr",
        "userName eq \"a\" or active eq true",
    ] {
        let answer = call(
            &app,
            "GET",
            &format!("/scim/v2/Users?filter={}", encode(bad)),
            t,
            None,
        )
        .await;
        assert!(
            is_scim_error(&answer, StatusCode::BAD_REQUEST, Some("invalidFilter")),
            "{bad}"
        );
    }

    let leaf = |rng: &mut Lcg| -> String {
        let user = &everyone[rng.next(everyone.len())];
        let name = user["userName"].as_str().unwrap_or("nobody").to_uppercase();
        let email = user["emails"][0]["value"]
            .as_str()
            .unwrap_or("none@x.y")
            .to_owned();
        let created = user["meta"]["created"].as_str().unwrap().to_owned();
        match rng.next(6) {
            0 => format!("userName eq \"{name}\""),
            1 => format!("emails[value eq \"{email}\"]"),
            2 => format!("id eq \"{}\"", user["id"].as_str().unwrap()),
            3 => format!("active eq {}", rng.next(2) == 0),
            4 => format!(
                "meta.created {} \"{created}\"",
                ["gt", "ge", "lt", "le"][rng.next(4)]
            ),
            _ => format!("not (active eq {})", rng.next(2) == 0),
        }
    };
    let mut rng = Lcg(7);
    for round in 0..80 {
        let filter = match rng.next(3) {
            0 => leaf(&mut rng),
            1 => format!("({}) and ({})", leaf(&mut rng), leaf(&mut rng)),
            _ => format!(
                "{} and {} and {}",
                leaf(&mut rng),
                leaf(&mut rng),
                leaf(&mut rng)
            ),
        };
        let expected: Vec<&Value> = everyone
            .iter()
            .filter(|u| matches(&parse(&filter).unwrap(), u))
            .collect();
        // GET with the filter in the query, POST /.search with it in the body: same answer.
        let got = if round % 2 == 0 {
            call(
                &app,
                "GET",
                &format!("/scim/v2/Users?count=500&filter={}", encode(&filter)),
                t,
                None,
            )
            .await
        } else {
            let body = json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": filter, "count": 500 });
            call(&app, "POST", "/scim/v2/Users/.search", t, Some(body)).await
        };
        assert_eq!(got.status, StatusCode::OK, "{filter}: {}", got.body);
        let got: Vec<&Value> = got.body["Resources"].as_array().unwrap().iter().collect();
        let ids = |v: &[&Value]| v.iter().map(|u| u["id"].clone()).collect::<Vec<_>>();
        assert_eq!(ids(&got), ids(&expected), "{filter}");
    }
}

#[tokio::test]
async fn groups_are_roles_and_their_members() {
    let (app, session, token, _dir) = app().await;
    let t = Some(token.as_str());
    let mut ids = Vec::new();
    for i in 0..3 {
        let body = json!({ "userName": format!("mem{i}"), "displayName": format!("M {i}"), "emails": [{ "value": format!("m{i}@example.com") }] });
        let created = call(&app, "POST", "/scim/v2/Users", t, Some(body)).await;
        ids.push(created.body["id"].as_str().unwrap().to_owned());
    }
    let member = |id: &str| json!({ "value": id, "type": "User" });
    let group = json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Students", "members": [member(&ids[0]), member(&ids[1])] });
    let created = call(&app, "POST", "/scim/v2/Groups", t, Some(group)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["displayName"], "students");
    let gid = created.body["id"].as_str().unwrap().to_owned();
    let group_uri = format!("/scim/v2/Groups/{gid}");
    let values = |body: &Value| {
        let mut v: Vec<String> = body["members"].as_array().map_or(Vec::new(), |m| {
            m.iter()
                .map(|x| x["value"].as_str().unwrap().to_owned())
                .collect()
        });
        v.sort();
        v
    };
    let mut first_two = vec![ids[0].clone(), ids[1].clone()];
    first_two.sort();
    assert_eq!(values(&created.body), first_two);
    // The members hold the role in the admin API too.
    let user = call(
        &app,
        "GET",
        &format!("/v1/users/{}", ids[0]),
        Some(&session),
        None,
    )
    .await;
    assert_eq!(user.body["roles"], json!(["students"]));

    // PATCH: add one, remove one by value path; an unknown member fails the whole request.
    let unknown = json!({ "schemas": [PATCH_OP], "Operations": [
        { "op": "add", "path": "members", "value": [member(&ids[2]), member("01a00000-0000-7000-8000-000000000000")] }
    ] });
    let refused = call(&app, "PATCH", &group_uri, t, Some(unknown)).await;
    assert!(
        is_scim_error(&refused, StatusCode::BAD_REQUEST, Some("invalidValue")),
        "{}",
        refused.body
    );
    assert_eq!(
        values(&call(&app, "GET", &group_uri, t, None).await.body),
        first_two
    );
    let ops = json!({ "schemas": [PATCH_OP], "Operations": [
        { "op": "add", "path": "members", "value": [member(&ids[2])] },
        { "op": "remove", "path": format!("members[value eq \"{}\"]", ids[0]) },
        { "op": "replace", "path": "displayName", "value": "Learners" },
    ] });
    let patched = call(&app, "PATCH", &group_uri, t, Some(ops)).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let mut last_two = vec![ids[1].clone(), ids[2].clone()];
    last_two.sort();
    assert_eq!(values(&patched.body), last_two);
    assert_eq!(patched.body["displayName"], "learners");

    // Listing with a filter (members excluded, as identity providers ask), then delete.
    let listed = call(
        &app,
        "GET",
        &format!(
            "/scim/v2/Groups?filter={}&excludedAttributes=members",
            encode("displayName eq \"LEARNERS\"")
        ),
        t,
        None,
    )
    .await;
    assert_eq!(listed.body["totalResults"], 1);
    assert!(listed.body["Resources"][0].get("members").is_none());
    // The super-admin role is no group.
    let all = call(&app, "GET", "/scim/v2/Groups", t, None).await;
    assert!(!all.body.to_string().contains("super_admin"));
    assert_eq!(
        call(&app, "DELETE", &group_uri, t, None).await.status,
        StatusCode::NO_CONTENT
    );
    let user = call(
        &app,
        "GET",
        &format!("/v1/users/{}", ids[1]),
        Some(&session),
        None,
    )
    .await;
    assert_eq!(user.body["roles"], json!([]));
    assert!(is_scim_error(
        &call(&app, "GET", &group_uri, t, None).await,
        StatusCode::NOT_FOUND,
        None
    ));
}

#[tokio::test]
async fn active_true_never_lifts_a_suspension() {
    let (app, session, token, _dir) = app().await;
    let t = Some(token.as_str());
    let created = call(&app, "POST", "/scim/v2/Users", t, Some(alice())).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let suspend = json!({ "status": "suspended" });
    let suspended = call(
        &app,
        "PUT",
        &format!("/v1/users/{id}"),
        Some(&session),
        Some(suspend),
    )
    .await;
    assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.body);
    let activate = json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "replace", "path": "active", "value": true }] });
    let patched = call(
        &app,
        "PATCH",
        &format!("/scim/v2/Users/{id}"),
        t,
        Some(activate),
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.body["active"], false);
    let user = call(
        &app,
        "GET",
        &format!("/v1/users/{id}"),
        Some(&session),
        None,
    )
    .await;
    assert_eq!(user.body["status"], "suspended");
}
