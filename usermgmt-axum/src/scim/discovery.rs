//! The discovery endpoints (RFC 7644 §4): what this server supports, its resource types and
//! their schemas. They describe exactly the attributes the mapping stores (see
//! `usermgmt_core::scim::user`), so a client filling every declared attribute round-trips.
//! They need no token.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};
use usermgmt_core::scim::compile::{CORE_USER, ENTERPRISE_USER};
use usermgmt_core::scim::group::CORE_GROUP;

use super::http::{ScimError, base_url, list_response, scim_json};
use crate::state::ApiState;

const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const CONFIG_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/ServiceProviderConfig", get(config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema))
}

async fn config(headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    let body = json!({
        "schemas": [CONFIG_SCHEMA],
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": 500 },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Provisioning token",
            "description": "A bearer token created under /v1/provisioning-tokens by an \
                            administrator holding user.provision",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    });
    scim_json(StatusCode::OK, &body, None)
}

fn all_resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A user of the tenant",
        "schema": CORE_USER,
        "schemaExtensions": [{ "schema": ENTERPRISE_USER, "required": false }],
        "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User") },
        }),
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A role of the tenant (not the super-admin role); its members are the users holding it",
            "schema": CORE_GROUP,
            "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group") },
        }),
    ]
}

async fn resource_types(headers: HeaderMap) -> Response {
    let all = all_resource_types(&base_url(&headers));
    list_response(all.len() as u64, 1, all)
}

async fn resource_type(headers: HeaderMap, Path(id): Path<String>) -> Result<Response, ScimError> {
    all_resource_types(&base_url(&headers))
        .into_iter()
        .find(|t| t["id"] == json!(id))
        .map(|t| scim_json(StatusCode::OK, &t, None))
        .ok_or_else(|| ScimError::new(StatusCode::NOT_FOUND, None, "no such resource type"))
}

/// One attribute definition (RFC 7643 §7).
fn attribute(name: &str, kind: &str, description: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": description,
        "required": false,
        "caseExact": false,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    })
}

fn with(mut attribute: Value, changes: Value) -> Value {
    if let (Some(a), Some(c)) = (attribute.as_object_mut(), changes.as_object()) {
        for (k, v) in c {
            a.insert(k.clone(), v.clone());
        }
    }
    attribute
}

fn all_schemas(base: &str) -> Vec<Value> {
    let user_attributes = vec![
        with(
            attribute(
                "userName",
                "string",
                "The username: 3-64 of a-z 0-9 . - _ (case ignored)",
            ),
            json!({ "required": true, "uniqueness": "server" }),
        ),
        with(
            attribute("displayName", "string", "The user's name"),
            json!({ "required": true }),
        ),
        attribute("title", "string", "The user's designation"),
        attribute("active", "boolean", "Whether the user may sign in"),
        with(
            attribute(
                "emails",
                "complex",
                "The user's email address (one is kept)",
            ),
            json!({
                "multiValued": true,
                "required": true,
                "subAttributes": [
                    with(
                        attribute("value", "string", "The address"),
                        json!({ "required": true, "uniqueness": "server" }),
                    ),
                ],
            }),
        ),
    ];
    let enterprise_attributes = vec![with(
        attribute(
            "employeeNumber",
            "string",
            "The user's unique ID: 1-64 of A-Z a-z 0-9 . - _ /",
        ),
        json!({ "uniqueness": "server" }),
    )];
    let group_attributes = vec![
        with(
            attribute(
                "displayName",
                "string",
                "The role's name: 1-64 of a-z 0-9 . - _ (lower-cased)",
            ),
            json!({ "required": true, "uniqueness": "server" }),
        ),
        with(
            attribute(
                "members",
                "complex",
                "The users holding the role (at most 10,000 listed)",
            ),
            json!({
                "multiValued": true,
                "subAttributes": [
                    with(
                        attribute("value", "string", "The user's id"),
                        json!({ "mutability": "immutable", "caseExact": true }),
                    ),
                    with(
                        attribute("$ref", "reference", "The user's URI"),
                        json!({ "mutability": "immutable", "referenceTypes": ["User"] }),
                    ),
                    with(
                        attribute("type", "string", "Always User: roles do not nest"),
                        json!({ "mutability": "immutable", "canonicalValues": ["User"] }),
                    ),
                ],
            }),
        ),
    ];
    let schema = |id: &str, name: &str, attributes: Vec<Value>| {
        json!({
            "schemas": [SCHEMA_SCHEMA],
            "id": id,
            "name": name,
            "description": format!("{name} as usermgmt maps it"),
            "attributes": attributes,
            "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{id}") },
        })
    };
    vec![
        schema(CORE_USER, "User", user_attributes),
        schema(ENTERPRISE_USER, "EnterpriseUser", enterprise_attributes),
        schema(CORE_GROUP, "Group", group_attributes),
    ]
}

async fn schemas(headers: HeaderMap) -> Response {
    let all = all_schemas(&base_url(&headers));
    list_response(all.len() as u64, 1, all)
}

async fn schema(headers: HeaderMap, Path(id): Path<String>) -> Result<Response, ScimError> {
    all_schemas(&base_url(&headers))
        .into_iter()
        .find(|s| s["id"] == json!(id))
        .map(|s| scim_json(StatusCode::OK, &s, None))
        .ok_or_else(|| ScimError::new(StatusCode::NOT_FOUND, None, "no such schema"))
}
