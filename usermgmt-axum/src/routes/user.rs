//! SPEC §6.1: one user — create, read with `ETag`, conditional update, soft delete.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::{ETAG, IF_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use usermgmt_core::model::User;
use usermgmt_core::service::{CreateUser, SetUniqueId, UpdateUser};
use usermgmt_core::{Error, Result};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::body::Body;
use crate::error::ApiError;
use crate::state::{ApiState, Caller};

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(read, update, remove))
        .routes(routes!(unique_id))
}

/// A user id from the path; anything else is a 400 on `user_id`.
fn user_id(raw: &str) -> Result<uuid::Uuid> {
    super::common::path_id(raw, "user_id")
}

/// The user as JSON with its version as a strong `ETag`.
fn with_etag(status: StatusCode, user: User) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", user.version));
    let mut response = (status, Json(user)).into_response();
    if let Ok(etag) = etag {
        response.headers_mut().insert(ETAG, etag);
    }
    response
}

/// The version an `If-Match` header asks for: `None` without one or for `*`.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>> {
    let Some(value) = headers.get(IF_MATCH) else {
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
        .map_err(|_| Error::invalid("If-Match", "must be an ETag from this API, e.g. \"3\""))
}

/// Create a user.
#[utoipa::path(post, path = "/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = User, headers(("ETag" = String, description = "The version")))))]
async fn create(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Body(input): Body<CreateUser>,
) -> Result<Response, ApiError> {
    let user = state.service.create_user(&principal, input).await?;
    Ok(with_etag(StatusCode::CREATED, user))
}

/// One user, with its version as the `ETag`.
#[utoipa::path(get, path = "/v1/users/{user_id}", tag = "users", params(super::common::UserIdParam),
    responses((status = 200, body = User, headers(("ETag" = String, description = "The version")))))]
async fn read(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let user = state.service.get_user(&principal, user_id(&raw)?).await?;
    Ok(with_etag(StatusCode::OK, user))
}

/// Edit a user, credentials included; `If-Match` wins over an `expected_version` in the body.
#[utoipa::path(put, path = "/v1/users/{user_id}", tag = "users", request_body = UpdateUser,
    params(super::common::UserIdParam,
        ("If-Match" = Option<String>, Header, pattern = r#"^\s*(\*|(W/)?"[0-9]+"|[0-9]+)\s*$"#,
            description = "The ETag the edit applies to")),
    responses((status = 200, body = User, headers(("ETag" = String, description = "The new version")))))]
async fn update(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Body(mut patch): Body<UpdateUser>,
) -> Result<Response, ApiError> {
    let id = user_id(&raw)?;
    if let Some(version) = if_match(&headers)? {
        patch.expected_version = Some(version);
    }
    let user = state.service.update_user(&principal, id, patch).await?;
    Ok(with_etag(StatusCode::OK, user))
}

/// Soft delete: answers the deleted user.
#[utoipa::path(delete, path = "/v1/users/{user_id}", tag = "users", params(super::common::UserIdParam),
    responses((status = 200, body = User)))]
async fn remove(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(raw): Path<String>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(
        state
            .service
            .delete_user(&principal, user_id(&raw)?)
            .await?,
    ))
}

/// `{"unique_id": "..."}` sets one; `{"generate": true}` draws one from the pattern.
#[utoipa::path(put, path = "/v1/users/{user_id}/unique-id", tag = "users",
    request_body = SetUniqueId, params(super::common::UserIdParam), responses((status = 200, body = User)))]
async fn unique_id(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(raw): Path<String>,
    Body(change): Body<SetUniqueId>,
) -> Result<Response, ApiError> {
    let id = user_id(&raw)?;
    let user = state.service.set_unique_id(&principal, id, change).await?;
    Ok(with_etag(StatusCode::OK, user))
}
