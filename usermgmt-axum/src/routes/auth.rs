//! SPEC §6.7: log in, log out, who am I.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use usermgmt_core::model::{Permission, PermissionSet, User};
use usermgmt_core::password::Password;
use usermgmt_core::service::LoginRequest;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::body::Body;
use crate::client::ClientAddress;
use crate::error::ApiError;
use crate::state::{ApiState, Caller};

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(my_permissions))
}

/// Credentials for a login.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    /// Email, phone or username.
    identifier: String,
    /// The password.
    #[schema(value_type = String, format = Password)]
    password: Password,
}

/// Log in: `{token, session_id, user}`; the token is shown this once.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginBody,
    responses((status = 200, body = super::common::NewSession)))]
async fn login(
    State(state): State<ApiState>,
    ClientAddress(ip): ClientAddress,
    headers: HeaderMap,
    Body(body): Body<LoginBody>,
) -> Result<Json<super::common::NewSession>, ApiError> {
    let client = super::common::client_info(&headers, ip);
    let request = LoginRequest {
        identifier: body.identifier,
        password: body.password,
    };
    let outcome = state.service.login(&state.tenant, request, client).await?;
    Ok(Json(super::common::new_session(outcome)))
}

/// Log out: ends the caller's session.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    responses((status = 204, description = "The session ended")))]
async fn logout(
    State(state): State<ApiState>,
    Caller(principal): Caller,
) -> Result<StatusCode, ApiError> {
    state.service.logout(&principal).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/v1/auth/me", tag = "auth", responses((status = 200, body = User)))]
async fn me(
    State(state): State<ApiState>,
    Caller(principal): Caller,
) -> Result<Json<User>, ApiError> {
    Ok(Json(state.service.current_user(&principal).await?))
}

/// The signed-in user's effective permissions (beyond SPEC §6: lets a user interface hide the
/// buttons for operations the user may not call; the operations still check).
#[utoipa::path(get, path = "/v1/auth/me/permissions", tag = "auth",
    responses((status = 200, body = Vec<Permission>)))]
async fn my_permissions(
    State(state): State<ApiState>,
    Caller(principal): Caller,
) -> Result<Json<PermissionSet>, ApiError> {
    Ok(Json(state.service.own_permissions(&principal).await?))
}
