//! `GET /api/v1/latest?tags=a,b` or `?asset=ID` (exactly one of the two): latest values from
//! the cache,
//! `[{"tag","value","value_type","quality","reason","source_ts_ns","receive_ts_ns"}]`.
//!
//! With `tags`, entries follow the requested order; any tag unknown to storage is a 404
//! naming it; a known tag without any value yet is left out. With `asset`, entries are
//! sorted by tag; an asset without tags is a 404.

use std::collections::HashSet;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use protocols::model::TagId;
use serde::Deserialize;
use serde_json::{Value, json};

use super::tags::parse_asset;
use super::value::value_json;
use super::{ApiError, ApiState};
use crate::cache::LatestValue;

#[derive(Debug, Deserialize)]
pub(crate) struct LatestQuery {
    tags: Option<String>,
    asset: Option<String>,
}

pub(crate) async fn latest(
    State(s): State<ApiState>,
    query: Result<Query<LatestQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let entries: Vec<(TagId, LatestValue)> = match (q.tags.as_deref(), q.asset.as_deref()) {
        (Some(list), None) => {
            let tags = parse_tag_list(list)?;
            let mut unknown = Vec::new();
            let mut found = Vec::new();
            for tag in tags {
                match s.cache.get(&tag) {
                    Some(v) => found.push((tag, v)),
                    None if s.store.tag_exists(&tag).await? => {}
                    None => unknown.push(tag.to_string()),
                }
            }
            if !unknown.is_empty() {
                return Err(ApiError::NotFound(format!(
                    "unknown tag '{}'",
                    unknown.join("', '")
                )));
            }
            found
        }
        (None, Some(asset)) => {
            let asset = parse_asset(asset)?;
            let entries = s.cache.of_asset(&asset);
            // Only an asset with no cached value needs the store to tell "known, no data
            // yet" from "unknown"; the common case is served from memory alone.
            if entries.is_empty() && s.store.tags(Some(&asset)).await?.is_empty() {
                return Err(ApiError::NotFound(format!("unknown asset '{asset}'")));
            }
            entries
        }
        _ => {
            return Err(ApiError::BadRequest(
                "give exactly one of 'tags' (comma-separated tag ids) and 'asset'".to_owned(),
            ));
        }
    };
    Ok(Json(Value::Array(
        entries.iter().map(|(t, v)| entry(t, v)).collect(),
    )))
}

fn parse_tag_list(list: &str) -> Result<Vec<TagId>, ApiError> {
    let mut tags = Vec::new();
    let mut seen = HashSet::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let tag = TagId::new(part).map_err(|e| ApiError::BadRequest(format!("tags: {e}")))?;
        if seen.insert(tag.clone()) {
            tags.push(tag);
        }
    }
    if tags.is_empty() {
        return Err(ApiError::BadRequest("tags: no tag ids given".to_owned()));
    }
    Ok(tags)
}

fn entry(tag: &TagId, v: &LatestValue) -> Value {
    json!({
        "tag": tag.as_str(),
        "value": value_json(v.value.as_ref()),
        "value_type": v.value.as_ref().map(|v| v.kind()),
        "quality": v.quality.level().as_str(),
        "reason": v.quality.reason(),
        "source_ts_ns": v.source_ts_ns,
        "receive_ts_ns": v.receive_ts_ns,
    })
}
