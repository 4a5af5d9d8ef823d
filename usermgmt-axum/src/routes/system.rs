//! SPEC §6.6: the system API for other services (system token, never a user session).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;
use usermgmt_core::model::{Permission, Role, User};
use usermgmt_core::service::{GetOrCreateOutcome, GetOrCreateUser, SetFlags, UsersByIds};
use usermgmt_core::{Error, FieldErrors};

use super::path_id;
use crate::body::Body;
use crate::error::ApiError;
use crate::query::params;
use crate::state::ApiState;
use crate::system_auth::SystemCaller;

pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/system/users/get-or-create", post(get_or_create))
        .route("/v1/system/users/search", get(search))
        .route("/v1/system/users/by-ids", get(by_ids))
        .route("/v1/system/users/{user_id}/roles", post(assign_roles))
        .route("/v1/system/users/{user_id}/permissions", post(grant))
        .route("/v1/system/users/{user_id}/flags", patch(flags))
        .route("/v1/system/roles", get(role_by_name))
}

/// 201 when the user was created, 200 when found.
async fn get_or_create(
    State(state): State<ApiState>,
    SystemCaller(system): SystemCaller,
    Body(input): Body<GetOrCreateUser>,
) -> Result<(StatusCode, Json<GetOrCreateOutcome>), ApiError> {
    let outcome = state.service.system_get_or_create(&system, input).await?;
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(outcome)))
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct SearchParams {
    q: Option<String>,
    limit: Option<u32>,
}

/// `q` required; `limit` 1–100, 20 by default.
async fn search(
    State(state): State<ApiState>,
    SystemCaller(system): SystemCaller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<User>>, ApiError> {
    let p: SearchParams = params(raw.as_deref())?;
    let q = p.q.ok_or_else(|| Error::invalid("q", "is required"))?;
    let users = state
        .service
        .system_search(&system, &q, p.limit.unwrap_or(20))
        .await?;
    Ok(Json(users))
}

/// `ids` comma-separated and/or repeated; users in request order, unknown ids in `missing`.
async fn by_ids(
    State(state): State<ApiState>,
    SystemCaller(system): SystemCaller,
    RawQuery(raw): RawQuery,
) -> Result<Json<UsersByIds>, ApiError> {
    let mut errors = FieldErrors::new();
    let mut ids = Vec::new();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if key != "ids" {
            errors.add(key.into_owned(), "unknown query parameter");
            continue;
        }
        for id in value.split(',').map(str::trim).filter(|v| !v.is_empty()) {
            match id.parse() {
                Ok(id) => ids.push(id),
                Err(_) => errors.add("ids", format!("`{id}` is not a UUID")),
            }
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors).into());
    }
    Ok(Json(
        state.service.system_users_by_ids(&system, &ids).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Roles {
    roles: Vec<String>,
}

/// Adds roles by name (existing ones are kept).
async fn assign_roles(
    State(state): State<ApiState>,
    SystemCaller(system): SystemCaller,
    Path(user): Path<String>,
    Body(body): Body<Roles>,
) -> Result<Json<User>, ApiError> {
    let user = path_id(&user, "user_id")?;
    Ok(Json(
        state
            .service
            .system_assign_roles(&system, user, &body.roles)
            .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Permissions {
    permissions: Vec<Permission>,
}

/// Adds direct permissions (existing ones are kept).
async fn grant(
    State(state): State<ApiState>,
    SystemCaller(system): SystemCaller,
    Path(user): Path<String>,
    Body(body): Body<Permissions>,
) -> Result<Json<User>, ApiError> {
    let user = path_id(&user, "user_id")?;
    Ok(Json(
        state
            .service
            .system_grant_permissions(&system, user, &body.permissions)
            .await?,
    ))
}

async fn flags(
    State(state): State<ApiState>,
    SystemCaller(system): SystemCaller,
    Path(user): Path<String>,
    Body(flags): Body<SetFlags>,
) -> Result<Json<User>, ApiError> {
    let user = path_id(&user, "user_id")?;
    Ok(Json(
        state.service.system_set_flags(&system, user, flags).await?,
    ))
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RoleParams {
    name: Option<String>,
}

async fn role_by_name(
    State(state): State<ApiState>,
    SystemCaller(system): SystemCaller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Role>, ApiError> {
    let p: RoleParams = params(raw.as_deref())?;
    let name = p
        .name
        .ok_or_else(|| Error::invalid("name", "is required"))?;
    Ok(Json(
        state.service.system_role_by_name(&system, &name).await?,
    ))
}
