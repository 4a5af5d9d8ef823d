//! SPEC §6.1: users (this slice: statistics).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use usermgmt_core::model::UserStats;

use crate::error::ApiError;
use crate::state::{ApiState, Caller};

pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route("/v1/users/stats", get(stats))
}

async fn stats(
    State(state): State<ApiState>,
    Caller(principal): Caller,
) -> Result<Json<UserStats>, ApiError> {
    Ok(Json(state.service.stats(&principal).await?))
}
