//! Recently seen command ids, so a redelivered command (MQTT QoS 1 is at least once) is
//! answered with its first result instead of being written twice. I/O-free and bounded:
//! the oldest ids are forgotten beyond [`RECENT_CAPACITY`].

use std::collections::{HashMap, VecDeque};

use protocols::model::WriteResult;

/// Command ids remembered. A redelivery comes within seconds; 1024 ids cover far more
/// commands than an operator sends in that time.
pub const RECENT_CAPACITY: usize = 1024;

/// What is known about a command id.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    /// First delivery: execute it.
    New,
    /// Still executing: answer when it finishes.
    Pending,
    /// Already answered with this result.
    Done(WriteResult),
}

/// Bounded memory of command ids.
#[derive(Debug)]
pub struct RecentCommands {
    capacity: usize,
    order: VecDeque<String>,
    results: HashMap<String, Option<WriteResult>>,
}

impl RecentCommands {
    /// Remembers at most `capacity` ids.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            order: VecDeque::new(),
            results: HashMap::new(),
        }
    }

    /// Looks `id` up; a new id is remembered as pending.
    pub fn begin(&mut self, id: &str) -> Seen {
        match self.results.get(id) {
            Some(Some(result)) => Seen::Done(result.clone()),
            Some(None) => Seen::Pending,
            None => {
                while self.order.len() >= self.capacity {
                    if let Some(old) = self.order.pop_front() {
                        self.results.remove(&old);
                    }
                }
                self.order.push_back(id.to_owned());
                self.results.insert(id.to_owned(), None);
                Seen::New
            }
        }
    }

    /// Records `id`'s result (it must have been begun; forgotten ids are not re-added).
    pub fn finish(&mut self, id: &str, result: WriteResult) {
        if let Some(slot) = self.results.get_mut(id) {
            *slot = Some(result);
        }
    }
}

#[cfg(test)]
mod tests {
    use protocols::model::WriteStatus;

    use super::*;

    fn result(id: &str) -> WriteResult {
        WriteResult {
            id: id.into(),
            tag: "t".into(),
            status: WriteStatus::Ok,
            error: None,
            old: None,
            new: None,
            ts_ns: 1,
        }
    }

    #[test]
    fn duplicates_get_the_first_result_and_old_ids_are_forgotten() {
        let mut r = RecentCommands::new(2);
        assert_eq!(r.begin("a"), Seen::New);
        assert_eq!(r.begin("a"), Seen::Pending);
        r.finish("a", result("a"));
        assert_eq!(r.begin("a"), Seen::Done(result("a")));
        assert_eq!(r.begin("b"), Seen::New);
        assert_eq!(r.begin("c"), Seen::New);
        // "a" was the oldest of three: forgotten, so it counts as new again.
        assert_eq!(r.begin("a"), Seen::New);
        r.finish("zzz", result("zzz"));
        assert_eq!(r.begin("zzz"), Seen::New);
    }
}
