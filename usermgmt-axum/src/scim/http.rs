//! What the SCIM handlers share: errors, SCIM JSON answers, bodies, `If-Match`, and the
//! provisioning-token caller.

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use usermgmt_core::Principal;

use crate::error::ApiError;
use crate::state::ApiState;

/// The media type of SCIM bodies.
pub const SCIM_JSON: &str = "application/scim+json";
/// The SCIM error message schema.
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// The SCIM list response schema.
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// A SCIM error answer (RFC 7644 §3.12).
#[derive(Debug)]
pub(crate) struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
}

impl ScimError {
    pub(crate) fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    pub(crate) fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }
}

impl ScimError {
    /// Whether this is a precondition (version) failure.
    pub(crate) fn is_version_conflict(&self) -> bool {
        self.status == StatusCode::PRECONDITION_FAILED
    }
}

impl From<usermgmt_core::Error> for ScimError {
    fn from(error: usermgmt_core::Error) -> Self {
        let api = ApiError::from(error);
        let scim_type = match api.code() {
            "validation" => Some("invalidValue"),
            "conflict" => Some("uniqueness"),
            _ => None,
        };
        let mut detail = api.message().to_owned();
        if let Some(fields) = api.fields().as_object().filter(|f| !f.is_empty()) {
            let listed: Vec<String> = fields
                .iter()
                .map(|(field, problems)| format!("{field}: {problems}"))
                .collect();
            detail = format!("{detail} ({})", listed.join("; "));
        }
        Self::new(api.status(), scim_type, detail)
    }
}

impl From<usermgmt_core::scim::filter::InvalidFilter> for ScimError {
    fn from(error: usermgmt_core::scim::filter::InvalidFilter) -> Self {
        Self::bad("invalidFilter", error.0)
    }
}

impl From<usermgmt_core::scim::patch::PatchError> for ScimError {
    fn from(error: usermgmt_core::scim::patch::PatchError) -> Self {
        Self::bad(error.scim_type, error.detail)
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        scim_json(self.status, &body, None)
    }
}

/// A SCIM JSON answer, with an `ETag` when given.
pub(crate) fn scim_json(status: StatusCode, body: &Value, etag: Option<&str>) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    if let Some(tag) = etag.and_then(|t| HeaderValue::from_str(t).ok()) {
        headers.insert(header::ETAG, tag);
    }
    response
}

/// A ListResponse.
pub(crate) fn list_response(total: u64, start: u64, resources: Vec<Value>) -> Response {
    let body = json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    scim_json(StatusCode::OK, &body, None)
}

/// The SCIM root URL requests see (from `Host` and the nesting prefix).
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".:-[]".contains(c))
        })
        .unwrap_or("localhost");
    format!("http://{host}/scim/v2")
}

/// A JSON body (`application/scim+json` or `application/json`).
pub(crate) fn read_body(bytes: &Bytes) -> Result<Value, ScimError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ScimError::bad("invalidSyntax", format!("the body is not JSON: {e}")))
}

/// The version an `If-Match` header asks for (`*` or absent: none).
pub(crate) fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ScimError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    text.trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map(Some)
        .map_err(|_| {
            ScimError::new(
                StatusCode::PRECONDITION_FAILED,
                None,
                "If-Match names no version of this resource",
            )
        })
}

/// A caller that presented a valid provisioning token.
pub(crate) struct ScimCaller(pub(crate) Principal);

impl<S> FromRequestParts<S> for ScimCaller
where
    ApiState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = ApiState::from_ref(state);
        let secret = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ScimError::new(
                    StatusCode::UNAUTHORIZED,
                    None,
                    "a provisioning token is required",
                )
            })?;
        let principal = state
            .service
            .authenticate_provisioner(&state.tenant, secret.trim())
            .await?;
        Ok(ScimCaller(principal))
    }
}

/// One PATCH operation: `op`, `path` and `value`.
pub(crate) type Operation<'a> = (&'a str, Option<&'a str>, Option<&'a Value>);

/// The operations of a PATCH body (RFC 7644 §3.5.2): checked for the PatchOp schema and a
/// count of 1 to `MAX_PATCH_OPERATIONS`, each as `(op, path, value)`.
pub(crate) fn patch_operations(body: &Value) -> Result<Vec<Operation<'_>>, ScimError> {
    use usermgmt_core::scim::eval::member;
    use usermgmt_core::scim::patch::{MAX_PATCH_OPERATIONS, PATCH_OP};
    let schemas_ok = member(body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(PATCH_OP)));
    if !schemas_ok {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("schemas must list {PATCH_OP}"),
        ));
    }
    let Some(Value::Array(operations)) = member(body, "Operations") else {
        return Err(ScimError::bad(
            "invalidSyntax",
            "Operations must be an array",
        ));
    };
    if operations.is_empty() || operations.len() > MAX_PATCH_OPERATIONS {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("a PATCH carries 1-{MAX_PATCH_OPERATIONS} operations"),
        ));
    }
    operations
        .iter()
        .map(|operation| {
            let op = member(operation, "op")
                .and_then(Value::as_str)
                .ok_or_else(|| ScimError::bad("invalidSyntax", "every operation needs an `op`"))?;
            let path = match member(operation, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) => Some(p.as_str()),
                Some(_) => return Err(ScimError::bad("invalidPath", "`path` must be a string")),
            };
            Ok((op, path, member(operation, "value")))
        })
        .collect()
}
