//! The forwarder task: the only owner of the MQTT client and event loop, the only publisher
//! (batches, catalogue, status, and command results), and the only subscriber (commands).

use std::sync::Arc;
use std::time::Duration;

use protocols::codec::CodecError;
use protocols::model::{AgentState, DeviceStatus, TagMeta, WriteResult};
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
use crate::metrics::Metrics;
use crate::poll::{DeviceBatch, DeviceStates};
use crate::settings::{FsyncPolicy, MqttSettings, Settings};
use crate::spool::Spool;

/// Capacity of the event channel from the pump task (it waits when full).
const EVENT_CHANNEL_CAPACITY: usize = 256;
/// Room in rumqttc's request channel beyond the in-flight limit (status, catalogue,
/// disconnect), so `try_publish` never finds it full.
const CLIENT_CHANNEL_SPARE: usize = 16;
/// How long to wait for the DISCONNECT to go out at the end of shutdown.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How often the spool's ack floor is persisted (and `max_age` applied) when the fsync
/// policy sets no interval.
const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// Why the forwarder stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The Last Will could not be encoded (a bug).
    #[error("cannot encode the Last Will status: {0}")]
    Will(#[source] CodecError),
    /// `run` was called twice (a bug).
    #[error("the forwarder was already run")]
    AlreadyRun,
    /// The MQTT event loop task ended unexpectedly.
    #[error("the MQTT event loop task stopped unexpectedly")]
    EventLoopStopped,
}

/// Receives batches from the pollers, spools them and publishes them to the broker.
#[derive(Debug)]
pub struct Forwarder {
    mqtt: MqttSettings,
    messages: Messages,
    /// Moved into the session when running.
    spool: Option<Spool>,
    sync_interval: Duration,
    replay_rate: u32,
    input: mpsc::Receiver<DeviceBatch>,
    states: watch::Receiver<Vec<DeviceStatus>>,
    metrics: Arc<Metrics>,
    grace: Duration,
    /// New catalogue tags after a configuration reload.
    catalog: Option<watch::Receiver<Vec<TagMeta>>>,
    /// Writes enabled: command payloads out, results in.
    commands: Option<(mpsc::Sender<Vec<u8>>, mpsc::Receiver<WriteResult>)>,
}

impl Forwarder {
    /// A forwarder for `settings`, reading batches from `input` into `spool` (whose session
    /// id its messages carry).
    pub fn new(
        settings: &Settings,
        spool: Spool,
        input: mpsc::Receiver<DeviceBatch>,
        states: &DeviceStates,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            mqtt: settings.mqtt.clone(),
            messages: Messages::new(settings, spool.session()),
            spool: Some(spool),
            sync_interval: match settings.spool.fsync {
                FsyncPolicy::Interval(every) => every,
                FsyncPolicy::Always | FsyncPolicy::Never => DEFAULT_SYNC_INTERVAL,
            },
            replay_rate: settings.spool.replay_rate,
            input,
            states: states.subscribe(),
            metrics,
            grace: settings.agent.shutdown_grace,
            catalog: None,
            commands: None,
        }
    }

    /// Subscribes to the agent's command topic: received payloads go to `commands` (the
    /// command dispatcher), and the results it sends back on `results` are published on
    /// the command-result topic.
    #[must_use]
    pub fn with_commands(
        mut self,
        commands: mpsc::Sender<Vec<u8>>,
        results: mpsc::Receiver<WriteResult>,
    ) -> Self {
        self.commands = Some((commands, results));
        self
    }

    /// Republishes the tag catalogue (and status) whenever `catalog` changes: a reload
    /// changed the devices. Nothing else about the forwarder changes.
    #[must_use]
    pub fn with_catalog_updates(mut self, catalog: watch::Receiver<Vec<TagMeta>>) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// Publishes until `cancel` fires, then flushes for at most the grace period, publishes
    /// the offline status and disconnects. The spool is synced last.
    pub async fn run(mut self, cancel: CancellationToken) -> Result<(), ForwardError> {
        let Some(spool) = self.spool.take() else {
            return Err(ForwardError::AlreadyRun);
        };
        let will = self
            .messages
            .status(AgentState::Offline, Vec::new(), None)
            .map_err(ForwardError::Will)?;
        let options = mqtt_options(&self.mqtt, &self.messages.status_topic, will);
        let capacity = usize::from(MAX_INFLIGHT) + CLIENT_CHANNEL_SPARE;
        let (client, mut eventloop) = AsyncClient::new(options, capacity);
        // Small packets (command results, the PUBACK of a command, status) would otherwise
        // wait for Nagle + the broker's delayed ACK: about 40 ms each way on Linux.
        let mut network = rumqttc::NetworkOptions::new();
        network.set_tcp_nodelay(true);
        eventloop.set_network_options(network);
        let (event_tx, mut events) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
        let backoff = Backoff::new(self.mqtt.reconnect, backoff::seed(u64::MAX));
        let pump = tokio::spawn(pump::drive(eventloop, event_tx, backoff).in_current_span());
        tracing::info!(broker = %format!("{}:{}", self.mqtt.host, self.mqtt.port), client_id = %self.mqtt.client_id, "forwarder started");

        let mut s = Session::new(
            client,
            self.messages.clone(),
            Arc::clone(&self.metrics),
            spool,
            self.replay_rate,
        );
        let mut sync = tokio::time::interval(self.sync_interval);
        sync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The retained status carries the spool depth and drop counts: keep it current.
        let mut status = tokio::time::interval(self.mqtt.status_interval);
        status.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut results = match self.commands.take() {
            Some((commands, results)) => {
                s.set_commands(commands);
                Some(results)
            }
            None => None,
        };
        let mut input_open = true;
        let result = loop {
            let replay = s.replay_wakeup(Instant::now());
            tokio::select! {
                biased;
                () = cancel.cancelled() => break Ok(()),
                event = events.recv() => match event {
                    Some(e) => s.on_event(e, self.states.borrow().clone()),
                    None => break Err(ForwardError::EventLoopStopped),
                },
                batch = self.input.recv(), if input_open => match batch {
                    Some(b) => s.enqueue(b, protocols::model::now_ns()),
                    None => input_open = false,
                },
                Ok(()) = self.states.changed() => s.status_dirty = true,
                result = next_result(&mut results) => s.push_result(result),
                tags = next_catalog(&mut self.catalog) => {
                    s.set_catalog(tags, self.states.borrow().clone());
                }
                _ = sync.tick() => s.sync(protocols::model::now_ns()),
                _ = status.tick() => s.status_dirty = true,
                () = sleep_until_some(replay) => {}
            }
            s.flush(|| self.states.borrow().clone(), Instant::now());
        };
        if result.is_ok() {
            self.shut_down(&mut s, &mut events).await;
        } else {
            s.sync(protocols::model::now_ns());
        }
        pump.abort();
        result
    }

    /// Drains the pollers' channel into the spool and fsyncs it, flushes to the broker
    /// within the grace period, then goes offline. What the broker has not acknowledged
    /// stays in the spool for the next start.
    async fn shut_down(&mut self, s: &mut Session, events: &mut mpsc::Receiver<MqttEvent>) {
        while let Ok(batch) = self.input.try_recv() {
            s.enqueue(batch, protocols::model::now_ns());
        }
        s.sync(protocols::model::now_ns());
        let deadline = Instant::now() + self.grace;
        tracing::info!(unsent = s.unsent(), grace = ?self.grace, "flushing before shutdown");
        while !s.drained() && s.connected {
            s.flush(|| self.states.borrow().clone(), Instant::now());
            let replay = s.replay_wakeup(Instant::now());
            tokio::select! {
                event = events.recv() => match event {
                    Some(e) => s.on_event(e, self.states.borrow().clone()),
                    None => break,
                },
                () = sleep_until_some(replay) => {}
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        s.sync(protocols::model::now_ns());
        let kept = s.unsent();
        if kept > 0 {
            tracing::warn!(
                kept,
                spool_bytes = s.spool.bytes(),
                "batches not acknowledged by the broker; kept in the spool for the next start"
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
        // PUBACKs that came in while disconnecting move the ack floor once more.
        s.sync(protocols::model::now_ns());
        tracing::info!(
            disconnected = s.closed,
            spooled = s.unsent(),
            "forwarder stopped"
        );
    }
}

/// The next catalogue after a reload; never completes without a (live) receiver.
async fn next_catalog(catalog: &mut Option<watch::Receiver<Vec<TagMeta>>>) -> Vec<TagMeta> {
    if let Some(rx) = catalog {
        if rx.changed().await.is_ok() {
            return rx.borrow_and_update().clone();
        }
        *catalog = None;
    }
    std::future::pending().await
}

/// The next command result; never completes without a (live) receiver.
async fn next_result(results: &mut Option<mpsc::Receiver<WriteResult>>) -> WriteResult {
    if let Some(rx) = results {
        if let Some(r) = rx.recv().await {
            return r;
        }
        *results = None;
    }
    std::future::pending().await
}

/// Sleeps until `at`, or forever when `None`.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
