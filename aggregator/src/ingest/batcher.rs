//! Groups accepted messages into write batches (I/O-free; time is passed in).
//!
//! A batch is flushed when it holds `max_points` points, or `max_messages` messages awaiting
//! their ack, or `max_delay` after its first message. The message bound matters because the
//! broker stops delivering when its per-subscriber in-flight window is full of messages we
//! have not acked yet.
//!
//! Each message's rows stay contiguous in the batch ([`MessageSpan`]), so the writer can
//! write any run of messages on its own ([`subset`]) to isolate one the database refuses.

use std::ops::Range;
use std::time::Duration;

use protocols::model::{Batch, TagCatalog, TimestampNs};
use tokio::time::Instant;

use super::acks::Ticket;
use crate::store::{CatalogRecord, PointRecord, WriteSet};

/// A message for the storage writer.
#[derive(Debug, Clone)]
pub(crate) enum WriterInput {
    /// Points to store.
    Batch {
        ticket: Option<Ticket>,
        topic: String,
        batch: Batch,
        recv_ns: TimestampNs,
    },
    /// Tag metadata to upsert.
    Catalog {
        ticket: Option<Ticket>,
        topic: String,
        catalog: TagCatalog,
        recv_ns: TimestampNs,
    },
}

/// One message of a write batch: its ack ticket, its topic (for logs) and its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageSpan {
    pub(crate) ticket: Option<Ticket>,
    pub(crate) topic: String,
    pub(crate) points: Range<usize>,
    pub(crate) catalogs: Range<usize>,
}

/// The rows of a run of consecutive messages of `set`.
pub(crate) fn subset(set: &WriteSet, spans: &[MessageSpan]) -> WriteSet {
    let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
        return WriteSet::default();
    };
    WriteSet {
        points: set.points[first.points.start..last.points.end].to_vec(),
        catalogs: set.catalogs[first.catalogs.start..last.catalogs.end].to_vec(),
    }
}

/// When to flush.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchLimits {
    pub(crate) max_points: usize,
    pub(crate) max_messages: usize,
    pub(crate) max_delay: Duration,
}

/// The batch being assembled.
#[derive(Debug)]
pub(crate) struct Batcher {
    limits: BatchLimits,
    set: WriteSet,
    spans: Vec<MessageSpan>,
    started: Option<Instant>,
}

impl Batcher {
    pub(crate) fn new(limits: BatchLimits) -> Self {
        Self {
            limits,
            set: WriteSet::default(),
            spans: Vec::new(),
            started: None,
        }
    }

    pub(crate) fn push(&mut self, input: WriterInput, now: Instant) {
        self.started.get_or_insert(now);
        let (points, catalogs) = (self.set.points.len(), self.set.catalogs.len());
        let (ticket, topic) = match input {
            WriterInput::Batch {
                ticket,
                topic,
                batch,
                recv_ns,
            } => {
                self.set.points.extend(
                    batch
                        .points
                        .into_iter()
                        .map(|point| PointRecord { point, recv_ns }),
                );
                (ticket, topic)
            }
            WriterInput::Catalog {
                ticket,
                topic,
                catalog,
                recv_ns,
            } => {
                self.set.catalogs.push(CatalogRecord {
                    agent: catalog.agent,
                    tags: catalog.tags,
                    recv_ns,
                });
                (ticket, topic)
            }
        };
        self.spans.push(MessageSpan {
            ticket,
            topic,
            points: points..self.set.points.len(),
            catalogs: catalogs..self.set.catalogs.len(),
        });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub(crate) fn is_full(&self) -> bool {
        self.set.points.len() >= self.limits.max_points
            || self.spans.len() >= self.limits.max_messages
    }

    /// When the batch must be flushed at the latest.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.started.map(|t| t + self.limits.max_delay)
    }

    /// Takes the batch and the messages it holds, in arrival order.
    pub(crate) fn take(&mut self) -> (WriteSet, Vec<MessageSpan>) {
        self.started = None;
        (
            std::mem::take(&mut self.set),
            std::mem::take(&mut self.spans),
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use protocols::model::{AgentId, AssetPath, Point, TagId, Value};

    use super::*;

    fn input(ticket: u64, points: usize) -> WriterInput {
        let asset = AssetPath::new("a/b/c/d").unwrap();
        let tag = TagId::from_parts(&asset, "t").unwrap();
        WriterInput::Batch {
            ticket: Some(ticket),
            topic: format!("t/{ticket}"),
            batch: Batch {
                agent: AgentId::new("e").unwrap(),
                session: 0,
                seq: ticket,
                asset,
                historical: false,
                points: (0..points)
                    .map(|i| Point::good(tag.clone(), i as i64, Value::Int(1)))
                    .collect(),
            },
            recv_ns: 9,
        }
    }

    #[test]
    fn flushes_on_points_messages_or_delay() {
        let limits = BatchLimits {
            max_points: 10,
            max_messages: 3,
            max_delay: Duration::from_millis(100),
        };
        let t0 = Instant::now();
        let mut b = Batcher::new(limits);
        assert!(b.is_empty() && b.deadline().is_none());
        b.push(input(0, 4), t0);
        b.push(input(1, 4), t0 + Duration::from_millis(50));
        assert_eq!(b.deadline(), Some(t0 + Duration::from_millis(100)));
        assert!(!b.is_full());
        b.push(input(2, 0), t0);
        assert!(b.is_full(), "three messages");
        let (set, spans) = b.take();
        let tickets: Vec<_> = spans.iter().filter_map(|s| s.ticket).collect();
        assert_eq!((set.points.len(), tickets), (8, vec![0, 1, 2]));
        assert_eq!(spans[1].points, 4..8);
        assert_eq!(spans[2].points, 8..8);
        let middle = subset(&set, &spans[1..]);
        assert_eq!(middle.points, set.points[4..8]);
        assert!(subset(&set, &[]).points.is_empty());
        assert!(b.is_empty() && b.deadline().is_none());
        b.push(input(3, 10), t0);
        assert!(b.is_full(), "ten points");
    }
}
