//! The MQTT side of ingest: one rumqttc client with a persistent session and manual acks.
//!
//! This task owns the event loop, the [`AckTracker`] and the per-message bookkeeping. It
//! subscribes (QoS 1) to every data, meta and status topic on each connect, classifies each
//! publish, handles status messages itself, forwards batches and catalogues to the writer
//! over a bounded queue (waiting when it is full), and acks messages in arrival order once
//! the writer reports them committed. Rejected messages are counted, warned about once per
//! topic, and acked so the broker does not re-deliver them forever.
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

use protocols::model::now_ns;
use protocols::topic::{FILTER_ALL_DATA, FILTER_ALL_META, FILTER_ALL_STATUS};
use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, Incoming, Outgoing, Publish, QoS,
    SubscribeFilter, SubscribeReasonCode,
};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::acks::{AckTracker, Ticket};
use super::batcher::WriterInput;
use super::classify::{Inbound, classify};
use super::seq::SeqTracker;
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
    pub(crate) subscribed: Option<oneshot::Sender<()>>,
    pub(crate) broker: String,
    pub(crate) b: Bookkeeping,
}

/// Mutable state of a running ingest, apart from the connection handles.
#[derive(Default)]
pub(crate) struct Bookkeeping {
    tracker: AckTracker<Publish>,
    unsent: VecDeque<Publish>,
    warned: WarnOnce,
    seq: SeqTracker,
    acks_closed: bool,
    connected: bool,
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
                    tokio::select! {
                        biased;
                        () = abort.cancelled() => return,
                        () = cancel.cancelled(), if core.to_writer.is_some() => core.stop_taking(),
                        acks = core.acks.recv(), if !core.b.acks_closed => core.complete(acks),
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

    fn stop_taking(&mut self) {
        tracing::info!(
            pending_acks = self.b.tracker.pending(),
            "ingest stopping; flushing the writer"
        );
        self.to_writer = None;
    }

    fn complete(&mut self, acks: Option<Vec<Ticket>>) {
        match acks {
            Some(tickets) => tickets.into_iter().for_each(|t| self.b.tracker.complete(t)),
            None => self.b.acks_closed = true,
        }
    }

    /// Hands every releasable ack to the client, in order, as far as its queue allows.
    fn flush_acks(&mut self) {
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
                tracing::info!(broker = %self.broker, session_present = ack.session_present, "MQTT connected");
                let filters = [FILTER_ALL_DATA, FILTER_ALL_META, FILTER_ALL_STATUS]
                    .map(|f| SubscribeFilter::new(f.to_owned(), QoS::AtLeastOnce));
                if let Err(e) = self.client.try_subscribe_many(filters) {
                    tracing::error!(error = %e, "could not queue the MQTT subscription");
                }
            }
            Event::Incoming(Incoming::SubAck(ack)) => {
                if ack.return_codes.contains(&SubscribeReasonCode::Failure) {
                    tracing::error!(codes = ?ack.return_codes, "broker refused a subscription");
                } else if let Some(tx) = self.subscribed.take() {
                    let _ = tx.send(());
                }
            }
            Event::Incoming(Incoming::Publish(p)) => self.on_publish(p, cancel).await,
            _ => {}
        }
    }

    async fn on_publish(&mut self, p: Publish, cancel: &CancellationToken) {
        self.metrics.mqtt_messages.inc();
        if self.to_writer.is_none() {
            return; // shutting down: left unacked, re-delivered on the next start
        }
        let recv_ns = now_ns();
        let ticket = (p.qos != QoS::AtMostOnce).then(|| self.b.tracker.track(p.clone()));
        let done = |b: &mut Bookkeeping| {
            if let Some(t) = ticket {
                b.tracker.complete(t);
            }
        };
        match classify(&p.topic, &p.payload) {
            Err(rejected) => {
                self.metrics.decode_error(rejected.reason);
                if self.b.warned.first(&p.topic) {
                    tracing::warn!(topic = %p.topic, reason = rejected.reason, error = %rejected.detail,
                        "dropping a message that cannot be used; further ones on this topic are only counted");
                }
                done(&mut self.b);
            }
            Ok(Inbound::Status(status)) => {
                if let Some(before) = self.agents.update_status(&status, recv_ns) {
                    tracing::info!(agent = %status.agent, state = ?status.state, previous = ?before, "agent presence changed");
                }
                done(&mut self.b);
            }
            Ok(Inbound::Batch(batch)) => {
                self.agents.seen(&batch.agent, recv_ns);
                let gaps = self.b.seq.observe(&batch.agent, batch.session, batch.seq);
                if gaps > 0 {
                    self.metrics.seq_gaps.inc_by(gaps);
                    tracing::debug!(agent = %batch.agent, session = batch.session, seq = batch.seq, missing = gaps, "sequence gap");
                }
                self.metrics.batches_received.inc();
                self.metrics
                    .points_received
                    .inc_by(batch.points.len() as u64);
                let input = WriterInput::Batch {
                    ticket,
                    batch,
                    recv_ns,
                };
                self.forward(input, cancel).await;
            }
            Ok(Inbound::Catalog(catalog)) => {
                self.agents.seen(&catalog.agent, recv_ns);
                tracing::info!(agent = %catalog.agent, tags = catalog.tags.len(), "tag catalogue received");
                let input = WriterInput::Catalog {
                    ticket,
                    catalog,
                    recv_ns,
                };
                self.forward(input, cancel).await;
            }
        }
    }

    /// Queues a message for the writer, waiting for room while still taking acks (they are
    /// handed to the client and go out once the event loop is polled again).
    async fn forward(&mut self, input: WriterInput, cancel: &CancellationToken) {
        let Some(tx) = self.to_writer.clone() else {
            return;
        };
        loop {
            tokio::select! {
                biased;
                permit = tx.reserve() => {
                    match permit {
                        Ok(permit) => {
                            permit.send(input);
                            self.metrics.queue_pushed.inc();
                        }
                        Err(_) => tracing::error!("storage writer stopped; message left unacknowledged"),
                    }
                    return;
                }
                acks = self.acks.recv(), if !self.b.acks_closed => {
                    self.complete(acks);
                    self.flush_acks();
                }
                () = cancel.cancelled() => {
                    self.stop_taking();
                    return;
                }
            }
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
