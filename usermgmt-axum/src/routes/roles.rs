//! SPEC §6.5: roles and permissions.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use usermgmt_core::model::{PermissionInfo, PermissionSet, Role};
use usermgmt_core::service::{CreateRole, UpdateRole};

use super::path_id;
use crate::body::Body;
use crate::error::ApiError;
use crate::state::{ApiState, Caller};

pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/roles", get(list).post(create))
        .route("/v1/roles/{role_id}", get(read).put(update).delete(remove))
        .route("/v1/permissions", get(catalog))
        .route("/v1/users/{user_id}/permissions", get(effective))
}

async fn list(
    State(state): State<ApiState>,
    Caller(principal): Caller,
) -> Result<Json<Vec<Role>>, ApiError> {
    Ok(Json(state.service.list_roles(&principal).await?))
}

async fn create(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Body(input): Body<CreateRole>,
) -> Result<(StatusCode, Json<Role>), ApiError> {
    let role = state.service.create_role(&principal, input).await?;
    Ok((StatusCode::CREATED, Json(role)))
}

async fn read(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(role): Path<String>,
) -> Result<Json<Role>, ApiError> {
    let role = path_id(&role, "role_id")?;
    Ok(Json(state.service.get_role(&principal, role).await?))
}

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
async fn catalog(
    State(state): State<ApiState>,
    Caller(principal): Caller,
) -> Result<Json<Vec<PermissionInfo>>, ApiError> {
    Ok(Json(state.service.permission_catalog(&principal).await?))
}

/// A user's effective permissions: their roles' and their direct grants, united.
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
