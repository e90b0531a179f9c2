//! The bounded in-memory backlog of batches not yet handed to the MQTT client.
//!
//! When full, the oldest batch is dropped (and returned, so the caller counts it): fresh data
//! beats stale data for monitoring, and the sequence gap tells consumers what was lost.
//! Records taken back after a lost connection go in front, keeping sequence order. A disk
//! spool will replace this type behind the same operations (push, requeue, pop, len).

use std::collections::VecDeque;

use super::record::Record;

/// Batches waiting to be published, oldest first.
#[derive(Debug)]
pub(crate) struct MemoryBuffer {
    records: VecDeque<Record>,
    capacity: usize,
}

impl MemoryBuffer {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            records: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Appends `record`; returns how many old records were dropped to make room.
    pub(crate) fn push(&mut self, record: Record) -> usize {
        self.records.push_back(record);
        self.trim()
    }

    /// Puts records taken back from the MQTT client in front (they are older than anything
    /// buffered); returns how many of the oldest were dropped to stay within capacity.
    pub(crate) fn requeue(&mut self, mut records: Vec<Record>) -> usize {
        records.sort_by_key(|r| r.seq);
        for r in records.into_iter().rev() {
            self.records.push_front(r);
        }
        self.trim()
    }

    /// The oldest record.
    pub(crate) fn pop(&mut self) -> Option<Record> {
        self.records.pop_front()
    }

    /// Puts back a record [`MemoryBuffer::pop`] returned but that could not be handed over.
    pub(crate) fn unpop(&mut self, record: Record) {
        self.records.push_front(record);
    }

    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    fn trim(&mut self) -> usize {
        let excess = self.records.len().saturating_sub(self.capacity);
        self.records.drain(..excess);
        excess
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u64) -> Record {
        Record {
            seq,
            topic: "t".into(),
            payload: vec![],
            resend: false,
        }
    }

    fn seqs(b: &mut MemoryBuffer) -> Vec<u64> {
        std::iter::from_fn(|| b.pop()).map(|r| r.seq).collect()
    }

    #[test]
    fn drops_the_oldest_when_full() {
        let mut b = MemoryBuffer::new(3);
        assert_eq!((0..3).map(|s| b.push(rec(s))).sum::<usize>(), 0);
        assert_eq!(b.push(rec(3)), 1);
        assert_eq!(b.push(rec(4)), 1);
        assert_eq!(b.len(), 3);
        assert_eq!(seqs(&mut b), [2, 3, 4]);
        assert!(b.is_empty());
    }

    #[test]
    fn requeued_records_go_first_in_sequence_order() {
        let mut b = MemoryBuffer::new(5);
        b.push(rec(7));
        b.push(rec(8));
        assert_eq!(b.requeue(vec![rec(5), rec(3), rec(4)]), 0);
        assert_eq!(seqs(&mut b), [3, 4, 5, 7, 8]);
        b.push(rec(9));
        assert_eq!(b.requeue(vec![rec(1), rec(2), rec(3), rec(4), rec(5)]), 1);
        assert_eq!(seqs(&mut b), [2, 3, 4, 5, 9]);
        b.push(rec(1));
        let r = b.pop().into_iter().next();
        b.unpop(r.unwrap_or_else(|| rec(0)));
        assert_eq!(seqs(&mut b), [1]);
    }
}
