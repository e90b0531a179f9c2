//! `GET /api/v1/assets`: the site → area → line → asset tree (sorted by name) with each
//! asset's status (rules in [`crate::assets`]).
//!
//! ```json
//! {"sites":[{"name":"demo","areas":[{"name":"hall-1","lines":[{"name":"line-1","assets":[
//!   {"id":"demo/hall-1/line-1/motor-01","name":"motor-01","status":"running",
//!    "tag_count":10,"bad_tags":0,"stale_tags":0,"last_update_ns":1700000000000000000}]}]}]}]}
//! ```
//!
//! `stale_tags` counts the asset's tags whose latest value is stale now
//! ([`crate::stale::StaleRule`]); tags without any value are not counted.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use protocols::model::{AssetPath, now_ns};
use serde_json::{Value, json};

use super::{ApiError, ApiState};
use crate::assets::summarize;
use crate::store::TagRecord;

type Tree<'a> =
    BTreeMap<String, BTreeMap<String, BTreeMap<String, BTreeMap<AssetPath, Vec<&'a TagRecord>>>>>;

pub(crate) async fn assets(State(s): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let tags = s.directory.tags(None);
    let latest = s.cache.snapshot();
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
    let node =
        |name: String, key: &str, children: Vec<Value>| json!({ "name": name, key: children });
    let sites = tree
        .into_iter()
        .map(|(site, areas)| {
            let areas = areas
                .into_iter()
                .map(|(area, lines)| {
                    let lines = lines
                        .into_iter()
                        .map(|(line, assets)| {
                            let assets = assets
                                .into_iter()
                                .map(|(asset, tags)| {
                                    let sum = summarize(&tags, &latest, &s.stale, now);
                                    json!({
                                        "id": asset.as_str(),
                                        "name": asset.name(),
                                        "status": sum.status.as_str(),
                                        "tag_count": sum.tag_count,
                                        "bad_tags": sum.bad_tags,
                                        "stale_tags": sum.stale_tags,
                                        "last_update_ns": sum.last_update_ns,
                                    })
                                })
                                .collect();
                            node(line, "assets", assets)
                        })
                        .collect();
                    node(area, "lines", lines)
                })
                .collect();
            node(site, "areas", areas)
        })
        .collect::<Vec<_>>();
    Ok(Json(json!({ "sites": sites })))
}
