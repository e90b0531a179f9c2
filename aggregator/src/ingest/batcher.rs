//! Groups accepted messages into write batches (I/O-free; time is passed in).
//!
//! A batch is flushed when it holds `max_points` points, or `max_messages` messages awaiting
//! their ack, or `max_delay` after its first message. The message bound matters because the
//! broker stops delivering when its per-subscriber in-flight window is full of messages we
//! have not acked yet.

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
        batch: Batch,
        recv_ns: TimestampNs,
    },
    /// Tag metadata to upsert.
    Catalog {
        ticket: Option<Ticket>,
        catalog: TagCatalog,
        recv_ns: TimestampNs,
    },
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
    tickets: Vec<Ticket>,
    messages: usize,
    started: Option<Instant>,
}

impl Batcher {
    pub(crate) fn new(limits: BatchLimits) -> Self {
        Self {
            limits,
            set: WriteSet::default(),
            tickets: Vec::new(),
            messages: 0,
            started: None,
        }
    }

    pub(crate) fn push(&mut self, input: WriterInput, now: Instant) {
        self.started.get_or_insert(now);
        self.messages += 1;
        let ticket = match input {
            WriterInput::Batch {
                ticket,
                batch,
                recv_ns,
            } => {
                self.set.points.extend(
                    batch
                        .points
                        .into_iter()
                        .map(|point| PointRecord { point, recv_ns }),
                );
                ticket
            }
            WriterInput::Catalog {
                ticket,
                catalog,
                recv_ns,
            } => {
                self.set.catalogs.push(CatalogRecord {
                    agent: catalog.agent,
                    tags: catalog.tags,
                    recv_ns,
                });
                ticket
            }
        };
        self.tickets.extend(ticket);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.messages == 0
    }

    pub(crate) fn is_full(&self) -> bool {
        self.set.points.len() >= self.limits.max_points || self.messages >= self.limits.max_messages
    }

    /// When the batch must be flushed at the latest.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.started.map(|t| t + self.limits.max_delay)
    }

    /// Takes the batch and the tickets it covers.
    pub(crate) fn take(&mut self) -> (WriteSet, Vec<Ticket>) {
        self.messages = 0;
        self.started = None;
        (
            std::mem::take(&mut self.set),
            std::mem::take(&mut self.tickets),
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
        let (set, tickets) = b.take();
        assert_eq!((set.points.len(), tickets), (8, vec![0, 1, 2]));
        assert!(b.is_empty() && b.deadline().is_none());
        b.push(input(3, 10), t0);
        assert!(b.is_full(), "ten points");
    }
}
