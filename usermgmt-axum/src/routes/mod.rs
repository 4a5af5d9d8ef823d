//! One module per group of routes in SPEC §6.

mod auth;
mod bulk;
mod history;
mod insights;
mod oauth;
mod roles;
mod sessions;
mod system;
mod user;
mod users;

use axum::Router;
use axum::http::HeaderMap;
use serde_json::{Value, json};
use usermgmt_core::service::{ClientInfo, LoginOutcome};
use usermgmt_core::{Error, Result};

use crate::state::ApiState;

/// Every mounted route.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .merge(auth::routes())
        .merge(users::routes())
        .merge(user::routes())
        .merge(insights::routes())
        .merge(bulk::routes())
        .merge(sessions::routes())
        .merge(history::routes())
        .merge(oauth::routes())
        .merge(roles::routes())
        .merge(system::routes())
}

/// An id from the path; anything but a UUID is a 400 naming the path segment.
pub(crate) fn path_id(raw: &str, field: &str) -> Result<uuid::Uuid> {
    raw.parse()
        .map_err(|_| Error::invalid(field, "must be a UUID"))
}

/// What the request says about the client, recorded on new sessions. The IP is the host's to
/// supply (behind a proxy only it knows which header to trust); the user agent is read here.
pub(crate) fn client_info(headers: &HeaderMap) -> ClientInfo {
    ClientInfo {
        user_agent: headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ip: None,
    }
}

/// A new session as the client sees it: `{token, session_id, user}`, the token shown this once.
pub(crate) fn new_session(outcome: LoginOutcome) -> Value {
    json!({
        "token": outcome.token.expose(),
        "session_id": outcome.session.id,
        "user": outcome.user,
    })
}
