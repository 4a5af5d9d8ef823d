//! SPEC §13: webhook endpoints, their delivery history, redelivery and replay
//! [webhook.manage + user.view].

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde::Deserialize;
use usermgmt_core::model::{WebhookDelivery, WebhookEndpoint};
use usermgmt_core::service::{
    CreateWebhook, IssuedWebhook, ReplayOutcome, ReplayWebhook, UpdateWebhook,
};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::path_id;
use crate::body::Body;
use crate::error::ApiError;
use crate::query::params;
use crate::state::{ApiState, Caller};

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update, delete))
        .routes(routes!(deliveries))
        .routes(routes!(redeliver))
        .routes(routes!(replay))
}

/// The tenant's webhook endpoints, oldest first (never their secrets).
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = Vec<WebhookEndpoint>)))]
async fn list(
    State(state): State<ApiState>,
    Caller(principal): Caller,
) -> Result<Json<Vec<WebhookEndpoint>>, ApiError> {
    Ok(Json(state.service.list_webhooks(&principal).await?))
}

/// Creates an endpoint; its signing secret is in this answer only.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", request_body = CreateWebhook,
    responses((status = 201, body = IssuedWebhook)))]
async fn create(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Body(input): Body<CreateWebhook>,
) -> Result<(StatusCode, Json<IssuedWebhook>), ApiError> {
    let issued = state.service.create_webhook(&principal, input).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// One endpoint.
#[utoipa::path(get, path = "/v1/webhooks/{webhook_id}", tag = "webhooks",
    params(("webhook_id" = uuid::Uuid, Path, description = "The endpoint's id")),
    responses((status = 200, body = WebhookEndpoint)))]
async fn get_one(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<WebhookEndpoint>, ApiError> {
    let id = path_id(&id, "webhook_id")?;
    Ok(Json(state.service.get_webhook(&principal, id).await?))
}

/// Changes an endpoint's URL, kinds or enabled flag.
#[utoipa::path(patch, path = "/v1/webhooks/{webhook_id}", tag = "webhooks",
    params(("webhook_id" = uuid::Uuid, Path, description = "The endpoint's id")),
    request_body = UpdateWebhook, responses((status = 200, body = WebhookEndpoint)))]
async fn update(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    Body(patch): Body<UpdateWebhook>,
) -> Result<Json<WebhookEndpoint>, ApiError> {
    let id = path_id(&id, "webhook_id")?;
    Ok(Json(
        state.service.update_webhook(&principal, id, patch).await?,
    ))
}

/// Deletes an endpoint and its delivery history.
#[utoipa::path(delete, path = "/v1/webhooks/{webhook_id}", tag = "webhooks",
    params(("webhook_id" = uuid::Uuid, Path, description = "The endpoint's id")),
    responses((status = 204, description = "The endpoint was deleted")))]
async fn delete(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id, "webhook_id")?;
    state.service.delete_webhook(&principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, deny_unknown_fields)]
struct DeliveryParams {
    /// How many of the newest deliveries (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// The endpoint's newest deliveries, newest first: status, attempts, last answer.
#[utoipa::path(get, path = "/v1/webhooks/{webhook_id}/deliveries", tag = "webhooks",
    params(("webhook_id" = uuid::Uuid, Path, description = "The endpoint's id"), DeliveryParams),
    responses((status = 200, body = Vec<WebhookDelivery>)))]
async fn deliveries(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<WebhookDelivery>>, ApiError> {
    let id = path_id(&id, "webhook_id")?;
    let p: DeliveryParams = params(raw.as_deref())?;
    let limit = p.limit.unwrap_or(50);
    Ok(Json(
        state
            .service
            .webhook_deliveries(&principal, id, limit)
            .await?,
    ))
}

/// Sends a delivery again (pending, due now, attempts from 0), dead or not.
#[utoipa::path(post, path = "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    tag = "webhooks",
    params(("webhook_id" = uuid::Uuid, Path, description = "The endpoint's id"),
           ("delivery_id" = uuid::Uuid, Path, description = "The delivery's id")),
    responses((status = 202, description = "The delivery is queued again")))]
async fn redeliver(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id, "webhook_id")?;
    let delivery = path_id(&delivery, "delivery_id")?;
    state
        .service
        .redeliver_webhook(&principal, id, delivery)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// Queues every retained event from an id on (at most 1,000 per request) for the endpoint
/// again; `next_from` continues a longer replay.
#[utoipa::path(post, path = "/v1/webhooks/{webhook_id}/replay", tag = "webhooks",
    params(("webhook_id" = uuid::Uuid, Path, description = "The endpoint's id")),
    request_body = ReplayWebhook, responses((status = 200, body = ReplayOutcome)))]
async fn replay(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    Body(input): Body<ReplayWebhook>,
) -> Result<Json<ReplayOutcome>, ApiError> {
    let id = path_id(&id, "webhook_id")?;
    Ok(Json(
        state.service.replay_webhook(&principal, id, input).await?,
    ))
}
