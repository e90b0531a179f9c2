//! Remembers which topics already produced a warning, so a broken publisher logs once per
//! topic while every rejected message is still counted.
//!
//! Bounded: when [`MAX_TOPICS`] distinct topics have warned, the set is cleared and topics
//! may warn once more. Memory stays bounded and the log rate stays low.

use std::collections::HashSet;

/// Distinct topics remembered.
pub(crate) const MAX_TOPICS: usize = 10_000;

#[derive(Debug, Default)]
pub(crate) struct WarnOnce {
    seen: HashSet<String>,
}

impl WarnOnce {
    /// True the first time a topic is seen (since the last clear).
    pub(crate) fn first(&mut self, topic: &str) -> bool {
        if self.seen.contains(topic) {
            return false;
        }
        if self.seen.len() >= MAX_TOPICS {
            self.seen.clear();
        }
        self.seen.insert(topic.to_owned());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_topic_and_bounded() {
        let mut w = WarnOnce::default();
        assert!(w.first("a"));
        assert!(!w.first("a"));
        assert!(w.first("b"));
        for i in 0..MAX_TOPICS {
            w.first(&i.to_string());
        }
        assert!(w.seen.len() <= MAX_TOPICS);
    }
}
