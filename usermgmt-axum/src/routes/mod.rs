//! One module per group of routes in SPEC §6.

mod auth;
mod bulk;
mod common;
mod flows;
mod history;
mod import;
mod insights;
mod invitations;
mod oauth;
mod provisioning;
mod roles;
mod sessions;
mod system;
mod user;
mod users;
mod webhooks;

use utoipa_axum::router::OpenApiRouter;

use crate::state::ApiState;

/// Every mounted route, each with its OpenAPI operation.
pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .merge(auth::routes())
        .merge(flows::routes())
        .merge(invitations::routes())
        .merge(users::routes())
        .merge(user::routes())
        .merge(insights::routes())
        .merge(bulk::routes())
        .merge(import::routes())
        .merge(sessions::routes())
        .merge(history::routes())
        .merge(oauth::routes())
        .merge(roles::routes())
        .merge(provisioning::routes())
        .merge(webhooks::routes())
        .merge(system::routes())
}
