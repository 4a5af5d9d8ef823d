//! One module per group of routes in SPEC §6.

mod auth;
mod bulk;
mod insights;
mod user;
mod users;

use axum::Router;

use crate::state::ApiState;

/// Every mounted route.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .merge(auth::routes())
        .merge(users::routes())
        .merge(user::routes())
        .merge(insights::routes())
        .merge(bulk::routes())
}
