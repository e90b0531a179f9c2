//! Every known tag and its metadata, in memory, indexed by asset: what `/tags`, `/latest`
//! and `/assets` read instead of querying the database on each request.
//!
//! Loaded from storage at start-up; after each committed write the writer applies the same
//! changes the database just made ([`TagDirectory::apply`]): a catalogue entry replaces the
//! tag's metadata (as the `tags` upsert does), a point of an unknown tag adds it with empty
//! metadata (as the auto-created `tags` row has). Only this process's writer changes
//! storage, so the two stay equal (several aggregators writing one database would need
//! [`TagDirectory::reload`] on a timer). The std `RwLock` is never held across `.await`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{PoisonError, RwLock};

use protocols::model::{AssetPath, TagId};

use crate::store::{TagRecord, WriteSet};

#[derive(Debug, Default)]
struct Inner {
    tags: HashMap<TagId, TagRecord>,
    by_asset: BTreeMap<AssetPath, BTreeSet<TagId>>,
}

impl Inner {
    fn upsert(&mut self, record: TagRecord) {
        if !self.tags.contains_key(&record.id) {
            self.by_asset
                .entry(record.id.asset())
                .or_default()
                .insert(record.id.clone());
        }
        self.tags.insert(record.id.clone(), record);
    }
}

/// Tag id → metadata, plus asset → tag ids.
#[derive(Debug, Default)]
pub struct TagDirectory {
    inner: RwLock<Inner>,
}

impl TagDirectory {
    /// A directory holding `records`.
    pub fn from_records(records: impl IntoIterator<Item = TagRecord>) -> Self {
        let dir = Self::default();
        dir.reload(records);
        dir
    }

    /// Replaces the contents with `records` (e.g. a fresh read of storage).
    pub fn reload(&self, records: impl IntoIterator<Item = TagRecord>) {
        let mut inner = Inner::default();
        for r in records {
            inner.upsert(r);
        }
        *self.inner.write().unwrap_or_else(PoisonError::into_inner) = inner;
    }

    /// Applies a committed write: catalogue metadata replaces, new tags from points are added.
    pub fn apply(&self, set: &WriteSet) {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        for c in &set.catalogs {
            for meta in &c.tags {
                inner.upsert(TagRecord {
                    id: meta.id.clone(),
                    unit: Some(meta.unit.clone()),
                    data_type: Some(meta.data_type.clone()),
                    source: Some(meta.source.clone()),
                    // Stored as a 32-bit signed column.
                    poll_interval_ms: Some(meta.poll_interval_ms.min(i32::MAX as u32)),
                    description: Some(meta.description.clone()),
                    agent: Some(c.agent.to_string()),
                });
            }
        }
        for r in &set.points {
            if !inner.tags.contains_key(&r.point.tag) {
                inner.upsert(TagRecord {
                    id: r.point.tag.clone(),
                    unit: None,
                    data_type: None,
                    source: None,
                    poll_interval_ms: None,
                    description: None,
                    agent: None,
                });
            }
        }
    }

    /// Whether the tag is known.
    pub fn contains(&self, tag: &TagId) -> bool {
        self.read().tags.contains_key(tag)
    }

    /// A tag's poll interval, if its catalogue gave one.
    pub fn poll_interval_ms(&self, tag: &TagId) -> Option<u32> {
        self.read().tags.get(tag).and_then(|t| t.poll_interval_ms)
    }

    /// Poll intervals of many tags in one lock (tags without one are left out).
    pub fn poll_intervals<'a>(
        &self,
        tags: impl IntoIterator<Item = &'a TagId>,
    ) -> HashMap<TagId, u32> {
        let inner = self.read();
        tags.into_iter()
            .filter_map(|t| {
                let poll = inner.tags.get(t)?.poll_interval_ms?;
                Some((t.clone(), poll))
            })
            .collect()
    }

    /// The tags of `asset` (sorted by id), or every tag (sorted) for `None`.
    pub fn tags(&self, asset: Option<&AssetPath>) -> Vec<TagRecord> {
        let inner = self.read();
        match asset {
            Some(a) => inner
                .by_asset
                .get(a)
                .into_iter()
                .flatten()
                .filter_map(|id| inner.tags.get(id).cloned())
                .collect(),
            None => {
                let mut all: Vec<TagRecord> = inner.tags.values().cloned().collect();
                all.sort_by(|a, b| a.id.cmp(&b.id));
                all
            }
        }
    }

    /// Tag ids of `asset`, sorted.
    pub fn tag_ids_of(&self, asset: &AssetPath) -> Vec<TagId> {
        self.read()
            .by_asset
            .get(asset)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Number of known tags.
    pub fn len(&self) -> usize {
        self.read().tags.len()
    }

    /// Whether no tag is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use protocols::model::{AgentId, Point, Quality, TagMeta, Value};

    use super::*;
    use crate::store::{CatalogRecord, PointRecord};

    fn meta(id: &str, unit: &str, poll: u32) -> TagMeta {
        TagMeta {
            id: TagId::new(id).unwrap(),
            unit: unit.into(),
            data_type: "f32".into(),
            source: "modbus-tcp://h:502/1/input/0".into(),
            poll_interval_ms: poll,
            description: String::new(),
        }
    }

    fn point(id: &str) -> PointRecord {
        PointRecord {
            point: Point {
                tag: TagId::new(id).unwrap(),
                ts_ns: 1,
                value: Some(Value::Int(1)),
                quality: Quality::Good,
            },
            recv_ns: 2,
        }
    }

    #[test]
    fn catalogue_replaces_metadata_and_points_add_bare_tags() {
        let dir = TagDirectory::default();
        let set = WriteSet {
            points: vec![point("s/a/l/m1/x"), point("s/a/l/m2/y")],
            catalogs: vec![CatalogRecord {
                agent: AgentId::new("gw-1").unwrap(),
                tags: vec![meta("s/a/l/m1/x", "°C", 1000)],
                recv_ns: 3,
            }],
        };
        dir.apply(&set);
        assert_eq!(dir.len(), 2);
        let m1 = dir.tags(Some(&AssetPath::new("s/a/l/m1").unwrap()));
        assert_eq!(m1.len(), 1);
        assert_eq!(m1[0].unit.as_deref(), Some("°C"));
        assert_eq!(m1[0].agent.as_deref(), Some("gw-1"));
        let y = TagId::new("s/a/l/m2/y").unwrap();
        assert!(dir.contains(&y));
        assert_eq!(dir.poll_interval_ms(&y), None);
        // A later catalogue replaces; a later point of a known tag changes nothing.
        dir.apply(&WriteSet {
            points: vec![point("s/a/l/m1/x")],
            catalogs: vec![CatalogRecord {
                agent: AgentId::new("gw-2").unwrap(),
                tags: vec![meta("s/a/l/m1/x", "K", 500)],
                recv_ns: 4,
            }],
        });
        let x = TagId::new("s/a/l/m1/x").unwrap();
        assert_eq!(dir.poll_interval_ms(&x), Some(500));
        assert_eq!(dir.tags(None)[0].unit.as_deref(), Some("K"));
        assert_eq!(dir.len(), 2);
    }

    #[test]
    fn asset_index_is_exact_and_sorted() {
        let dir = TagDirectory::default();
        dir.apply(&WriteSet {
            points: vec![
                point("s/a/l/m1/z"),
                point("s/a/l/m10/x"),
                point("s/a/l/m1/a"),
            ],
            catalogs: vec![],
        });
        let ids = dir.tag_ids_of(&AssetPath::new("s/a/l/m1").unwrap());
        let names: Vec<_> = ids.iter().map(|t| t.name()).collect();
        assert_eq!(names, ["a", "z"]);
        assert!(
            dir.tag_ids_of(&AssetPath::new("s/a/l/m9").unwrap())
                .is_empty()
        );
    }
}
