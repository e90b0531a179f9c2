//! `GET /api/v1/tags[?asset=ID]`: tag metadata, sorted by id,
//! `[{"id","asset","name","unit","data_type","source","poll_interval_ms","description","agent"}]`.
//! Metadata fields are `null` for tags seen in data but not (yet) in a catalogue. An asset
//! without tags is unknown (404). Answered from the in-memory
//! [`crate::directory::TagDirectory`].

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use protocols::model::AssetPath;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiState};

#[derive(Debug, Deserialize)]
pub(crate) struct TagsQuery {
    asset: Option<String>,
}

pub(crate) async fn tags(
    State(s): State<ApiState>,
    query: Result<Query<TagsQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
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
        .iter()
        .map(|t| {
            json!({
                "id": t.id.as_str(),
                "asset": t.id.asset().as_str(),
                "name": t.id.name(),
                "unit": t.unit,
                "data_type": t.data_type,
                "source": t.source,
                "poll_interval_ms": t.poll_interval_ms,
                "description": t.description,
                "agent": t.agent,
            })
        })
        .collect();
    Ok(Json(Value::Array(list)))
}

pub(crate) fn parse_asset(s: &str) -> Result<AssetPath, ApiError> {
    AssetPath::new(s).map_err(|e| ApiError::BadRequest(format!("asset: {e}")))
}
