//! The forwarder's state between events: the backlog, what is in flight, the broker
//! connection state, and the decisions on each event. Owned by one task; no locks.

use std::sync::Arc;
use std::time::Instant;

use protocols::model::{AgentState, DeviceStatus};
use rumqttc::{AsyncClient, QoS};

use super::buffer::MemoryBuffer;
use super::inflight::{AckTracker, Sent};
use super::messages::Messages;
use super::options::MAX_INFLIGHT;
use super::pump::MqttEvent;
use super::record::Record;
use crate::metrics::{self, Metrics};
use crate::poll::DeviceBatch;

/// Publishing state.
pub(crate) struct Session {
    pub(crate) client: AsyncClient,
    pub(crate) messages: Messages,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) buffer: MemoryBuffer,
    pub(crate) tracker: AckTracker,
    pub(crate) connected: bool,
    /// The DISCONNECT went out.
    pub(crate) closed: bool,
    /// The status must be republished (a device changed state).
    pub(crate) status_dirty: bool,
    next_seq: u64,
    ever_connected: bool,
    /// Start of the current broker outage.
    outage: Option<Instant>,
    /// Batches dropped from the full buffer during the current outage.
    dropped_in_outage: u64,
}

impl Session {
    pub(crate) fn new(
        client: AsyncClient,
        messages: Messages,
        metrics: Arc<Metrics>,
        capacity: usize,
    ) -> Self {
        Self {
            client,
            messages,
            metrics,
            buffer: MemoryBuffer::new(capacity),
            tracker: AckTracker::default(),
            connected: false,
            closed: false,
            status_dirty: false,
            next_seq: 0,
            ever_connected: false,
            outage: None,
            dropped_in_outage: 0,
        }
    }

    /// Encodes a poller's batch with the next sequence number and buffers it.
    pub(crate) fn enqueue(&mut self, batch: DeviceBatch) {
        let asset = batch.asset.clone();
        match self.messages.batch(self.next_seq, batch) {
            Ok(record) => {
                self.next_seq += 1;
                let dropped = self.buffer.push(record);
                self.count_dropped(dropped);
            }
            Err(error) => {
                metrics::inc(&self.metrics.encode_errors);
                tracing::error!(%asset, %error, "cannot encode batch; dropped");
            }
        }
        self.update_gauge();
    }

    /// Applies one event from the MQTT event loop.
    pub(crate) fn on_event(&mut self, event: MqttEvent, devices: Vec<DeviceStatus>) {
        match event {
            MqttEvent::Connected => self.on_connected(devices),
            MqttEvent::Outgoing(pkid) => self.tracker.outgoing(pkid),
            MqttEvent::PubAck(pkid) => {
                if let Some(Sent::Batch(_)) = self.tracker.acked(pkid) {
                    metrics::inc(&self.metrics.batches_acked);
                }
            }
            MqttEvent::Lost { error, resume } => {
                self.on_lost(&error);
                let _ = resume.send(());
            }
            MqttEvent::Closed => self.closed = true,
        }
    }

    fn on_connected(&mut self, devices: Vec<DeviceStatus>) {
        self.connected = true;
        match self.outage.take() {
            Some(since) if self.ever_connected => tracing::info!(
                outage = %crate::logging::human(since.elapsed()),
                buffered = self.buffer.len(),
                "broker connection restored"
            ),
            _ => tracing::info!(buffered = self.buffer.len(), "connected to broker"),
        }
        self.ever_connected = true;
        if self.dropped_in_outage > 0 {
            tracing::error!(
                dropped = self.dropped_in_outage,
                "in-memory buffer overflowed during the broker outage; the oldest batches were lost"
            );
            self.dropped_in_outage = 0;
        }
        match self.messages.catalog() {
            Ok(payload) => {
                let topic = self.messages.meta_topic.clone();
                self.publish_control("catalog", topic, payload);
            }
            Err(error) => tracing::error!(%error, "cannot encode the tag catalogue"),
        }
        self.publish_status(AgentState::Online, devices);
    }

    fn on_lost(&mut self, error: &str) {
        let back: Vec<Record> = self
            .tracker
            .take_unacked()
            .into_iter()
            .map(|r| Record { resend: true, ..r })
            .collect();
        let resending = back.len();
        let dropped = self.buffer.requeue(back);
        self.count_dropped(dropped);
        if self.connected {
            tracing::warn!(%error, resending, buffered = self.buffer.len(), "lost the broker connection; buffering batches in memory");
            self.outage = Some(Instant::now());
        } else if self.outage.is_none() {
            tracing::warn!(%error, "cannot reach the broker; buffering batches in memory and retrying");
            self.outage = Some(Instant::now());
        } else {
            tracing::debug!(%error, "broker still unreachable");
        }
        self.connected = false;
        self.update_gauge();
    }

    /// Hands buffered batches to the client while connected and below the in-flight limit.
    pub(crate) fn flush(&mut self, devices: impl FnOnce() -> Vec<DeviceStatus>) {
        if !self.connected {
            return;
        }
        if self.status_dirty {
            self.publish_status(AgentState::Online, devices());
        }
        while self.tracker.outstanding() < usize::from(MAX_INFLIGHT) {
            let Some(record) = self.buffer.pop() else {
                break;
            };
            let (topic, payload) = (record.topic.clone(), record.payload.clone());
            match self
                .client
                .try_publish(topic, QoS::AtLeastOnce, false, payload)
            {
                Ok(()) => {
                    metrics::inc(&self.metrics.batches_published);
                    if record.resend {
                        metrics::inc(&self.metrics.batches_resent);
                    }
                    self.tracker.handed(Sent::Batch(record));
                }
                Err(error) => {
                    tracing::debug!(%error, "MQTT client queue full; retrying later");
                    self.buffer.unpop(record);
                    break;
                }
            }
        }
        self.update_gauge();
    }

    /// Publishes the retained presence status (if connected).
    pub(crate) fn publish_status(&mut self, state: AgentState, devices: Vec<DeviceStatus>) {
        self.status_dirty = false;
        if !self.connected {
            return;
        }
        match self.messages.status(state, devices) {
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

    /// Whether every batch has been handed over and acknowledged.
    pub(crate) fn drained(&self) -> bool {
        self.buffer.is_empty() && self.tracker.outstanding_batches() == 0
    }

    /// Batches not yet acknowledged (buffered or in flight).
    pub(crate) fn unsent(&self) -> usize {
        self.buffer.len() + self.tracker.outstanding_batches()
    }

    fn count_dropped(&mut self, dropped: usize) {
        if dropped == 0 {
            return;
        }
        metrics::add(&self.metrics.batches_dropped_buffer, dropped as u64);
        if self.dropped_in_outage == 0 {
            tracing::error!(
                capacity = self.buffer.len(),
                "in-memory buffer full (mqtt.max_buffered_batches); dropping the oldest batches until the broker is back"
            );
        }
        self.dropped_in_outage += dropped as u64;
    }

    fn update_gauge(&self) {
        self.metrics.buffered.store(
            self.buffer.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
