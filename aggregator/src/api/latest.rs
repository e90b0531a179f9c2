//! `GET /api/v1/latest?tags=a,b` or `?asset=ID` (exactly one of the two): latest values from
//! the cache,
//! `[{"tag","value","value_type","quality","reason","source_ts_ns","receive_ts_ns","stale"}]`.
//!
//! With `tags`, entries follow the requested order; any tag unknown to storage is a 404
//! naming it; a known tag without any value yet is left out. With `asset`, entries are
//! sorted by tag; an asset without tags is a 404.
//!
//! `stale` is true when the value was received longer ago than the configured
//! [`crate::stale::StaleRule`] allows for the tag's catalogue poll interval (read from the
//! store, one query per asset involved).

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use protocols::model::{AssetPath, TagId, now_ns};
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
            // The store's tags tell "known, no data yet" from "unknown" and give the poll
            // intervals for staleness.
            let tags = s.store.tags(Some(&asset)).await?;
            if entries.is_empty() && tags.is_empty() {
                return Err(ApiError::NotFound(format!("unknown asset '{asset}'")));
            }
            let now = now_ns();
            let polls: HashMap<TagId, Option<u32>> = tags
                .into_iter()
                .map(|t| (t.id, t.poll_interval_ms))
                .collect();
            return Ok(Json(Value::Array(
                entries
                    .iter()
                    .map(|(t, v)| entry(t, v, stale(&s, &polls, t, v, now)))
                    .collect(),
            )));
        }
        _ => {
            return Err(ApiError::BadRequest(
                "give exactly one of 'tags' (comma-separated tag ids) and 'asset'".to_owned(),
            ));
        }
    };
    let assets: HashSet<AssetPath> = entries.iter().map(|(t, _)| t.asset()).collect();
    let mut polls = HashMap::new();
    for asset in assets {
        for t in s.store.tags(Some(&asset)).await? {
            polls.insert(t.id, t.poll_interval_ms);
        }
    }
    let now = now_ns();
    Ok(Json(Value::Array(
        entries
            .iter()
            .map(|(t, v)| entry(t, v, stale(&s, &polls, t, v, now)))
            .collect(),
    )))
}

fn stale(
    s: &ApiState,
    polls: &HashMap<TagId, Option<u32>>,
    tag: &TagId,
    v: &LatestValue,
    now: i64,
) -> bool {
    let poll = polls.get(tag).copied().flatten();
    s.stale.is_stale(poll, v.receive_ts_ns, now)
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

fn entry(tag: &TagId, v: &LatestValue, stale: bool) -> Value {
    json!({
        "tag": tag.as_str(),
        "value": value_json(v.value.as_ref()),
        "value_type": v.value.as_ref().map(|v| v.kind()),
        "quality": v.quality.level().as_str(),
        "reason": v.quality.reason(),
        "source_ts_ns": v.source_ts_ns,
        "receive_ts_ns": v.receive_ts_ns,
        "stale": stale,
    })
}
