//! `GET /metrics`: the aggregator's metrics in the OpenMetrics text format.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

use super::{ApiError, ApiState};

const CONTENT_TYPE_OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Prometheus / OpenMetrics text.
#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "Counters, gauges and histograms in the OpenMetrics text format",
        content_type = "application/openmetrics-text", body = String)))]
pub(crate) async fn metrics(State(s): State<ApiState>) -> Result<impl IntoResponse, ApiError> {
    let text = s
        .metrics
        .encode()
        .map_err(|e| ApiError::Internal(format!("encoding metrics: {e}")))?;
    Ok(([(CONTENT_TYPE, CONTENT_TYPE_OPENMETRICS)], text))
}
