//! The forwarder task: the only owner of the MQTT client and event loop, the only publisher.

use std::sync::Arc;
use std::time::Duration;

use protocols::codec::CodecError;
use protocols::model::{AgentState, DeviceStatus};
use rumqttc::AsyncClient;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::messages::Messages;
use super::options::{MAX_INFLIGHT, mqtt_options};
use super::pump::{self, MqttEvent};
use super::session::Session;
use crate::backoff::{self, Backoff};
use crate::metrics::{self, Metrics};
use crate::poll::{DeviceBatch, DeviceStates};
use crate::settings::{MqttSettings, Settings};

/// Capacity of the event channel from the pump task (it waits when full).
const EVENT_CHANNEL_CAPACITY: usize = 256;
/// Room in rumqttc's request channel beyond the in-flight limit (status, catalogue,
/// disconnect), so `try_publish` never finds it full.
const CLIENT_CHANNEL_SPARE: usize = 16;
/// How long to wait for the DISCONNECT to go out at the end of shutdown.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Why the forwarder stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The Last Will could not be encoded (a bug).
    #[error("cannot encode the Last Will status: {0}")]
    Will(#[source] CodecError),
    /// The MQTT event loop task ended unexpectedly.
    #[error("the MQTT event loop task stopped unexpectedly")]
    EventLoopStopped,
}

/// Receives batches from the pollers and publishes them to the broker.
#[derive(Debug)]
pub struct Forwarder {
    mqtt: MqttSettings,
    messages: Messages,
    input: mpsc::Receiver<DeviceBatch>,
    states: watch::Receiver<Vec<DeviceStatus>>,
    metrics: Arc<Metrics>,
    grace: Duration,
}

impl Forwarder {
    /// A forwarder for `settings`, reading batches from `input`. `session` identifies this
    /// run of the agent.
    pub fn new(
        settings: &Settings,
        session: u64,
        input: mpsc::Receiver<DeviceBatch>,
        states: &DeviceStates,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            mqtt: settings.mqtt.clone(),
            messages: Messages::new(settings, session),
            input,
            states: states.subscribe(),
            metrics,
            grace: settings.agent.shutdown_grace,
        }
    }

    /// Publishes until `cancel` fires, then flushes for at most the grace period, publishes
    /// the offline status and disconnects.
    pub async fn run(mut self, cancel: CancellationToken) -> Result<(), ForwardError> {
        let will = self
            .messages
            .status(AgentState::Offline, Vec::new())
            .map_err(ForwardError::Will)?;
        let options = mqtt_options(&self.mqtt, &self.messages.status_topic, will);
        let capacity = usize::from(MAX_INFLIGHT) + CLIENT_CHANNEL_SPARE;
        let (client, eventloop) = AsyncClient::new(options, capacity);
        let (event_tx, mut events) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
        let backoff = Backoff::new(self.mqtt.reconnect, backoff::seed(u64::MAX));
        let pump = tokio::spawn(pump::drive(eventloop, event_tx, backoff).in_current_span());
        tracing::info!(broker = %format!("{}:{}", self.mqtt.host, self.mqtt.port), client_id = %self.mqtt.client_id, "forwarder started");

        let mut s = Session::new(
            client,
            self.messages.clone(),
            Arc::clone(&self.metrics),
            self.mqtt.max_buffered_batches,
        );
        let mut input_open = true;
        let result = loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => break Ok(()),
                event = events.recv() => match event {
                    Some(e) => s.on_event(e, self.states.borrow().clone()),
                    None => break Err(ForwardError::EventLoopStopped),
                },
                batch = self.input.recv(), if input_open => match batch {
                    Some(b) => s.enqueue(b),
                    None => input_open = false,
                },
                Ok(()) = self.states.changed() => s.status_dirty = true,
            }
            s.flush(|| self.states.borrow().clone());
        };
        if result.is_ok() {
            self.shut_down(&mut s, &mut events).await;
        }
        pump.abort();
        result
    }

    /// Drains the pollers' channel, flushes within the grace period, then goes offline.
    async fn shut_down(&mut self, s: &mut Session, events: &mut mpsc::Receiver<MqttEvent>) {
        while let Ok(batch) = self.input.try_recv() {
            s.enqueue(batch);
        }
        let deadline = Instant::now() + self.grace;
        tracing::info!(unsent = s.unsent(), grace = ?self.grace, "flushing before shutdown");
        while !s.drained() {
            s.flush(|| self.states.borrow().clone());
            tokio::select! {
                event = events.recv() => match event {
                    Some(e) => s.on_event(e, self.states.borrow().clone()),
                    None => break,
                },
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        let lost = s.unsent();
        if lost > 0 {
            metrics::add(&self.metrics.batches_dropped_shutdown, lost as u64);
            tracing::error!(
                lost,
                "shutdown grace period over with batches unacknowledged; they are lost"
            );
        }
        if s.connected {
            s.publish_status(AgentState::Offline, self.states.borrow().clone());
            if let Err(error) = s.client.try_disconnect() {
                tracing::warn!(%error, "cannot queue DISCONNECT");
            }
            let until = Instant::now() + DISCONNECT_TIMEOUT;
            while !s.closed {
                tokio::select! {
                    event = events.recv() => match event {
                        Some(e) => s.on_event(e, Vec::new()),
                        None => break,
                    },
                    () = tokio::time::sleep_until(until) => break,
                }
            }
        }
        tracing::info!(disconnected = s.closed, "forwarder stopped");
    }
}
