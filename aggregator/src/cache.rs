//! Latest value of every tag, for `/latest` and asset status without touching the database.
//!
//! Filled from storage at start-up and by the writer after each commit. A value with a newer
//! source timestamp replaces an older one, never the reverse, so replayed backlog and
//! re-delivered batches cannot roll a tag back. The std `RwLock` is never held across
//! `.await` (all methods are synchronous).

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use protocols::model::{AssetPath, Quality, TagId, TimestampNs, Value};

/// The newest known sample of one tag.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestValue {
    /// Value, if any.
    pub value: Option<Value>,
    /// Quality and reason.
    pub quality: Quality,
    /// When the source sampled it.
    pub source_ts_ns: TimestampNs,
    /// When the aggregator received it.
    pub receive_ts_ns: TimestampNs,
}

/// Tag → latest value.
#[derive(Debug, Default)]
pub struct LatestCache {
    inner: RwLock<HashMap<TagId, LatestValue>>,
}

impl LatestCache {
    /// Applies samples in one lock; each replaces the cached one only if strictly newer.
    /// Returns how many entries changed.
    pub fn apply(&self, samples: impl IntoIterator<Item = (TagId, LatestValue)>) -> usize {
        let mut map = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let mut changed = 0;
        for (tag, v) in samples {
            match map.get_mut(&tag) {
                Some(old) if old.source_ts_ns >= v.source_ts_ns => {}
                Some(old) => {
                    *old = v;
                    changed += 1;
                }
                None => {
                    map.insert(tag, v);
                    changed += 1;
                }
            }
        }
        changed
    }

    /// The latest value of a tag.
    pub fn get(&self, tag: &TagId) -> Option<LatestValue> {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(tag)
            .cloned()
    }

    /// Latest values of every tag of `asset`, sorted by tag.
    pub fn of_asset(&self, asset: &AssetPath) -> Vec<(TagId, LatestValue)> {
        let map = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<_> = map
            .iter()
            .filter(|(t, _)| t.belongs_to(asset))
            .map(|(t, v)| (t.clone(), v.clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// A copy of every entry.
    pub fn snapshot(&self) -> HashMap<TagId, LatestValue> {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Number of tags with a value.
    pub fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no tag has a value yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn v(x: i64, ts: i64) -> LatestValue {
        LatestValue {
            value: Some(Value::Int(x)),
            quality: Quality::Good,
            source_ts_ns: ts,
            receive_ts_ns: ts + 1,
        }
    }

    #[test]
    fn newer_replaces_older_never_the_reverse() {
        let cache = LatestCache::default();
        let t = TagId::new("a/b/c/d/t").unwrap();
        assert_eq!(cache.apply([(t.clone(), v(1, 10))]), 1);
        assert_eq!(cache.apply([(t.clone(), v(2, 5))]), 0);
        assert_eq!(
            cache.apply([(t.clone(), v(3, 10))]),
            0,
            "same timestamp keeps the first"
        );
        assert_eq!(cache.get(&t).unwrap().value, Some(Value::Int(1)));
        assert_eq!(
            cache.apply([(t.clone(), v(4, 11)), (t.clone(), v(5, 9))]),
            1
        );
        assert_eq!(cache.get(&t).unwrap().value, Some(Value::Int(4)));
    }

    #[test]
    fn asset_filter_is_exact() {
        let cache = LatestCache::default();
        let a = TagId::new("s/a/l/m1/x").unwrap();
        let b = TagId::new("s/a/l/m10/x").unwrap();
        cache.apply([(a.clone(), v(1, 1)), (b, v(1, 1))]);
        let got = cache.of_asset(&a.asset());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, a);
        assert_eq!(cache.len(), 2);
    }
}
