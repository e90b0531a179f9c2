//! `GET /api/v1/assets`: the site → area → line → asset tree (sorted by name) with each
//! asset's status (rules in [`crate::assets`]).
//!
//! ```json
//! {"sites":[{"name":"demo","areas":[{"name":"hall-1","lines":[{"name":"line-1","assets":[
//!   {"id":"demo/hall-1/line-1/motor-01","name":"motor-01","status":"running",
//!    "tag_count":10,"bad_tags":0,"stale_tags":0,"active_alarms":0,
//!    "last_update_ns":1700000000000000000}]}]}]}]}
//! ```
//!
//! `stale_tags` counts the asset's tags whose latest value is stale now
//! ([`crate::stale::StaleRule`]); tags without any value are not counted.
//!
//! `?asset=ID` narrows the tree to that one asset's branch (the asset page polls it, rather
//! than the whole plant); an unknown asset is a 404, a malformed id a 400.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use protocols::model::{AssetPath, now_ns};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::tags::parse_asset;
use super::{ApiError, ApiState};
use crate::assets::summarize;
use crate::store::TagRecord;

type Tree<'a> =
    BTreeMap<String, BTreeMap<String, BTreeMap<String, BTreeMap<AssetPath, Vec<&'a TagRecord>>>>>;

/// A site with its areas.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SiteNode {
    /// Site name.
    name: String,
    /// Its areas, sorted by name.
    areas: Vec<AreaNode>,
}

/// An area with its lines.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AreaNode {
    /// Area name.
    name: String,
    /// Its lines, sorted by name.
    lines: Vec<LineNode>,
}

/// A line with its assets.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LineNode {
    /// Line name.
    name: String,
    /// Its assets, sorted by id.
    assets: Vec<AssetNode>,
}

/// One asset and its status.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AssetNode {
    /// `site/area/line/asset`.
    #[schema(example = "demo/hall-1/line-1/motor-01")]
    id: String,
    /// Last id segment.
    name: String,
    /// `running`, `stopped`, `online`, `offline` or `stale` (rules in `assets.rs`).
    status: &'static str,
    /// Known tags.
    tag_count: usize,
    /// Tags whose latest value is bad.
    bad_tags: usize,
    /// Tags whose latest value is stale.
    stale_tags: usize,
    /// Alarms of its tags not cleared yet (active or acknowledged).
    active_alarms: usize,
    /// Newest receive time of any of its values (ns).
    last_update_ns: Option<i64>,
}

/// The asset tree.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AssetsBody {
    /// Sites, sorted by name.
    sites: Vec<SiteNode>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AssetsQuery {
    asset: Option<String>,
}

/// The site → area → line → asset tree with each asset's status.
#[utoipa::path(get, path = "/api/v1/assets", tag = "data",
    params(("asset" = Option<String>, Query, description = "Only this asset's branch (`site/area/line/asset`)")),
    responses(
        (status = 200, description = "Asset tree", body = AssetsBody),
        (status = 400, description = "A malformed asset id", body = super::error::ErrorBody),
        (status = 404, description = "Unknown asset", body = super::error::ErrorBody),
    ))]
pub(crate) async fn assets(
    State(s): State<ApiState>,
    query: Result<Query<AssetsQuery>, QueryRejection>,
) -> Result<Json<AssetsBody>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let only = q.asset.as_deref().map(parse_asset).transpose()?;
    let tags = s.directory.tags(only.as_ref());
    if let Some(asset) = &only
        && tags.is_empty()
    {
        return Err(ApiError::NotFound(format!("unknown asset '{asset}'")));
    }
    let latest = s.cache.snapshot();
    let alarms = s.alarms.open_by_asset();
    let now = now_ns();
    let mut tree: Tree<'_> = BTreeMap::new();
    for t in &tags {
        let asset = t.id.asset();
        tree.entry(asset.site().to_owned())
            .or_default()
            .entry(asset.area().to_owned())
            .or_default()
            .entry(asset.line().to_owned())
            .or_default()
            .entry(asset)
            .or_default()
            .push(t);
    }
    let sites = tree
        .into_iter()
        .map(|(site, areas)| SiteNode {
            name: site,
            areas: areas
                .into_iter()
                .map(|(area, lines)| AreaNode {
                    name: area,
                    lines: lines
                        .into_iter()
                        .map(|(line, assets)| LineNode {
                            name: line,
                            assets: assets
                                .into_iter()
                                .map(|(asset, tags)| {
                                    let sum = summarize(&tags, &latest, &s.stale, now);
                                    AssetNode {
                                        name: asset.name().to_owned(),
                                        id: asset.to_string(),
                                        status: sum.status.as_str(),
                                        tag_count: sum.tag_count,
                                        bad_tags: sum.bad_tags,
                                        stale_tags: sum.stale_tags,
                                        active_alarms: alarms.get(&asset).copied().unwrap_or(0),
                                        last_update_ns: sum.last_update_ns,
                                    }
                                })
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    Ok(Json(AssetsBody { sites }))
}
