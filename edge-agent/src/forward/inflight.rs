//! Matching publishes to broker acknowledgements, I/O-free.
//!
//! rumqttc's `publish` returns before a packet id is assigned (rumqtt issues #349, #1007),
//! so the forwarder, the only publisher, records what it hands over in order; each
//! `Outgoing::Publish(pkid)` event then names the oldest unnamed entry, and
//! `Incoming::PubAck(pkid)` retires it. When the connection is lost every entry not yet
//! acknowledged is taken back to be re-sent.

use std::collections::{HashMap, VecDeque};

/// Something handed to the MQTT client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sent {
    /// A data batch (its seq); it stays in the spool and is sent again if the connection
    /// drops before its PUBACK.
    Batch(u64),
    /// A status or catalogue message; republished fresh on every connect instead.
    Control(&'static str),
}

/// Publishes between hand-over and PUBACK.
#[derive(Debug, Default)]
pub(crate) struct AckTracker {
    /// Handed over, packet id not known yet, in hand-over order.
    unnamed: VecDeque<Sent>,
    /// Sent with a packet id, waiting for PUBACK.
    in_flight: HashMap<u16, Sent>,
}

impl AckTracker {
    /// Records a publish just handed to the client.
    pub(crate) fn handed(&mut self, sent: Sent) {
        self.unnamed.push_back(sent);
    }

    /// The client put the oldest unnamed publish on the wire with `pkid`.
    pub(crate) fn outgoing(&mut self, pkid: u16) {
        let Some(sent) = self.unnamed.pop_front() else {
            tracing::warn!(
                pkid,
                "outgoing publish that the forwarder did not hand over"
            );
            return;
        };
        if let Some(previous) = self.in_flight.insert(pkid, sent) {
            // Only possible if the broker acked out of order and rumqttc reused the id.
            tracing::warn!(pkid, ?previous, "packet id reused before its PUBACK");
        }
    }

    /// The broker acknowledged `pkid`; returns what it acknowledged.
    pub(crate) fn acked(&mut self, pkid: u16) -> Option<Sent> {
        self.in_flight.remove(&pkid)
    }

    /// Whether batch `seq` was handed over and is not acknowledged yet.
    pub(crate) fn has_batch(&self, seq: u64) -> bool {
        self.unnamed
            .iter()
            .chain(self.in_flight.values())
            .any(|s| *s == Sent::Batch(seq))
    }

    /// Publishes handed over and not yet acknowledged.
    pub(crate) fn outstanding(&self) -> usize {
        self.unnamed.len() + self.in_flight.len()
    }

    /// Names every handed-over publish (as the event loop would) and returns the seqs of the
    /// batches among them, in hand-over order.
    #[cfg(test)]
    pub(crate) fn name_all(&mut self, next_pkid: &mut u16) -> Vec<u64> {
        let batches = self
            .unnamed
            .iter()
            .filter_map(|s| match s {
                Sent::Batch(seq) => Some(*seq),
                Sent::Control(_) => None,
            })
            .collect();
        while !self.unnamed.is_empty() {
            *next_pkid += 1;
            self.outgoing(*next_pkid);
        }
        batches
    }

    /// Forgets everything and returns the seqs of the unacknowledged batches, in order.
    pub(crate) fn take_unacked(&mut self) -> Vec<u64> {
        let mut records: Vec<u64> = self
            .unnamed
            .drain(..)
            .chain(self.in_flight.drain().map(|(_, s)| s))
            .filter_map(|s| match s {
                Sent::Batch(r) => Some(r),
                Sent::Control(_) => None,
            })
            .collect();
        records.sort_unstable();
        records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(seq: u64) -> Sent {
        Sent::Batch(seq)
    }

    #[test]
    fn acks_retire_the_publish_named_by_their_packet_id() {
        let mut t = AckTracker::default();
        t.handed(Sent::Control("status"));
        t.handed(batch(0));
        t.handed(batch(1));
        assert_eq!(t.outstanding(), 3);
        assert!(t.has_batch(1) && !t.has_batch(2));
        t.outgoing(1);
        t.outgoing(2);
        assert_eq!(t.acked(2), Some(batch(0)));
        assert_eq!(t.acked(2), None);
        assert_eq!(t.acked(1), Some(Sent::Control("status")));
        assert_eq!(t.outstanding(), 1);
        t.outgoing(3);
        assert_eq!(t.acked(3), Some(batch(1)));
        assert_eq!(t.outstanding(), 0);
        t.outgoing(4); // nothing handed: ignored
        assert_eq!(t.outstanding(), 0);
    }

    #[test]
    fn unacked_batches_come_back_in_order_on_disconnect() {
        let mut t = AckTracker::default();
        for s in 0..4 {
            t.handed(batch(s));
        }
        t.handed(Sent::Control("catalog"));
        t.outgoing(9);
        t.outgoing(10);
        t.acked(9);
        assert_eq!(t.take_unacked(), [1, 2, 3]);
        assert_eq!(t.outstanding(), 0);
    }
}
