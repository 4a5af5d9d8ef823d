//! What the route modules share: path ids, client information, new sessions.

use axum::http::HeaderMap;
use serde::Serialize;
use usermgmt_core::model::User;
use usermgmt_core::service::{ClientInfo, LoginOutcome};
use usermgmt_core::{Error, Result};
use utoipa::ToSchema;

/// An id from the path; anything but a UUID is a 400 naming the path segment.
pub(crate) fn path_id(raw: &str, field: &str) -> Result<uuid::Uuid> {
    raw.parse()
        .map_err(|_| Error::invalid(field, "must be a UUID"))
}

/// What the request says about the client, recorded on new sessions. The IP is the host's to
/// supply (behind a proxy only it knows which header to trust); the user agent is read here.
pub(crate) fn client_info(headers: &HeaderMap, ip: Option<std::net::IpAddr>) -> ClientInfo {
    ClientInfo {
        user_agent: headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ip,
    }
}

/// A new session as the client sees it; the token is shown this once.
#[derive(Serialize, ToSchema)]
pub(crate) struct NewSession {
    /// The bearer token for `Authorization: Bearer …`.
    token: String,
    /// The session's id (for listing or terminating it).
    session_id: uuid::Uuid,
    /// The user the session acts as.
    user: User,
}

/// The answer to a login or an impersonation.
pub(crate) fn new_session(outcome: LoginOutcome) -> NewSession {
    NewSession {
        token: outcome.token.expose().to_owned(),
        session_id: outcome.session.id,
        user: outcome.user,
    }
}

/// The `{user_id}` path segment, for the OpenAPI document only: handlers read the segment as
/// text and parse it with [`path_id`] so that a bad id is a 400 in the error model.
#[derive(utoipa::IntoParams)]
#[into_params(names("user_id"), parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct UserIdParam(
    /// The user's id (UUID).
    uuid::Uuid,
);
