//! SPEC §10 over HTTP: invitations (sent by an administrator, accepted with the link's token)
//! and verification (sent by an administrator or asked for by the user, confirmed with a
//! link's token or an SMS code).

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
        .routes(routes!(send_invitation))
        .routes(routes!(accept_invitation))
        .routes(routes!(send_verification))
        .routes(routes!(request_verification))
        .routes(routes!(confirm_link))
        .routes(routes!(confirm_code))
}

/// Sends (again) an invitation to a user without a password (`user.update`, and every
/// permission the user holds). 502 when the message could not be delivered.
#[utoipa::path(post, path = "/v1/users/{user_id}/invite", tag = "account",
    params(UserIdParam), responses((status = 204, description = "The invitation was sent")))]
async fn send_invitation(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(user): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = path_id(&user, "user_id")?;
    state.service.send_invitation(&principal, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An invitation's token and the password the user chose.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AcceptInvitation {
    /// The token from the link.
    #[schema(min_length = 1, max_length = 128)]
    token: String,
    /// The password (the password policy applies).
    #[schema(value_type = String, format = Password)]
    password: Password,
}

/// Accepts an invitation: sets the password, verifies the address the invitation reached
/// and activates the user. A used, replaced, expired or unknown token is a 400 on `token`.
#[utoipa::path(post, path = "/v1/auth/invitation/accept", tag = "account",
    request_body = AcceptInvitation,
    responses((status = 204, description = "The password was set; the user can sign in")))]
async fn accept_invitation(
    State(state): State<ApiState>,
    Body(body): Body<AcceptInvitation>,
) -> Result<StatusCode, ApiError> {
    let token = SessionToken::from_client(body.token);
    state
        .service
        .accept_invitation(&state.tenant, &token, body.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends (again) a verification: a link to the user's email, or a code by SMS to a user with
/// only a phone (`user.update`, and every permission the user holds). 502 when the message
/// could not be delivered.
#[utoipa::path(post, path = "/v1/users/{user_id}/verification", tag = "account",
    params(UserIdParam), responses((status = 204, description = "The verification was sent")))]
async fn send_verification(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(user): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = path_id(&user, "user_id")?;
    state.service.send_verification(&principal, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who asks for a new verification.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct VerificationRequest {
    /// Email, phone or username (not blank).
    #[schema(pattern = r"\S", max_length = 254)]
    identifier: String,
}

/// Asks for a new verification link or code — what to do after a login answered
/// `verification_required`: 202 whether or not an account matches; 429 past the client's
/// attempt budget.
#[utoipa::path(post, path = "/v1/auth/verification", tag = "account",
    request_body = VerificationRequest,
    responses((status = 202, description = "If an account needs it, a verification is on its way")))]
async fn request_verification(
    State(state): State<ApiState>,
    ClientAddress(ip): ClientAddress,
    headers: HeaderMap,
    Body(body): Body<VerificationRequest>,
) -> Result<StatusCode, ApiError> {
    let client = client_info(&headers, ip);
    state
        .service
        .request_verification(&state.tenant, &body.identifier, client)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// A verification link's token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct VerifyLink {
    /// The token from the link.
    #[schema(min_length = 1, max_length = 128)]
    token: String,
}

/// Confirms a verification link: the address is verified and a `pending_verification` user
/// becomes `active`. A used, replaced, expired or unknown token is a 400 on `token`.
#[utoipa::path(post, path = "/v1/auth/verify", tag = "account", request_body = VerifyLink,
    responses((status = 204, description = "Verified")))]
async fn confirm_link(
    State(state): State<ApiState>,
    Body(body): Body<VerifyLink>,
) -> Result<StatusCode, ApiError> {
    let token = SessionToken::from_client(body.token);
    state
        .service
        .confirm_verification(&state.tenant, &token)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A code received by SMS, for the account an identifier names.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct VerifyCode {
    /// The phone number (or another identifier of the account).
    #[schema(pattern = r"\S", max_length = 254)]
    identifier: String,
    /// The six digits.
    #[schema(max_length = 16)]
    code: String,
}

/// Confirms an SMS code. Every refusal is the same 400 on `code` (unknown account, wrong
/// code, no current code); a code stops working after 5 wrong tries or 15 minutes. 429
/// past the client's attempt budget.
#[utoipa::path(post, path = "/v1/auth/verify/code", tag = "account", request_body = VerifyCode,
    responses((status = 204, description = "Verified")))]
async fn confirm_code(
    State(state): State<ApiState>,
    ClientAddress(ip): ClientAddress,
    headers: HeaderMap,
    Body(body): Body<VerifyCode>,
) -> Result<StatusCode, ApiError> {
    let client = client_info(&headers, ip);
    state
        .service
        .confirm_verification_code(&state.tenant, &body.identifier, &body.code, client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
