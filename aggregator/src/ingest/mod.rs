//! Ingest: MQTT messages in, committed rows and acks out.
//!
//! ```text
//! broker ──publish──▶ MqttIngest ──WriterInput (bounded)──▶ StoreWriter ──▶ Store (1 tx)
//!    ▲                    │  status → AgentTable                 │ cache ← committed points
//!    └──────PUBACK────────┴◀──────── tickets (bounded) ──────────┘
//! ```
//! Both queues are bounded and both stages wait when full (nothing is dropped in between);
//! the broker's in-flight window is the final bound. The embedded and an external broker
//! take the same path.
//!
//! Both tasks are critical: [`spawn`] returns their join handles so the app can supervise
//! them (`crate::supervise`), and each holds a guard that marks [`IngestHealth`] down when
//! it ends.

mod acks;
mod batcher;
mod classify;
mod health;
mod mqtt;
mod publish;
mod seq;
mod skew;
mod subscribe;
mod warn_once;
mod writer;

pub(crate) use health::IngestHealth;
pub(crate) use skew::FutureSkew;

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, MqttOptions};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::agents::AgentTable;
use crate::cache::LatestCache;
use crate::config::{IngestSettings, MqttSettings, StorageSettings};
use crate::directory::TagDirectory;
use crate::live::LiveHub;
use crate::metrics::Metrics;
use crate::store::Store;

/// Messages the MQTT task may queue for the writer before it waits (each one a whole batch).
const INGEST_QUEUE_CAPACITY: usize = 256;
/// Committed ticket lists the writer may queue before it waits.
const ACK_QUEUE_CAPACITY: usize = 64;
/// rumqttc request queue (acks, subscriptions): above any broker's in-flight window.
const MQTT_REQUEST_CAPACITY: usize = 1024;
/// Largest packet accepted: the codec's payload limit plus room for topic and header.
const MQTT_MAX_PACKET_BYTES: usize = protocols::codec::MAX_PAYLOAD_BYTES + 64 * 1024;
const MQTT_KEEP_ALIVE: Duration = Duration::from_secs(30);

/// What ingest needs from the rest of the aggregator.
pub(crate) struct IngestContext {
    pub(crate) store: Store,
    pub(crate) cache: Arc<LatestCache>,
    pub(crate) directory: Arc<TagDirectory>,
    pub(crate) live: Arc<LiveHub>,
    pub(crate) alarms: Arc<crate::alarms::Alarms>,
    pub(crate) agents: Arc<AgentTable>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) health: Arc<IngestHealth>,
}

/// Where the broker is.
#[derive(Debug, Clone)]
pub(crate) struct BrokerEndpoint {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// For logs: the address or URL.
    pub(crate) label: String,
}

/// `cancel` starts a graceful stop; `abort` ends the tasks at once (grace period over).
#[derive(Debug, Clone)]
pub(crate) struct Stop {
    pub(crate) cancel: CancellationToken,
    pub(crate) abort: CancellationToken,
}

/// The running ingest.
pub(crate) struct Spawned {
    /// Fires on the broker's first SUBACK: `Ok` when granted, `Err` naming refused filters
    /// (ingest keeps retrying them).
    pub(crate) subscribed: oneshot::Receiver<Result<(), String>>,
    /// The storage writer task.
    pub(crate) writer: JoinHandle<()>,
    /// The MQTT task.
    pub(crate) mqtt: JoinHandle<()>,
}

/// Spawns the writer and the MQTT task on `tracker`.
pub(crate) fn spawn(
    tracker: &TaskTracker,
    settings: (&MqttSettings, &IngestSettings, &StorageSettings),
    broker: BrokerEndpoint,
    ctx: IngestContext,
    stop: Stop,
) -> Spawned {
    let (mqtt_settings, ingest_settings, storage) = settings;
    let skew = FutureSkew::new(ingest_settings.max_future_skew);
    let mut options = MqttOptions::new(mqtt_settings.client_id.clone(), broker.host, broker.port);
    options
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(MQTT_KEEP_ALIVE)
        .set_max_packet_size(MQTT_MAX_PACKET_BYTES, MQTT_MAX_PACKET_BYTES);
    let (client, eventloop) = AsyncClient::new(options, MQTT_REQUEST_CAPACITY);
    let (input_tx, input_rx) = mpsc::channel(INGEST_QUEUE_CAPACITY);
    let (ack_tx, ack_rx) = mpsc::channel(ACK_QUEUE_CAPACITY);
    let (subscribed_tx, subscribed_rx) = oneshot::channel();

    let writer = writer::StoreWriter {
        store: ctx.store,
        cache: ctx.cache,
        directory: ctx.directory,
        live: ctx.live,
        alarms: ctx.alarms,
        metrics: ctx.metrics.clone(),
        input: input_rx,
        acks: ack_tx,
        batcher: batcher::Batcher::new(batcher::BatchLimits {
            max_points: storage.max_batch_points,
            max_messages: storage.max_batch_messages,
            max_delay: storage.max_batch_delay,
        }),
        write_timeout: storage.write_timeout,
        skew,
        _guard: ctx.health.task_guard(),
        state: writer::WriterState::default(),
    };
    let writer = tracker.spawn(
        writer
            .run(stop.abort.clone())
            .instrument(tracing::info_span!("writer")),
    );

    let ingest = mqtt::MqttIngest {
        eventloop,
        core: mqtt::IngestCore {
            client,
            to_writer: Some(input_tx),
            acks: ack_rx,
            agents: ctx.agents,
            metrics: ctx.metrics,
            subscribed: Some(subscribed_tx),
            broker: broker.label,
            health: ctx.health,
            skew,
            b: mqtt::Bookkeeping::default(),
        },
    };
    let mqtt = tracker.spawn(
        ingest
            .run(stop.cancel, stop.abort)
            .instrument(tracing::info_span!("mqtt_ingest", client_id = %mqtt_settings.client_id)),
    );
    Spawned {
        subscribed: subscribed_rx,
        writer,
        mqtt,
    }
}
