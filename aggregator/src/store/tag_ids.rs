//! Cache of `tags.id` by tag, so steady-state writes skip the tag lookup.
//!
//! Only ids from committed transactions go in (a rolled-back insert would leave a dangling
//! id). Row ids never change, so entries never expire. The lock is never held across `.await`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use protocols::model::TagId;

use super::plan::NeededTag;

#[derive(Debug, Clone, Default)]
pub(crate) struct TagIds(Arc<Mutex<HashMap<TagId, i64>>>);

impl TagIds {
    /// Splits `needed` into known ids and tags to look up.
    pub(crate) fn split<'a>(
        &self,
        needed: &'a [NeededTag],
    ) -> (HashMap<TagId, i64>, Vec<&'a NeededTag>) {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut known = HashMap::with_capacity(needed.len());
        let mut missing = Vec::new();
        for n in needed {
            match map.get(&n.tag) {
                Some(id) => {
                    known.insert(n.tag.clone(), *id);
                }
                None => missing.push(n),
            }
        }
        (known, missing)
    }

    pub(crate) fn get(&self, tag: &TagId) -> Option<i64> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(tag)
            .copied()
    }

    /// Records ids read inside a transaction that has now committed.
    pub(crate) fn extend(&self, ids: impl IntoIterator<Item = (TagId, i64)>) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(ids);
    }
}
