//! The storage writer: takes accepted messages off the ingest queue, writes them in batches
//! (one transaction each), and only after commit updates the latest-value cache and hands
//! the covered tickets back to the MQTT task for acking.
//!
//! Every write attempt is bounded by `storage.write_timeout`. Failures are of two kinds
//! ([`crate::store::StoreError::permanent_reason`]):
//!
//! - Transient (connection, I/O, pool, lock, timeout): the batch is retried with backoff,
//!   holding its acks: the queue fills, the MQTT task waits, the broker's in-flight window
//!   closes — backpressure, nothing dropped. Writes are idempotent, so a retry after a
//!   timeout whose transaction did commit stores nothing twice. Logged once when writes
//!   start failing and once when they work again.
//! - Permanent (the database refuses the data itself, e.g. PostgreSQL 22021 for NUL in text):
//!   retrying can never succeed, so the batch is split in halves, recursively, until the
//!   refused messages are isolated. Everything else is stored; each refused message is
//!   counted (`sentia_points_rejected_total` / `sentia_messages_rejected_total` by reason),
//!   logged at error once per topic and acked, like a malformed payload.
//!
//! Points stamped further ahead than `ingest.max_future_skew` are stored but not put in
//! the cache (see `skew.rs`). The writer ends when the queue closes (after flushing) or,
//! during a failing write, when `abort` fires at the end of the shutdown grace period;
//! unacked messages are then re-delivered by the broker on the next start.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::acks::Ticket;
use super::batcher::{Batcher, MessageSpan, WriterInput, subset};
use super::health::TaskGuard;
use super::skew::FutureSkew;
use super::warn_once::WarnOnce;
use crate::backoff::Backoff;
use crate::cache::{LatestCache, LatestValue};
use crate::directory::TagDirectory;
use crate::live::LiveHub;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError, WriteSet};

const RETRY_BASE: Duration = Duration::from_millis(200);
const RETRY_CAP: Duration = Duration::from_secs(10);

/// Writes batches to the store.
pub(crate) struct StoreWriter {
    pub(crate) store: Store,
    pub(crate) cache: Arc<LatestCache>,
    /// Known tags; updated with what each commit added.
    pub(crate) directory: Arc<TagDirectory>,
    /// Live clients, offered every value that became a tag's latest.
    pub(crate) live: Arc<LiveHub>,
    /// Limit rules, evaluated on what each commit stored.
    pub(crate) alarms: Arc<crate::alarms::Alarms>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) input: mpsc::Receiver<WriterInput>,
    pub(crate) acks: mpsc::Sender<Vec<Ticket>>,
    pub(crate) batcher: Batcher,
    pub(crate) write_timeout: Duration,
    pub(crate) skew: FutureSkew,
    /// Marks ingest down when the writer ends (dropped with it, also on panic).
    pub(crate) _guard: TaskGuard,
    pub(crate) state: WriterState,
}

/// Retry and logging state across batches.
pub(crate) struct WriterState {
    backoff: Backoff,
    /// Since when writes fail (transiently); `None` while they work.
    failing_since: Option<Instant>,
    warned: WarnOnce,
}

impl Default for WriterState {
    fn default() -> Self {
        Self {
            backoff: Backoff::new(RETRY_BASE, RETRY_CAP),
            failing_since: None,
            warned: WarnOnce::default(),
        }
    }
}

/// How one write ended.
enum Attempt {
    Stored,
    /// The database will never accept this data.
    Refused(StoreError, &'static str),
    /// Shutdown's grace period ended while retrying.
    Abandoned,
}

/// Why one attempt failed.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Store(StoreError),
    #[error("write did not finish within {0:?}")]
    TimedOut(Duration),
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

    /// Writes the pending batch, isolating refused messages; false if abandoned at shutdown.
    async fn flush(&mut self, abort: &CancellationToken) -> bool {
        if self.batcher.is_empty() {
            return true;
        }
        let (set, spans) = self.batcher.take();
        // Runs of messages still to write, the next one on top.
        let mut todo: Vec<Range<usize>> = Vec::new();
        todo.push(0..spans.len());
        while let Some(run) = todo.pop() {
            let attempt = if run == (0..spans.len()) {
                self.write(&set, abort).await
            } else {
                self.write(&subset(&set, &spans[run.clone()]), abort).await
            };
            match attempt {
                Attempt::Stored => {}
                Attempt::Abandoned => return false,
                Attempt::Refused(e, reason) if run.len() == 1 => {
                    self.reject(&spans[run.start], &e, reason);
                }
                Attempt::Refused(..) => {
                    let mid = run.start + run.len() / 2;
                    todo.push(mid..run.end);
                    todo.push(run.start..mid);
                }
            }
        }
        let tickets = spans.iter().filter_map(|s| s.ticket).collect();
        // The MQTT task may be gone at shutdown; the broker then re-delivers.
        let _ = self.acks.send(tickets).await;
        true
    }

    /// One write set, retried while failures are transient.
    async fn write(&mut self, set: &WriteSet, abort: &CancellationToken) -> Attempt {
        loop {
            let started = Instant::now();
            let result = match tokio::time::timeout(self.write_timeout, self.store.write(set)).await
            {
                Ok(r) => r.map_err(Failure::Store),
                Err(_) => Err(Failure::TimedOut(self.write_timeout)),
            };
            let e = match result {
                Ok(outcome) => {
                    let m = &self.metrics;
                    m.store_latency.observe(started.elapsed().as_secs_f64());
                    m.store_batch_points.observe(set.points.len() as f64);
                    m.points_stored.inc_by(outcome.inserted);
                    m.points_duplicate.inc_by(outcome.duplicates);
                    if let Some(since) = self.state.failing_since.take() {
                        tracing::info!(outage = ?since.elapsed(), attempts = self.state.backoff.attempts(), "storage writes work again");
                    }
                    self.state.backoff.reset();
                    tracing::trace!(
                        points = set.points.len(),
                        inserted = outcome.inserted,
                        duplicates = outcome.duplicates,
                        "write batch committed"
                    );
                    self.directory.apply(set);
                    let mut fresh = Vec::new();
                    let watched = !self.live.is_empty();
                    self.cache.apply_with(latest_of(set, self.skew), |tag, v| {
                        if watched {
                            fresh.push((tag.clone(), v.clone()));
                        }
                    });
                    self.live.publish(&fresh);
                    self.alarms.on_points(set.points.iter().map(|r| &r.point));
                    return Attempt::Stored;
                }
                Err(e) => e,
            };
            self.metrics.store_errors.inc();
            match e {
                Failure::Store(e) => match e.permanent_reason() {
                    Some(reason) => {
                        tracing::debug!(error = %e, points = set.points.len(), "the database refused a write; isolating the refused messages");
                        return Attempt::Refused(e, reason);
                    }
                    None => self.failing(&e),
                },
                timed_out => self.failing(&timed_out),
            }
            tokio::select! {
                () = abort.cancelled() => {
                    tracing::error!(points = set.points.len(), "write abandoned at shutdown; the broker re-delivers these messages");
                    return Attempt::Abandoned;
                }
                () = tokio::time::sleep(self.state.backoff.next_delay()) => {}
            }
        }
    }

    /// A transient failure: logged when writes start failing, only counted after that.
    fn failing(&mut self, e: &dyn std::fmt::Display) {
        if self.state.failing_since.is_none() {
            self.state.failing_since = Some(Instant::now());
            tracing::warn!(error = %e, "storage writes fail; retrying, messages stay unacknowledged");
        } else {
            tracing::debug!(error = %e, "storage write failed again");
        }
    }

    /// A message the database will never accept: counted, logged once per topic, acked.
    fn reject(&mut self, span: &MessageSpan, e: &StoreError, reason: &'static str) {
        let points = span.points.len() as u64;
        self.metrics.rejected(reason, points);
        if self.state.warned.first(&span.topic) {
            tracing::error!(topic = %span.topic, reason, points, error = %e,
                "the database refused a message; dropping it (further ones on this topic are only counted)");
        }
    }
}

fn latest_of(
    set: &WriteSet,
    skew: FutureSkew,
) -> impl Iterator<Item = (protocols::model::TagId, LatestValue)> + '_ {
    set.points
        .iter()
        .filter(move |r| !skew.is_future(r.point.ts_ns, r.recv_ns))
        .map(|r| {
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
