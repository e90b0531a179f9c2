//! The publish side of live streaming (`GET /api/v1/live`, served by `api/live.rs`): one
//! [`Subscriber`] per WebSocket client with its filter (tags and assets) and a mailbox that
//! coalesces: a tag updated twice before the client took the first keeps only the newer
//! value. The writer calls [`LiveHub::publish`] after each commit; publishing never waits
//! for a client, so a slow client cannot slow ingest or other clients, and its memory is
//! bounded by the number of tags it subscribed to.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use protocols::model::{AssetPath, TagId};
use tokio::sync::Notify;

use crate::cache::LatestValue;

/// Which tags a subscriber wants.
#[derive(Debug, Default, Clone)]
struct Filter {
    tags: HashSet<TagId>,
    assets: HashSet<AssetPath>,
}

impl Filter {
    fn matches(&self, tag: &TagId) -> bool {
        self.tags.contains(tag) || self.assets.iter().any(|a| tag.belongs_to(a))
    }
}

/// Values waiting for one client.
#[derive(Debug, Default)]
struct Mailbox {
    values: HashMap<TagId, LatestValue>,
    /// Updates replaced by a newer one before the client took them.
    coalesced: u64,
}

/// One connected client.
#[derive(Debug, Default)]
pub struct Subscriber {
    filter: RwLock<Filter>,
    mailbox: Mutex<Mailbox>,
    notify: Notify,
}

impl Subscriber {
    /// Adds tags and assets to the filter.
    pub fn subscribe(&self, tags: &[TagId], assets: &[AssetPath]) {
        let mut f = self.filter.write().unwrap_or_else(PoisonError::into_inner);
        f.tags.extend(tags.iter().cloned());
        f.assets.extend(assets.iter().cloned());
    }

    /// Removes tags and assets from the filter (values already waiting are still sent).
    pub fn unsubscribe(&self, tags: &[TagId], assets: &[AssetPath]) {
        let mut f = self.filter.write().unwrap_or_else(PoisonError::into_inner);
        for t in tags {
            f.tags.remove(t);
        }
        for a in assets {
            f.assets.remove(a);
        }
    }

    /// Number of tags and assets subscribed.
    pub fn filter_len(&self) -> usize {
        let f = self.filter.read().unwrap_or_else(PoisonError::into_inner);
        f.tags.len() + f.assets.len()
    }

    /// Whether the filter selects `tag`.
    pub fn wants(&self, tag: &TagId) -> bool {
        self.filter
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .matches(tag)
    }

    /// Takes everything waiting: values sorted by tag, and how many were coalesced away.
    pub fn take(&self) -> (Vec<(TagId, LatestValue)>, u64) {
        let mut m = self.mailbox.lock().unwrap_or_else(PoisonError::into_inner);
        let coalesced = std::mem::take(&mut m.coalesced);
        let mut values: Vec<_> = std::mem::take(&mut m.values).into_iter().collect();
        drop(m);
        values.sort_by(|a, b| a.0.cmp(&b.0));
        (values, coalesced)
    }

    /// Waits until something is put in the mailbox (returns at once if something was put
    /// since the last wait).
    pub async fn wait(&self) {
        self.notify.notified().await;
    }

    /// Puts values in the mailbox, newer source timestamps replacing older ones.
    fn deliver(&self, updates: &[&(TagId, LatestValue)]) {
        let mut m = self.mailbox.lock().unwrap_or_else(PoisonError::into_inner);
        for (tag, v) in updates {
            match m.values.get_mut(tag) {
                Some(old) if old.source_ts_ns >= v.source_ts_ns => m.coalesced += 1,
                Some(old) => {
                    *old = v.clone();
                    m.coalesced += 1;
                }
                None => {
                    m.values.insert(tag.clone(), v.clone());
                }
            }
        }
        drop(m);
        self.notify.notify_one();
    }
}

/// Every connected client; the writer publishes each commit's new latest values here.
#[derive(Debug, Default)]
pub struct LiveHub {
    subscribers: RwLock<HashMap<u64, Arc<Subscriber>>>,
    next_id: AtomicU64,
}

impl LiveHub {
    /// Registers a client; it stays registered until [`LiveHub::remove`].
    pub fn register(&self) -> (u64, Arc<Subscriber>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let sub = Arc::new(Subscriber::default());
        self.subscribers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, sub.clone());
        (id, sub)
    }

    /// Unregisters a client.
    pub fn remove(&self, id: u64) {
        self.subscribers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }

    /// Number of connected clients.
    pub fn len(&self) -> usize {
        self.subscribers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no client is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Offers new latest values to every client whose filter selects them. Never waits for
    /// a client.
    pub fn publish(&self, updates: &[(TagId, LatestValue)]) {
        if updates.is_empty() {
            return;
        }
        let subs: Vec<Arc<Subscriber>> = self
            .subscribers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        for sub in subs {
            let wanted: Vec<&(TagId, LatestValue)> = {
                let f = sub.filter.read().unwrap_or_else(PoisonError::into_inner);
                updates.iter().filter(|(t, _)| f.matches(t)).collect()
            };
            if !wanted.is_empty() {
                sub.deliver(&wanted);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use protocols::model::{Quality, Value};

    use super::*;

    fn v(x: i64, ts: i64) -> LatestValue {
        LatestValue {
            value: Some(Value::Int(x)),
            quality: Quality::Good,
            source_ts_ns: ts,
            receive_ts_ns: ts,
        }
    }

    fn t(s: &str) -> TagId {
        TagId::new(s).unwrap()
    }

    #[test]
    fn filters_select_by_tag_and_exact_asset() {
        let hub = LiveHub::default();
        let (_, a) = hub.register();
        let (_, b) = hub.register();
        a.subscribe(&[], &[AssetPath::new("s/a/l/m1").unwrap()]);
        b.subscribe(&[t("s/a/l/m10/x")], &[]);
        hub.publish(&[
            (t("s/a/l/m1/x"), v(1, 1)),
            (t("s/a/l/m10/x"), v(2, 1)),
            (t("s/a/l/m2/x"), v(3, 1)),
        ]);
        let (got_a, _) = a.take();
        let (got_b, _) = b.take();
        assert_eq!(got_a.len(), 1);
        assert_eq!(got_a[0].0, t("s/a/l/m1/x"));
        assert_eq!(got_b.len(), 1);
        assert_eq!(got_b[0].0, t("s/a/l/m10/x"));
        b.unsubscribe(&[t("s/a/l/m10/x")], &[]);
        hub.publish(&[(t("s/a/l/m10/x"), v(4, 2))]);
        assert!(b.take().0.is_empty());
    }

    #[test]
    fn a_client_that_does_not_take_gets_only_the_newest_value() {
        let hub = LiveHub::default();
        let (id, s) = hub.register();
        s.subscribe(&[t("s/a/l/m1/x")], &[]);
        for i in 0..1000 {
            hub.publish(&[(t("s/a/l/m1/x"), v(i, i))]);
        }
        // An older sample arriving late does not replace the newer one.
        hub.publish(&[(t("s/a/l/m1/x"), v(-1, 5))]);
        let (got, coalesced) = s.take();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1.value, Some(Value::Int(999)));
        assert_eq!(coalesced, 1000);
        hub.remove(id);
        assert!(hub.is_empty());
    }
}
