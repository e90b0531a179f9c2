//! `GET /api/v1/tags[?asset=ID]`: tag metadata, sorted by id,
//! `[{"id","asset","name","unit","data_type","source","poll_interval_ms","description","agent"}]`.
//! Metadata fields are `null` for tags seen in data but not (yet) in a catalogue. An asset
//! without tags is unknown (404). Answered from the in-memory
//! [`crate::directory::TagDirectory`].

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use protocols::model::AssetPath;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, ApiState};

#[derive(Debug, Deserialize)]
pub(crate) struct TagsQuery {
    asset: Option<String>,
}

/// One tag's metadata. Fields other than the ids are `null` until a catalogue named the tag.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TagBody {
    /// `site/area/line/asset/name`.
    #[schema(example = "demo/hall-1/line-1/motor-01/winding_temp")]
    id: String,
    /// `site/area/line/asset`.
    asset: String,
    /// Last id segment.
    name: String,
    /// Engineering unit.
    unit: Option<String>,
    /// Source data type (`f32`, `u16`, `bool`, ...).
    data_type: Option<String>,
    /// Where the value is read, e.g. `modbus-tcp://10.0.0.5:502/1/input/0`.
    source: Option<String>,
    /// Sampling period in milliseconds.
    poll_interval_ms: Option<u32>,
    /// Free text from the agent's configuration.
    description: Option<String>,
    /// Agent that published the catalogue.
    agent: Option<String>,
}

/// Tag metadata, sorted by id.
#[utoipa::path(get, path = "/api/v1/tags", tag = "data",
    params(("asset" = Option<String>, Query, description = "Only the tags of this asset (`site/area/line/asset`)")),
    responses(
        (status = 200, description = "Tags", body = Vec<TagBody>),
        (status = 400, description = "Malformed asset id", body = super::error::ErrorBody),
        (status = 404, description = "Asset without tags", body = super::error::ErrorBody),
    ))]
pub(crate) async fn tags(
    State(s): State<ApiState>,
    query: Result<Query<TagsQuery>, QueryRejection>,
) -> Result<Json<Vec<TagBody>>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let asset = match q.asset.as_deref() {
        Some(a) => Some(parse_asset(a)?),
        None => None,
    };
    let tags = s.directory.tags(asset.as_ref());
    if let Some(asset) = &asset
        && tags.is_empty()
    {
        return Err(ApiError::NotFound(format!("unknown asset '{asset}'")));
    }
    let list = tags
        .into_iter()
        .map(|t| TagBody {
            asset: t.id.asset().to_string(),
            name: t.id.name().to_owned(),
            id: t.id.to_string(),
            unit: t.unit,
            data_type: t.data_type,
            source: t.source,
            poll_interval_ms: t.poll_interval_ms,
            description: t.description,
            agent: t.agent,
        })
        .collect();
    Ok(Json(list))
}

pub(crate) fn parse_asset(s: &str) -> Result<AssetPath, ApiError> {
    AssetPath::new(s).map_err(|e| ApiError::BadRequest(format!("asset: {e}")))
}
