//! The storage writer: takes accepted messages off the ingest queue, writes them in batches
//! (one transaction each), and only after commit updates the latest-value cache and hands
//! the covered tickets back to the MQTT task for acking.
//!
//! A failed write is retried with backoff, holding the batch (and so its acks): the queue
//! fills, the MQTT task waits, the broker's in-flight window closes — backpressure, nothing
//! dropped. The writer ends when the queue closes (after flushing) or, during a failed
//! write, when `abort` fires at the end of the shutdown grace period; unacked messages are
//! then re-delivered by the broker on the next start.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::acks::Ticket;
use super::batcher::{Batcher, WriterInput};
use crate::backoff::Backoff;
use crate::cache::{LatestCache, LatestValue};
use crate::metrics::Metrics;
use crate::store::{Store, WriteSet};

const RETRY_BASE: Duration = Duration::from_millis(200);
const RETRY_CAP: Duration = Duration::from_secs(10);

/// Writes batches to the store.
pub(crate) struct StoreWriter {
    pub(crate) store: Store,
    pub(crate) cache: Arc<LatestCache>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) input: mpsc::Receiver<WriterInput>,
    pub(crate) acks: mpsc::Sender<Vec<Ticket>>,
    pub(crate) batcher: Batcher,
}

impl StoreWriter {
    pub(crate) async fn run(mut self, abort: CancellationToken) {
        loop {
            let deadline = self.batcher.deadline();
            tokio::select! {
                msg = self.input.recv() => match msg {
                    Some(m) => {
                        self.metrics.queue_popped.inc();
                        self.batcher.push(m, Instant::now());
                        if self.batcher.is_full() && !self.flush(&abort).await {
                            return;
                        }
                    }
                    None => {
                        self.flush(&abort).await;
                        tracing::debug!("writer queue closed and flushed");
                        return;
                    }
                },
                () = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    if !self.flush(&abort).await {
                        return;
                    }
                }
            }
        }
    }

    /// Writes the pending batch; false if it was abandoned at shutdown.
    async fn flush(&mut self, abort: &CancellationToken) -> bool {
        if self.batcher.is_empty() {
            return true;
        }
        let (set, tickets) = self.batcher.take();
        let mut backoff = Backoff::new(RETRY_BASE, RETRY_CAP);
        loop {
            let started = Instant::now();
            match self.store.write(&set).await {
                Ok(outcome) => {
                    let m = &self.metrics;
                    m.store_latency.observe(started.elapsed().as_secs_f64());
                    m.store_batch_points.observe(set.points.len() as f64);
                    m.points_stored.inc_by(outcome.inserted);
                    m.points_duplicate.inc_by(outcome.duplicates);
                    if backoff.attempts() > 0 {
                        tracing::info!(attempts = backoff.attempts(), "storage writes work again");
                    }
                    tracing::trace!(
                        points = set.points.len(),
                        inserted = outcome.inserted,
                        duplicates = outcome.duplicates,
                        "write batch committed"
                    );
                    self.cache.apply(latest_of(&set));
                    // The MQTT task may be gone at shutdown; the broker then re-delivers.
                    let _ = self.acks.send(tickets).await;
                    return true;
                }
                Err(e) => {
                    self.metrics.store_errors.inc();
                    if backoff.attempts() == 0 {
                        tracing::warn!(error = %e, points = set.points.len(), "write failed; retrying, messages stay unacknowledged");
                    }
                    tokio::select! {
                        () = abort.cancelled() => {
                            tracing::error!(error = %e, points = set.points.len(), "write abandoned at shutdown; the broker re-delivers these messages");
                            return false;
                        }
                        () = tokio::time::sleep(backoff.next_delay()) => {}
                    }
                }
            }
        }
    }
}

fn latest_of(set: &WriteSet) -> impl Iterator<Item = (protocols::model::TagId, LatestValue)> + '_ {
    set.points.iter().map(|r| {
        (
            r.point.tag.clone(),
            LatestValue {
                value: r.point.value.clone(),
                quality: r.point.quality.clone(),
                source_ts_ns: r.point.ts_ns,
                receive_ts_ns: r.recv_ns,
            },
        )
    })
}
