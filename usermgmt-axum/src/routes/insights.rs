//! SPEC §6.1: filter values, field values, statistics, overview and growth series.

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Deserialize;
use usermgmt_core::filter::Page;
use usermgmt_core::model::{
    GrowthInterval, GrowthPoint, Overview, OverviewPeriod, UserStats, ValueCount,
};
use usermgmt_core::service::FilterValues;
use usermgmt_core::{Error, FieldErrors};

use crate::error::ApiError;
use crate::query::params;
use crate::state::{ApiState, Caller};

pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/users/stats", get(stats))
        .route("/v1/users/filter-values", get(filter_values))
        .route("/v1/users/field-values", get(field_values))
        .route("/v1/users/analytics/overview", get(overview))
        .route("/v1/users/analytics/growths", get(growths))
}

/// A query string with no parameters at all.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct NoParams {}

async fn stats(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<UserStats>, ApiError> {
    params::<NoParams>(raw.as_deref())?;
    Ok(Json(state.service.stats(&principal).await?))
}

async fn filter_values(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<FilterValues>, ApiError> {
    params::<NoParams>(raw.as_deref())?;
    Ok(Json(state.service.filter_values(&principal).await?))
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct FieldValuesParams {
    field: Option<String>,
    q: Option<String>,
    page: Option<u32>,
    page_size: Option<u32>,
}

/// `field` is required; `page` defaults to 1 and `page_size` to 20.
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

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct OverviewParams {
    period: Option<OverviewPeriod>,
}

/// `period` defaults to `month`.
async fn overview(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Overview>, ApiError> {
    let p: OverviewParams = params(raw.as_deref())?;
    let period = p.period.unwrap_or(OverviewPeriod::Month);
    Ok(Json(state.service.overview(&principal, period).await?))
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct GrowthParams {
    interval: Option<GrowthInterval>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

/// `interval`, `from` and `to` (dates, `YYYY-MM-DD`) are required.
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
