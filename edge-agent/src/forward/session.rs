//! The forwarder's state between events: the spool, what is in flight, the replay
//! cursors, the broker connection state, and the decisions on each event. Owned by one
//! task; no locks. Time is passed in.
//!
//! # Live first, backlog behind it
//!
//! On every ConnAck the spool is split at `boundary` = the next seq to be assigned:
//!
//! - **live**: records appended from now on (seq >= boundary). Sent as soon as they are
//!   appended, in seq order, `historical = false`.
//! - **backlog**: unacknowledged records below the boundary (left over from before the
//!   connection was lost, from batches appended while the broker was unreachable, or from
//!   a previous run). Sent oldest first, marked `historical = true`, at most
//!   `spool.replay_rate` per second (`replay.rs`), and only into in-flight slots live data
//!   does not use. So live data never waits behind a large backlog.
//!
//! Each cursor only moves forward within a connection; a lost connection forgets what was
//! in flight (it is still in the spool) and the next ConnAck starts both cursors again.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use protocols::model::{AgentState, DeviceStatus, TagMeta, WriteResult};
use rumqttc::{AsyncClient, QoS};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::inflight::{AckTracker, Sent};
use super::messages::Messages;
use super::options::MAX_INFLIGHT;
use super::pump::MqttEvent;
use super::replay::Pacer;
use crate::metrics::{self, Metrics};
use crate::poll::DeviceBatch;
use crate::spool::{Dropped, Spool, SpoolError};

/// Command results kept while the broker is unreachable; the oldest are dropped beyond.
const MAX_PENDING_RESULTS: usize = 256;

/// Shortest wait before retrying the backlog.
const RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(5);

/// Publishing state.
pub(crate) struct Session {
    pub(crate) client: AsyncClient,
    pub(crate) messages: Messages,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) spool: Spool,
    pub(crate) tracker: AckTracker,
    pub(crate) connected: bool,
    /// The DISCONNECT went out.
    pub(crate) closed: bool,
    /// The status must be republished (a device changed state).
    pub(crate) status_dirty: bool,
    replay_rate: u32,
    pacer: Pacer,
    /// First seq of the live range in this connection.
    boundary: u64,
    /// Next live seq to send.
    live_next: u64,
    /// Next backlog seq to send.
    backlog_next: u64,
    ever_connected: bool,
    /// Start of the current broker outage.
    outage: Option<Instant>,
    /// Batches dropped by the spool since the last report.
    dropped_unreported: u64,
    /// The spool is failing (logged once until it recovers).
    spool_failing: bool,
    /// Records a full spool discarded while they were in flight (seq → points): not
    /// counted as dropped unless the connection is lost before their PUBACK.
    evicted: HashMap<u64, u32>,
    /// Batches published without a PUBACK when a connection broke (the broker may have
    /// them); a drop of one of these is counted as unconfirmed too.
    unconfirmed: HashSet<u64>,
    /// Where received commands go (writes enabled); the command topic is subscribed on
    /// every ConnAck (clean session).
    commands: Option<mpsc::Sender<Vec<u8>>>,
    /// Command results not yet handed to the client.
    results: VecDeque<WriteResult>,
}

impl Session {
    pub(crate) fn new(
        client: AsyncClient,
        messages: Messages,
        metrics: Arc<Metrics>,
        spool: Spool,
        replay_rate: u32,
    ) -> Self {
        let next = spool.next_seq();
        let s = Self {
            client,
            messages,
            metrics,
            spool,
            tracker: AckTracker::default(),
            connected: false,
            closed: false,
            status_dirty: false,
            replay_rate,
            pacer: Pacer::new(replay_rate, Instant::now()),
            boundary: next,
            live_next: next,
            backlog_next: 0,
            ever_connected: false,
            outage: None,
            dropped_unreported: 0,
            spool_failing: false,
            evicted: HashMap::new(),
            unconfirmed: HashSet::new(),
            commands: None,
            results: VecDeque::new(),
        };
        s.update_gauges();
        s
    }

    /// Encodes a poller's batch with the next sequence number and appends it to the spool.
    pub(crate) fn enqueue(&mut self, batch: DeviceBatch, now_ns: i64) {
        let asset = batch.asset.clone();
        let points = u32::try_from(batch.points.len()).unwrap_or(u32::MAX);
        let seq = self.spool.next_seq();
        match self.messages.batch(seq, batch, now_ns) {
            Ok(record) => match self.spool.append(&record) {
                Ok(dropped) => {
                    self.spool_ok();
                    self.count_dropped(dropped, "spool full (spool.max_bytes) or expired");
                }
                Err(error) => {
                    self.spool_error("append", &error);
                    let mut lost = Dropped::default();
                    lost.add(seq, points);
                    self.count_dropped(lost, "spool append failed");
                }
            },
            Err(error) => {
                metrics::inc(&self.metrics.encode_errors);
                tracing::error!(%asset, %error, "cannot encode batch; dropped");
            }
        }
        self.update_gauges();
    }

    /// Applies one event from the MQTT event loop.
    pub(crate) fn on_event(&mut self, event: MqttEvent, devices: Vec<DeviceStatus>) {
        match event {
            MqttEvent::Connected => self.on_connected(devices),
            MqttEvent::Outgoing(pkid) => self.tracker.outgoing(pkid),
            MqttEvent::PubAck(pkid) => {
                if let Some(Sent::Batch(seq)) = self.tracker.acked(pkid) {
                    metrics::inc(&self.metrics.batches_acked);
                    self.unconfirmed.remove(&seq);
                    if self.evicted.remove(&seq).is_some() {
                        return;
                    }
                    match self.spool.ack(seq) {
                        Ok(_) => self.spool_ok(),
                        Err(error) => self.spool_error("ack", &error),
                    }
                    self.update_gauges();
                }
            }
            MqttEvent::Lost { error, resume } => {
                self.on_lost(&error);
                let _ = resume.send(());
            }
            MqttEvent::Closed => self.closed = true,
            MqttEvent::Received { topic, payload } => self.on_received(&topic, payload),
        }
    }

    fn on_connected(&mut self, devices: Vec<DeviceStatus>) {
        self.connected = true;
        self.boundary = self.spool.next_seq();
        self.live_next = self.boundary;
        self.backlog_next = self.spool.floor();
        self.pacer = Pacer::new(self.replay_rate, Instant::now());
        let (spooled, spool_bytes) = (self.spool.len(), self.spool.bytes());
        match self.outage.take() {
            Some(since) if self.ever_connected => tracing::info!(
                outage = %crate::logging::human(since.elapsed()),
                spooled,
                spool_bytes,
                "broker connection restored; replaying the backlog behind live data"
            ),
            _ => tracing::info!(spooled, spool_bytes, "connected to broker"),
        }
        self.ever_connected = true;
        self.report_dropped();
        self.publish_catalog();
        self.publish_status(AgentState::Online, devices);
        self.subscribe_commands();
    }

    /// Enables writes: received commands go to `commands`.
    pub(crate) fn set_commands(&mut self, commands: mpsc::Sender<Vec<u8>>) {
        self.commands = Some(commands);
    }

    fn subscribe_commands(&mut self) {
        if self.commands.is_none() {
            return;
        }
        let topic = self.messages.command_topic.clone();
        match self.client.try_subscribe(topic.as_str(), QoS::AtLeastOnce) {
            Ok(()) => tracing::debug!(%topic, "subscribed to commands"),
            Err(error) => tracing::error!(%error, %topic, "cannot subscribe to commands"),
        }
    }

    fn on_received(&mut self, topic: &str, payload: Vec<u8>) {
        let Some(commands) = &self.commands else {
            return;
        };
        if topic != self.messages.command_topic {
            tracing::debug!(%topic, "message on an unexpected topic ignored");
            return;
        }
        match commands.try_send(payload) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                metrics::inc(&self.metrics.commands_dropped);
                tracing::warn!("too many commands waiting; command dropped unanswered");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                metrics::inc(&self.metrics.commands_dropped);
                tracing::warn!("command dispatcher stopped; command dropped unanswered");
            }
        }
    }

    /// Queues a command result; it is published (QoS 1, not retained) by the next
    /// [`Session::flush`] while connected.
    pub(crate) fn push_result(&mut self, result: WriteResult) {
        if self.results.len() >= MAX_PENDING_RESULTS
            && let Some(lost) = self.results.pop_front()
        {
            tracing::warn!(id = %lost.id, "broker unreachable too long; command result dropped");
        }
        self.results.push_back(result);
    }

    fn flush_results(&mut self) {
        while let Some(result) = self.results.front() {
            let payload = match self.messages.command_result(result) {
                Ok(p) => p,
                Err(error) => {
                    tracing::error!(%error, id = %result.id, "cannot encode a command result");
                    self.results.pop_front();
                    continue;
                }
            };
            let topic = self.messages.result_topic.clone();
            match self
                .client
                .try_publish(topic, QoS::AtLeastOnce, false, payload)
            {
                Ok(()) => {
                    self.tracker.handed(Sent::Control("cmd-result"));
                    self.results.pop_front();
                }
                Err(error) => {
                    tracing::debug!(%error, "MQTT client queue full; command result later");
                    return;
                }
            }
        }
    }

    fn on_lost(&mut self, error: &str) {
        let unacked = self.tracker.take_unacked();
        let in_flight = unacked.len();
        self.unconfirmed.extend(unacked);
        let mut lost = Dropped::default();
        for (seq, points) in self.evicted.drain() {
            self.unconfirmed.insert(seq);
            lost.add(seq, points);
        }
        self.count_dropped(
            lost,
            "evicted from the full spool while in flight, then the connection was lost",
        );
        let spooled = self.spool.len();
        if self.connected {
            tracing::warn!(%error, in_flight, spooled, "lost the broker connection; spooling batches to disk");
            self.outage = Some(Instant::now());
        } else if self.outage.is_none() {
            tracing::warn!(%error, spooled, "cannot reach the broker; spooling batches to disk and retrying");
            self.outage = Some(Instant::now());
        } else {
            tracing::debug!(%error, "broker still unreachable");
        }
        self.connected = false;
        self.update_gauges();
    }

    /// Hands spooled batches to the client while connected and below the in-flight limit:
    /// live ones first, then backlog ones as far as the replay rate allows at `now`.
    pub(crate) fn flush(&mut self, devices: impl FnOnce() -> Vec<DeviceStatus>, now: Instant) {
        if !self.connected {
            return;
        }
        if self.status_dirty {
            self.publish_status(AgentState::Online, devices());
        }
        self.flush_results();
        while self.tracker.outstanding() < usize::from(MAX_INFLIGHT) {
            let Some(seq) = self.spool.next_unacked(self.live_next, u64::MAX) else {
                break;
            };
            if !self.send(seq, false) {
                return;
            }
            self.live_next = seq + 1;
        }
        while self.tracker.outstanding() < usize::from(MAX_INFLIGHT) {
            let Some(seq) = self.spool.next_unacked(self.backlog_next, self.boundary) else {
                break;
            };
            if !self.pacer.try_take(now) {
                break;
            }
            if !self.send(seq, true) {
                return;
            }
            self.backlog_next = seq + 1;
        }
    }

    /// When [`Session::flush`] should run again for the backlog (none if nothing waits on
    /// the replay rate). Never sooner than [`RETRY_DELAY`] after `now`, so a client queue
    /// that refuses publishes cannot make the forwarder spin.
    pub(crate) fn replay_wakeup(&self, now: Instant) -> Option<Instant> {
        let waiting = self.connected
            && self.tracker.outstanding() < usize::from(MAX_INFLIGHT)
            && self
                .spool
                .next_unacked(self.backlog_next, self.boundary)
                .is_some();
        waiting.then(|| self.pacer.ready_at().max(now + RETRY_DELAY))
    }

    /// Publishes record `seq`; false if the client's queue is full (try again later).
    fn send(&mut self, seq: u64, historical: bool) -> bool {
        let record = match self.spool.read(seq) {
            Ok(Some(r)) => r,
            Ok(None) => return true,
            Err(error) => {
                // Unreadable: skip it rather than stall everything behind it.
                self.spool_error("read", &error);
                return true;
            }
        };
        let payload = if historical {
            match self.messages.historical(&record.payload) {
                Ok(p) => p,
                Err(error) => {
                    tracing::warn!(seq, %error, "cannot re-encode a spooled batch; sending it as stored");
                    record.payload
                }
            }
        } else {
            record.payload
        };
        match self
            .client
            .try_publish(record.topic, QoS::AtLeastOnce, false, payload)
        {
            Ok(()) => {
                metrics::inc(&self.metrics.batches_published);
                if historical {
                    metrics::inc(&self.metrics.batches_resent);
                }
                self.tracker.handed(Sent::Batch(seq));
                true
            }
            Err(error) => {
                tracing::debug!(%error, "MQTT client queue full; retrying later");
                false
            }
        }
    }

    /// Replaces the tag catalogue (a configuration reload) and, if connected, republishes
    /// it and the status; otherwise the next ConnAck publishes them. Nothing spooled or in
    /// flight is touched.
    pub(crate) fn set_catalog(&mut self, tags: Vec<TagMeta>, devices: Vec<DeviceStatus>) {
        self.messages.set_tags(tags);
        if self.connected {
            self.publish_catalog();
            self.publish_status(AgentState::Online, devices);
        }
    }

    fn publish_catalog(&mut self) {
        match self.messages.catalog() {
            Ok(payload) => {
                let topic = self.messages.meta_topic.clone();
                self.publish_control("catalog", topic, payload);
            }
            Err(error) => tracing::error!(%error, "cannot encode the tag catalogue"),
        }
    }

    /// Publishes the retained presence status (if connected).
    pub(crate) fn publish_status(&mut self, state: AgentState, devices: Vec<DeviceStatus>) {
        self.status_dirty = false;
        if !self.connected {
            return;
        }
        let spool = self
            .metrics
            .spool_status(self.spool.len(), self.spool.bytes());
        match self.messages.status(state, devices, Some(spool)) {
            Ok(payload) => {
                let topic = self.messages.status_topic.clone();
                self.publish_control("status", topic, payload);
            }
            Err(error) => tracing::error!(%error, "cannot encode the agent status"),
        }
    }

    fn publish_control(&mut self, what: &'static str, topic: String, payload: Vec<u8>) {
        match self
            .client
            .try_publish(topic, QoS::AtLeastOnce, true, payload)
        {
            Ok(()) => self.tracker.handed(Sent::Control(what)),
            Err(error) => tracing::warn!(%error, what, "cannot queue retained message"),
        }
    }

    /// Periodic upkeep at `now_ns`: drops records past `max_age`, fsyncs (per policy) and
    /// persists the ack floor.
    pub(crate) fn sync(&mut self, now_ns: i64) {
        let expired = self.spool.expire(now_ns);
        self.count_dropped(expired, "older than spool.max_age");
        if self.connected {
            self.report_dropped();
        }
        match self.spool.sync() {
            Ok(()) => self.spool_ok(),
            Err(error) => self.spool_error("sync", &error),
        }
        self.update_gauges();
    }

    /// Whether every batch has been acknowledged.
    pub(crate) fn drained(&self) -> bool {
        self.spool.len() == 0
    }

    /// Batches not yet acknowledged (in the spool).
    pub(crate) fn unsent(&self) -> u64 {
        self.spool.len()
    }

    /// Counts what the spool discarded, except records in flight: those may still be
    /// delivered and are only counted if the connection is lost before their PUBACK.
    fn count_dropped(&mut self, mut dropped: Dropped, why: &'static str) {
        if self.connected {
            dropped.records.retain(|&(seq, points)| {
                if self.tracker.has_batch(seq) {
                    self.evicted.insert(seq, points);
                    false
                } else {
                    true
                }
            });
            dropped.batches = dropped.records.len() as u64;
            dropped.points = dropped.records.iter().map(|r| u64::from(r.1)).sum();
        }
        if dropped.batches == 0 {
            return;
        }
        metrics::add(&self.metrics.batches_dropped_spool, dropped.batches);
        metrics::add(&self.metrics.points_dropped_spool, dropped.points);
        for (seq, points) in &dropped.records {
            if self.unconfirmed.remove(seq) {
                metrics::inc(&self.metrics.batches_dropped_unconfirmed);
                metrics::add(&self.metrics.points_dropped_unconfirmed, u64::from(*points));
            }
        }
        if self.dropped_unreported == 0 {
            tracing::error!(
                reason = why,
                spool_bytes = self.spool.bytes(),
                "spool discarding batches; counting them until the broker is back"
            );
        }
        self.dropped_unreported += dropped.batches;
    }

    fn report_dropped(&mut self) {
        if self.dropped_unreported > 0 {
            tracing::error!(
                dropped = self.dropped_unreported,
                total_dropped = self.metrics.batches_dropped_spool.load(Ordering::Relaxed),
                total_points_dropped = self.metrics.points_dropped_spool.load(Ordering::Relaxed),
                "spool discarded batches (see spool.max_bytes, spool.max_age)"
            );
            self.dropped_unreported = 0;
        }
    }

    fn spool_error(&mut self, op: &'static str, error: &SpoolError) {
        metrics::inc(&self.metrics.spool_errors);
        if !self.spool_failing {
            tracing::error!(op, %error, "spool operation failed");
            self.spool_failing = true;
        }
    }

    fn spool_ok(&mut self) {
        if self.spool_failing {
            tracing::info!("spool operations succeed again");
            self.spool_failing = false;
        }
    }

    fn update_gauges(&self) {
        self.metrics
            .buffered
            .store(self.spool.len(), Ordering::Relaxed);
        self.metrics
            .spool_bytes
            .store(self.spool.bytes(), Ordering::Relaxed);
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
