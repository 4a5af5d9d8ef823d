//! SPEC §6.1: filter values, field values, statistics, overview and growth series.

use axum::Json;
use axum::extract::{RawQuery, State};
use chrono::NaiveDate;
use serde::Deserialize;
use usermgmt_core::filter::Page;
use usermgmt_core::model::{
    GrowthInterval, GrowthPoint, Overview, OverviewPeriod, UserStats, ValueCount,
};
use usermgmt_core::service::FilterValues;
use usermgmt_core::{Error, FieldErrors};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::query::params;
use crate::state::{ApiState, Caller};

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(stats))
        .routes(routes!(filter_values))
        .routes(routes!(field_values))
        .routes(routes!(overview))
        .routes(routes!(growths))
}

/// A query string with no parameters at all.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct NoParams {}

/// Counts by status, type, verification and more, in one pass.
#[utoipa::path(get, path = "/v1/users/stats", tag = "insights", responses((status = 200, body = UserStats)))]
async fn stats(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<UserStats>, ApiError> {
    params::<NoParams>(raw.as_deref())?;
    Ok(Json(state.service.stats(&principal).await?))
}

/// The values each filter can take, for building filter menus.
#[utoipa::path(get, path = "/v1/users/filter-values", tag = "insights",
    responses((status = 200, body = FilterValues)))]
async fn filter_values(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<FilterValues>, ApiError> {
    params::<NoParams>(raw.as_deref())?;
    Ok(Json(state.service.filter_values(&principal).await?))
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, deny_unknown_fields)]
struct FieldValuesParams {
    /// Required: the field whose distinct values to list (e.g. `city`, `country`).
    #[param(required = true, value_type = usermgmt_core::model::ValueField)]
    field: Option<String>,
    /// Only values containing this text (at most 100 printable characters).
    #[param(value_type = Option<usermgmt_core::schemas::ValueQuery>)]
    q: Option<String>,
    /// Page number from 1 (default 1).
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<u32>,
    /// Values per page (default 20, at most the configured maximum, 500 by default).
    #[param(minimum = 1, maximum = 500)]
    page_size: Option<u32>,
}

/// Distinct values of one field with their counts, most common first.
#[utoipa::path(get, path = "/v1/users/field-values", tag = "insights", params(FieldValuesParams),
    responses((status = 200, body = Page<ValueCount>)))]
async fn field_values(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Page<ValueCount>>, ApiError> {
    let p: FieldValuesParams = params(raw.as_deref())?;
    let field = p
        .field
        .ok_or_else(|| Error::invalid("field", "is required"))?;
    let page = state
        .service
        .field_values(
            &principal,
            &field,
            p.q.as_deref(),
            p.page.unwrap_or(1),
            p.page_size.unwrap_or(20),
        )
        .await?;
    Ok(Json(page))
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, deny_unknown_fields)]
struct OverviewParams {
    /// The period compared with the one before (default `month`).
    period: Option<OverviewPeriod>,
}

/// New, active and deleted users in this period and the one before.
#[utoipa::path(get, path = "/v1/users/analytics/overview", tag = "insights",
    params(OverviewParams), responses((status = 200, body = Overview)))]
async fn overview(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Overview>, ApiError> {
    let p: OverviewParams = params(raw.as_deref())?;
    let period = p.period.unwrap_or(OverviewPeriod::Month);
    Ok(Json(state.service.overview(&principal, period).await?))
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, deny_unknown_fields)]
struct GrowthParams {
    /// Required: bucket size.
    #[param(required = true)]
    interval: Option<GrowthInterval>,
    /// Required: first day (`YYYY-MM-DD`, 1900-01-01 to 9999-12-31).
    #[param(required = true, value_type = usermgmt_core::schemas::GrowthDate)]
    from: Option<NaiveDate>,
    /// Required: last day (`YYYY-MM-DD`, 1900-01-01 to 9999-12-31).
    #[param(required = true, value_type = usermgmt_core::schemas::GrowthDate)]
    to: Option<NaiveDate>,
}

/// Registrations per interval, zero-filled.
#[utoipa::path(get, path = "/v1/users/analytics/growths", tag = "insights", params(GrowthParams),
    responses((status = 200, body = Vec<GrowthPoint>)))]
async fn growths(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<GrowthPoint>>, ApiError> {
    let p: GrowthParams = params(raw.as_deref())?;
    let mut errors = FieldErrors::new();
    for (key, missing) in [
        ("interval", p.interval.is_none()),
        ("from", p.from.is_none()),
        ("to", p.to.is_none()),
    ] {
        if missing {
            errors.add(key, "is required");
        }
    }
    let (Some(interval), Some(from), Some(to)) = (p.interval, p.from, p.to) else {
        return Err(Error::Validation(errors).into());
    };
    Ok(Json(
        state.service.growth(&principal, interval, from, to).await?,
    ))
}
