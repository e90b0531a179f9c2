//! The MQTT side of ingest: one rumqttc client with a persistent session and manual acks.
//!
//! This task owns the event loop, the [`AckTracker`] and the per-message bookkeeping. It
//! subscribes (QoS 1) to every data, meta and status topic on each connect (retrying
//! refused filters, see `subscribe.rs`), classifies each publish, handles status messages
//! itself, forwards batches and catalogues to the writer over a bounded queue (waiting when
//! it is full), and acks messages in arrival order once the writer reports them committed
//! (`publish.rs`). Rejected messages are counted, warned about once per topic, and acked so
//! the broker does not re-deliver them forever. Connection and subscription state go to
//! the shared [`IngestHealth`].
//!
//! While the writer queue is full (storage slow or down) the event loop is not polled, so
//! no keep-alive goes out; after 1.5 × the keep-alive the broker drops the connection and
//! re-delivers everything unacked after the reconnect. Nothing is lost; writes are idempotent.
//!
//! Shutdown: on `cancel` it stops taking messages (later ones stay unacked and come back on
//! the next start), closes the writer queue, keeps the connection up until the writer's
//! last acks are sent, then disconnects cleanly. `abort` ends it at once.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, Incoming, Outgoing, Publish, QoS,
    SubscribeFilter,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::acks::{AckTracker, Ticket};
use super::batcher::WriterInput;
use super::health::IngestHealth;
use super::seq::SeqTracker;
use super::skew::FutureSkew;
use super::subscribe::{SubAckOutcome, Subscriptions};
use super::warn_once::WarnOnce;
use crate::agents::AgentTable;
use crate::backoff::Backoff;
use crate::metrics::Metrics;

const RECONNECT_BASE: Duration = Duration::from_millis(100);
const RECONNECT_CAP: Duration = Duration::from_secs(10);
/// How long a clean disconnect may take at shutdown.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The MQTT ingest task: the event loop plus everything else.
pub(crate) struct MqttIngest {
    pub(crate) eventloop: EventLoop,
    pub(crate) core: IngestCore,
}

/// Everything but the event loop, so a pending `poll()` (which borrows the event loop) can
/// live across other work.
pub(crate) struct IngestCore {
    pub(crate) client: AsyncClient,
    pub(crate) to_writer: Option<mpsc::Sender<WriterInput>>,
    pub(crate) acks: mpsc::Receiver<Vec<Ticket>>,
    pub(crate) agents: Arc<AgentTable>,
    pub(crate) metrics: Arc<Metrics>,
    /// Fires on the first SUBACK: `Err` naming the refused filters.
    pub(crate) subscribed: Option<oneshot::Sender<Result<(), String>>>,
    pub(crate) broker: String,
    pub(crate) health: Arc<IngestHealth>,
    pub(crate) skew: FutureSkew,
    pub(crate) b: Bookkeeping,
}

/// Mutable state of a running ingest, apart from the connection handles.
#[derive(Default)]
pub(crate) struct Bookkeeping {
    pub(super) tracker: AckTracker<Publish>,
    unsent: VecDeque<Publish>,
    pub(super) warned: WarnOnce,
    /// Agents already warned about future timestamps.
    pub(super) future_warned: WarnOnce,
    pub(super) seq: SeqTracker,
    pub(super) acks_closed: bool,
    connected: bool,
    subs: Subscriptions,
}

impl MqttIngest {
    /// The `poll()` future is kept alive while acks arrive instead of being dropped and
    /// recreated: rumqttc may have taken a queued PUBACK off its request queue and not yet
    /// written it when the future is dropped, and a lost PUBACK makes the next one out of
    /// order (rumqttd then drops the connection).
    pub(crate) async fn run(self, cancel: CancellationToken, abort: CancellationToken) {
        let MqttIngest {
            mut eventloop,
            mut core,
        } = self;
        let _down_when_done = core.health.task_guard();
        let mut backoff = Backoff::new(RECONNECT_BASE, RECONNECT_CAP);
        'outer: loop {
            let event = {
                let poll = eventloop.poll();
                tokio::pin!(poll);
                loop {
                    core.flush_acks();
                    if core.finished() {
                        break 'outer;
                    }
                    let retry = core.b.subs.retry_at();
                    tokio::select! {
                        biased;
                        () = abort.cancelled() => return,
                        () = cancel.cancelled(), if core.to_writer.is_some() => core.stop_taking(),
                        acks = core.acks.recv(), if !core.b.acks_closed => core.complete(acks),
                        () = tokio::time::sleep_until(retry.unwrap_or_else(Instant::now)), if retry.is_some() => {
                            let filters = core.b.subs.take_retry();
                            core.subscribe(filters);
                        }
                        event = &mut poll => break event,
                    }
                }
            };
            match event {
                Ok(event) => {
                    if matches!(event, Event::Incoming(Incoming::ConnAck(_))) {
                        backoff.reset();
                    }
                    core.on_event(event, &cancel).await;
                }
                Err(e) => {
                    if core.to_writer.is_none() {
                        tracing::info!(error = %e, "MQTT connection ended during shutdown; unacked messages will be re-delivered");
                        return;
                    }
                    // Publishes read before the failure but not yet yielded stay in
                    // rumqttc's event queue across the reconnect; they must not be acked on
                    // the next connection (the broker re-delivers them with new packet ids).
                    eventloop.state.events.clear();
                    core.on_error(&e);
                    tokio::select! {
                        () = abort.cancelled() => return,
                        () = tokio::time::sleep(backoff.next_delay()) => {}
                    }
                }
            }
        }
        disconnect(&core.client, &mut eventloop).await;
    }
}

impl IngestCore {
    /// Shutdown is complete: no writer, its last acks handed to the client.
    fn finished(&self) -> bool {
        self.to_writer.is_none() && self.b.acks_closed && self.b.unsent.is_empty()
    }

    pub(super) fn stop_taking(&mut self) {
        tracing::info!(
            pending_acks = self.b.tracker.pending(),
            "ingest stopping; flushing the writer"
        );
        self.to_writer = None;
    }

    pub(super) fn complete(&mut self, acks: Option<Vec<Ticket>>) {
        match acks {
            Some(tickets) => tickets.into_iter().for_each(|t| self.b.tracker.complete(t)),
            None => self.b.acks_closed = true,
        }
    }

    fn subscribe(&mut self, filters: Vec<&'static str>) {
        tracing::debug!(?filters, "subscribing");
        let request = filters
            .iter()
            .map(|f| SubscribeFilter::new((*f).to_owned(), QoS::AtLeastOnce));
        if let Err(e) = self.client.try_subscribe_many(request) {
            tracing::error!(error = %e, ?filters, "could not queue the MQTT subscription; retrying");
            self.b.subs.queue_failed(Instant::now());
        }
    }

    /// Hands every releasable ack to the client, in order, as far as its queue allows.
    pub(super) fn flush_acks(&mut self) {
        let b = &mut self.b;
        b.unsent.extend(b.tracker.pop_ready());
        while let Some(publish) = b.unsent.front() {
            if self.client.try_ack(publish).is_err() {
                break; // request queue full: retry after the event loop drains it
            }
            b.unsent.pop_front();
        }
    }

    fn on_error(&mut self, e: &ConnectionError) {
        let b = &mut self.b;
        let dropped = b.tracker.reset() + b.unsent.len();
        b.unsent.clear();
        b.subs.on_disconnect();
        self.health.disconnected(std::time::Instant::now());
        if b.connected {
            tracing::warn!(broker = %self.broker, error = %e, unacked = dropped, "MQTT connection lost; reconnecting");
            b.connected = false;
        } else {
            tracing::debug!(broker = %self.broker, error = %e, "MQTT connect failed; retrying");
        }
    }

    async fn on_event(&mut self, event: Event, cancel: &CancellationToken) {
        match event {
            Event::Incoming(Incoming::ConnAck(ack)) => {
                self.b.connected = true;
                self.b.tracker.reset();
                self.b.unsent.clear();
                self.metrics.mqtt_connects.inc();
                self.health.connected();
                tracing::info!(broker = %self.broker, session_present = ack.session_present, "MQTT connected");
                let filters = self.b.subs.on_connect();
                self.subscribe(filters);
            }
            Event::Incoming(Incoming::SubAck(ack)) => {
                match self.b.subs.on_suback(&ack.return_codes, Instant::now()) {
                    SubAckOutcome::Granted => {
                        self.health.subscription_refused(false);
                        if let Some(tx) = self.subscribed.take() {
                            let _ = tx.send(Ok(()));
                        }
                    }
                    SubAckOutcome::Refused(filters) => {
                        self.health.subscription_refused(true);
                        let retry_in = self
                            .b
                            .subs
                            .retry_at()
                            .map(|t| t.saturating_duration_since(Instant::now()));
                        tracing::error!(broker = %self.broker, ?filters, ?retry_in,
                            "broker refused the subscription; no messages arrive on these topics until it is granted");
                        if let Some(tx) = self.subscribed.take() {
                            let _ = tx.send(Err(filters.join(", ")));
                        }
                    }
                    SubAckOutcome::Unexpected => {
                        tracing::debug!(pkid = ack.pkid, "SUBACK for no pending subscription");
                    }
                }
            }
            Event::Incoming(Incoming::Publish(p)) => self.on_publish(p, cancel).await,
            _ => {}
        }
    }
}

/// Sends DISCONNECT after the queued acks and polls until it is out.
async fn disconnect(client: &AsyncClient, eventloop: &mut EventLoop) {
    if client.try_disconnect().is_err() {
        return;
    }
    let drain = async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    if tokio::time::timeout(DISCONNECT_TIMEOUT, drain)
        .await
        .is_err()
    {
        tracing::warn!("MQTT disconnect timed out");
    } else {
        tracing::info!("MQTT disconnected");
    }
}
