//! Latest value of every tag, for `/latest` and asset status without touching the database.
//!
//! Filled from storage at start-up and by the writer after each commit. A value with a newer
//! source timestamp replaces an older one, never the reverse, so replayed backlog and
//! re-delivered batches cannot roll a tag back. The std `RwLock` is never held across
//! `.await` (all methods are synchronous).

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use protocols::model::{Quality, TagId, TimestampNs, Value};

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
        self.apply_with(samples, |_, _| {})
    }

    /// [`LatestCache::apply`], calling `changed` with every entry that became a tag's
    /// latest value (inside the lock: keep it cheap).
    pub fn apply_with(
        &self,
        samples: impl IntoIterator<Item = (TagId, LatestValue)>,
        mut changed: impl FnMut(&TagId, &LatestValue),
    ) -> usize {
        let mut map = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let mut count = 0;
        for (tag, v) in samples {
            match map.get_mut(&tag) {
                Some(old) if old.source_ts_ns >= v.source_ts_ns => continue,
                Some(old) => {
                    changed(&tag, &v);
                    *old = v;
                }
                None => {
                    changed(&tag, &v);
                    map.insert(tag, v);
                }
            }
            count += 1;
        }
        count
    }

    /// The latest value of a tag.
    pub fn get(&self, tag: &TagId) -> Option<LatestValue> {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(tag)
            .cloned()
    }

    /// Latest values of `tags` in one lock, in the given order; tags without a value are
    /// left out.
    pub fn get_many(&self, tags: impl IntoIterator<Item = TagId>) -> Vec<(TagId, LatestValue)> {
        let map = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        tags.into_iter()
            .filter_map(|t| {
                let v = map.get(&t)?.clone();
                Some((t, v))
            })
            .collect()
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
    fn get_many_keeps_order_and_skips_missing() {
        let cache = LatestCache::default();
        let a = TagId::new("s/a/l/m1/x").unwrap();
        let b = TagId::new("s/a/l/m10/x").unwrap();
        let c = TagId::new("s/a/l/m2/x").unwrap();
        cache.apply([(a.clone(), v(1, 1)), (b.clone(), v(2, 1))]);
        let got = cache.get_many([b.clone(), c, a.clone()]);
        let tags: Vec<_> = got.iter().map(|(t, _)| t.clone()).collect();
        assert_eq!(tags, [b, a]);
        assert_eq!(cache.len(), 2);
    }
}
