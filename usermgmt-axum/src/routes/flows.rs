//! SPEC §10 account flows over HTTP: the password reset — sent by an administrator,
//! requested by anyone for an identifier, confirmed with the link's token — and deleting
//! one's own account.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use usermgmt_core::model::SessionToken;
use usermgmt_core::password::Password;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{UserIdParam, client_info, path_id};
use crate::body::Body;
use crate::client::ClientAddress;
use crate::error::ApiError;
use crate::state::{ApiState, Caller};

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(send_reset))
        .routes(routes!(request_reset))
        .routes(routes!(confirm_reset))
        .routes(routes!(delete_me))
}

/// Sends the user a password-reset link (`user.update`, and every permission the user
/// holds). 502 when the message could not be delivered.
#[utoipa::path(post, path = "/v1/users/{user_id}/password-reset", tag = "account",
    params(UserIdParam), responses((status = 204, description = "The link was sent")))]
async fn send_reset(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(user): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = path_id(&user, "user_id")?;
    state.service.send_password_reset(&principal, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who asks for a reset link.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ResetRequest {
    /// Email, phone or username (not blank).
    #[schema(pattern = r"\S", max_length = 254)]
    identifier: String,
}

/// Asks for a password-reset link for an identifier: 202 whether or not an account matches
/// (the link goes to the account's email or phone); 429 past the client's attempt budget.
#[utoipa::path(post, path = "/v1/auth/password-reset", tag = "account",
    request_body = ResetRequest,
    responses((status = 202, description = "If an account matches, a link is on its way")))]
async fn request_reset(
    State(state): State<ApiState>,
    ClientAddress(ip): ClientAddress,
    headers: HeaderMap,
    Body(body): Body<ResetRequest>,
) -> Result<StatusCode, ApiError> {
    let client = client_info(&headers, ip);
    state
        .service
        .request_password_reset(&state.tenant, &body.identifier, client)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// A reset link's token and the new password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ResetConfirm {
    /// The token from the link.
    #[schema(min_length = 1, max_length = 128)]
    token: String,
    /// The new password (the password policy applies).
    #[schema(value_type = String, format = Password)]
    password: Password,
}

/// Sets a new password with a reset link's token: ends every session of the user and
/// clears a lockout. A used, replaced, expired or unknown token is a 400 on `token`.
#[utoipa::path(post, path = "/v1/auth/password-reset/confirm", tag = "account",
    request_body = ResetConfirm,
    responses((status = 204, description = "The password was set")))]
async fn confirm_reset(
    State(state): State<ApiState>,
    Body(body): Body<ResetConfirm>,
) -> Result<StatusCode, ApiError> {
    let token = SessionToken::from_client(body.token);
    state
        .service
        .confirm_password_reset(&state.tenant, &token, body.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Confirms deleting one's own account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DeleteMe {
    /// The account's password (an account without one: omit it, within 10 minutes of
    /// signing in).
    #[schema(value_type = Option<String>, format = Password)]
    #[serde(default)]
    password: Option<Password>,
}

/// Deletes the caller's own account (soft delete; every session ends), audited as done by
/// the user. Only from the user's own session; the last super admin cannot.
#[utoipa::path(delete, path = "/v1/auth/me", tag = "account", request_body = DeleteMe,
    responses((status = 204, description = "The account was deleted")))]
async fn delete_me(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Body(body): Body<DeleteMe>,
) -> Result<StatusCode, ApiError> {
    state
        .service
        .delete_own_account(&principal, body.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
