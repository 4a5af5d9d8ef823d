//! SPEC §6.5: roles and permissions.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use usermgmt_core::model::{Permission, PermissionInfo, PermissionSet, Role};
use usermgmt_core::service::{CreateRole, UpdateRole};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{UserIdParam, path_id};
use crate::body::Body;
use crate::error::ApiError;
use crate::state::{ApiState, Caller};

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, remove))
        .routes(routes!(catalog))
        .routes(routes!(effective))
}

/// Every role of the tenant.
#[utoipa::path(get, path = "/v1/roles", tag = "roles", responses((status = 200, body = Vec<Role>)))]
async fn list(
    State(state): State<ApiState>,
    Caller(principal): Caller,
) -> Result<Json<Vec<Role>>, ApiError> {
    Ok(Json(state.service.list_roles(&principal).await?))
}

/// Creates a role (never with permissions the caller lacks).
#[utoipa::path(post, path = "/v1/roles", tag = "roles", request_body = CreateRole,
    responses((status = 201, body = Role)))]
async fn create(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Body(input): Body<CreateRole>,
) -> Result<(StatusCode, Json<Role>), ApiError> {
    let role = state.service.create_role(&principal, input).await?;
    Ok((StatusCode::CREATED, Json(role)))
}

/// One role.
#[utoipa::path(get, path = "/v1/roles/{role_id}", tag = "roles", params(("role_id" = uuid::Uuid, Path, description = "The role's id")),
    responses((status = 200, body = Role)))]
async fn read(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(role): Path<String>,
) -> Result<Json<Role>, ApiError> {
    let role = path_id(&role, "role_id")?;
    Ok(Json(state.service.get_role(&principal, role).await?))
}

/// Renames a role or changes its permissions.
#[utoipa::path(put, path = "/v1/roles/{role_id}", tag = "roles", params(("role_id" = uuid::Uuid, Path, description = "The role's id")),
    request_body = UpdateRole, responses((status = 200, body = Role)))]
async fn update(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(role): Path<String>,
    Body(input): Body<UpdateRole>,
) -> Result<Json<Role>, ApiError> {
    let role = path_id(&role, "role_id")?;
    Ok(Json(
        state.service.update_role(&principal, role, input).await?,
    ))
}

/// Deletes a role nobody holds (a role still held is a 409 conflict on `role`).
#[utoipa::path(delete, path = "/v1/roles/{role_id}", tag = "roles", params(("role_id" = uuid::Uuid, Path, description = "The role's id")),
    responses((status = 204, description = "The role was deleted")))]
async fn remove(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(role): Path<String>,
) -> Result<StatusCode, ApiError> {
    let role = path_id(&role, "role_id")?;
    state.service.delete_role(&principal, role).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every permission the library knows, with descriptions.
#[utoipa::path(get, path = "/v1/permissions", tag = "roles",
    responses((status = 200, body = Vec<PermissionInfo>)))]
async fn catalog(
    State(state): State<ApiState>,
    Caller(principal): Caller,
) -> Result<Json<Vec<PermissionInfo>>, ApiError> {
    Ok(Json(state.service.permission_catalog(&principal).await?))
}

/// A user's effective permissions: their roles' and their direct grants, united.
#[utoipa::path(get, path = "/v1/users/{user_id}/permissions", tag = "roles",
    params(UserIdParam), responses((status = 200, body = Vec<Permission>)))]
async fn effective(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(user): Path<String>,
) -> Result<Json<PermissionSet>, ApiError> {
    let user = path_id(&user, "user_id")?;
    Ok(Json(
        state
            .service
            .effective_permissions(&principal, user)
            .await?,
    ))
}
