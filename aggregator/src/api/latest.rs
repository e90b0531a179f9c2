//! `GET /api/v1/latest?tags=a,b` or `?asset=ID` (exactly one of the two): latest values from
//! the cache,
//! `[{"tag","value","value_type","quality","reason","source_ts_ns","receive_ts_ns","stale"}]`.
//!
//! With `tags`, entries follow the requested order; any tag unknown to storage is a 404
//! naming it; a known tag without any value yet is left out. With `asset`, entries are
//! sorted by tag; an asset without tags is a 404.
//!
//! `stale` is true when the value was received longer ago than the configured
//! [`crate::stale::StaleRule`] allows for the tag's catalogue poll interval. Everything is
//! answered from memory (the [`crate::directory::TagDirectory`] and the latest-value cache),
//! without a database query.

use std::collections::HashSet;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use protocols::model::{TagId, now_ns};
use serde::Deserialize;

use super::tags::parse_asset;
use super::value::ValueEntry;
use super::{ApiError, ApiState};
use crate::cache::LatestValue;

#[derive(Debug, Deserialize)]
pub(crate) struct LatestQuery {
    tags: Option<String>,
    asset: Option<String>,
}

/// Latest values from memory: by tag list (in the given order) or by asset (sorted).
#[utoipa::path(get, path = "/api/v1/latest", tag = "data",
    params(
        ("tags" = Option<String>, Query, description = "Comma-separated tag ids (exactly one of tags and asset)"),
        ("asset" = Option<String>, Query, description = "Asset id `site/area/line/asset`"),
    ),
    responses(
        (status = 200, description = "Latest values; tags without any value yet are left out", body = Vec<ValueEntry>),
        (status = 400, description = "Neither or both of tags and asset, or a malformed id", body = super::error::ErrorBody),
        (status = 404, description = "Unknown tag(s) or asset, named in the message", body = super::error::ErrorBody),
    ))]
pub(crate) async fn latest(
    State(s): State<ApiState>,
    query: Result<Query<LatestQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let entries: Vec<(TagId, LatestValue)> = match (q.tags.as_deref(), q.asset.as_deref()) {
        (Some(list), None) => {
            let tags = parse_tag_list(list)?;
            let unknown: Vec<&str> = tags
                .iter()
                .filter(|t| !s.directory.contains(t))
                .map(|t| t.as_str())
                .collect();
            if !unknown.is_empty() {
                return Err(ApiError::NotFound(format!(
                    "unknown tag '{}'",
                    unknown.join("', '")
                )));
            }
            s.cache.get_many(tags)
        }
        (None, Some(asset)) => {
            let asset = parse_asset(asset)?;
            let tags = s.directory.tag_ids_of(&asset);
            if tags.is_empty() {
                return Err(ApiError::NotFound(format!("unknown asset '{asset}'")));
            }
            s.cache.get_many(tags)
        }
        _ => {
            return Err(ApiError::BadRequest(
                "give exactly one of 'tags' (comma-separated tag ids) and 'asset'".to_owned(),
            ));
        }
    };
    let polls = s.directory.poll_intervals(entries.iter().map(|(t, _)| t));
    let now = now_ns();
    let body: Vec<ValueEntry<'_>> = entries
        .iter()
        .map(|(t, v)| {
            let stale = s
                .stale
                .is_stale(polls.get(t).copied(), v.receive_ts_ns, now);
            ValueEntry::new(t, v, Some(stale))
        })
        .collect();
    let bytes = serde_json::to_vec(&body).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
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
