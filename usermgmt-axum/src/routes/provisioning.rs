//! SPEC §12: provisioning tokens for identity providers' SCIM clients [user.provision].

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use usermgmt_core::model::ProvisioningToken;
use usermgmt_core::service::{CreateProvisioningToken, IssuedProvisioningToken};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::path_id;
use crate::body::Body;
use crate::error::ApiError;
use crate::state::{ApiState, Caller};

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(revoke))
}

/// The tenant's provisioning tokens, newest first (never their secrets).
#[utoipa::path(get, path = "/v1/provisioning-tokens", tag = "provisioning",
    responses((status = 200, body = Vec<ProvisioningToken>)))]
async fn list(
    State(state): State<ApiState>,
    Caller(principal): Caller,
) -> Result<Json<Vec<ProvisioningToken>>, ApiError> {
    Ok(Json(
        state.service.list_provisioning_tokens(&principal).await?,
    ))
}

/// Creates a provisioning token; its secret is in this answer only.
#[utoipa::path(post, path = "/v1/provisioning-tokens", tag = "provisioning",
    request_body = CreateProvisioningToken,
    responses((status = 201, body = IssuedProvisioningToken)))]
async fn create(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Body(input): Body<CreateProvisioningToken>,
) -> Result<(StatusCode, Json<IssuedProvisioningToken>), ApiError> {
    let issued = state
        .service
        .create_provisioning_token(&principal, input)
        .await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// Revokes a provisioning token: it opens nothing from the next request on.
#[utoipa::path(delete, path = "/v1/provisioning-tokens/{token_id}", tag = "provisioning",
    params(("token_id" = uuid::Uuid, Path, description = "The token's id")),
    responses((status = 204, description = "The token was revoked")))]
async fn revoke(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(token): Path<String>,
) -> Result<StatusCode, ApiError> {
    let token = path_id(&token, "token_id")?;
    state
        .service
        .revoke_provisioning_token(&principal, token)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
