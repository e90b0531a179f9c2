//! A [`WriteSet`] turned into rows, the same for both backends: catalogue rows deduplicated
//! by tag (the last one wins, PostgreSQL refuses to upsert one row twice in a statement),
//! point rows with their value columns, and the distinct tags the points need ids for.

use std::collections::{BTreeMap, HashMap};

use protocols::model::{TagId, TimestampNs};

use super::row::{ValueColumns, quality_code, to_columns};
use super::{StoreError, WriteSet};

/// One catalogue entry as a `tags` row.
#[derive(Debug, Clone)]
pub(crate) struct CatalogRow {
    pub(crate) tag: String,
    pub(crate) asset: String,
    pub(crate) name: String,
    pub(crate) unit: String,
    pub(crate) data_type: String,
    pub(crate) source: String,
    pub(crate) poll_interval_ms: i32,
    pub(crate) description: String,
    pub(crate) agent: String,
    pub(crate) recv_ns: TimestampNs,
}

/// One point as a `points` row (tag still by name).
#[derive(Debug, Clone)]
pub(crate) struct PointRow {
    pub(crate) tag: TagId,
    pub(crate) ts_ns: TimestampNs,
    pub(crate) value: ValueColumns,
    pub(crate) quality: i16,
    pub(crate) reason: Option<String>,
    pub(crate) recv_ns: TimestampNs,
}

/// A tag that points refer to, with the time to record if it must be created.
#[derive(Debug, Clone)]
pub(crate) struct NeededTag {
    pub(crate) tag: TagId,
    pub(crate) first_recv_ns: TimestampNs,
}

/// Rows for one write transaction.
#[derive(Debug, Clone, Default)]
pub(crate) struct WritePlan {
    pub(crate) catalog: Vec<CatalogRow>,
    pub(crate) points: Vec<PointRow>,
    pub(crate) tags: Vec<NeededTag>,
}

impl WritePlan {
    pub(crate) fn new(set: &WriteSet) -> Self {
        let mut catalog = BTreeMap::new();
        for c in &set.catalogs {
            for meta in &c.tags {
                let row = CatalogRow {
                    tag: meta.id.to_string(),
                    asset: meta.id.asset().to_string(),
                    name: meta.id.name().to_owned(),
                    unit: meta.unit.clone(),
                    data_type: meta.data_type.clone(),
                    source: meta.source.clone(),
                    poll_interval_ms: i32::try_from(meta.poll_interval_ms).unwrap_or(i32::MAX),
                    description: meta.description.clone(),
                    agent: c.agent.to_string(),
                    recv_ns: c.recv_ns,
                };
                catalog.insert(row.tag.clone(), row);
            }
        }
        let mut tags: BTreeMap<TagId, TimestampNs> = BTreeMap::new();
        let points = set
            .points
            .iter()
            .map(|r| {
                tags.entry(r.point.tag.clone()).or_insert(r.recv_ns);
                PointRow {
                    tag: r.point.tag.clone(),
                    ts_ns: r.point.ts_ns,
                    value: to_columns(r.point.value.as_ref()),
                    quality: quality_code(&r.point.quality),
                    reason: r.point.quality.reason().map(str::to_owned),
                    recv_ns: r.recv_ns,
                }
            })
            .collect();
        WritePlan {
            catalog: catalog.into_values().collect(),
            points,
            tags: tags
                .into_iter()
                .map(|(tag, first_recv_ns)| NeededTag { tag, first_recv_ns })
                .collect(),
        }
    }
}

/// The `tags.id` of every point row, in order.
pub(crate) fn resolve(
    plan: &WritePlan,
    ids: &HashMap<TagId, i64>,
    op: &'static str,
) -> Result<Vec<i64>, StoreError> {
    plan.points
        .iter()
        .map(|p| {
            ids.get(&p.tag).copied().ok_or_else(|| StoreError::Corrupt {
                op,
                tag: p.tag.to_string(),
                reason: "no tags row after inserting it".to_owned(),
            })
        })
        .collect()
}
