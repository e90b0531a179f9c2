//! Drives rumqttc's `EventLoop` in its own task and reports what matters to the forwarder.
//!
//! `EventLoop::poll` is not cancellation-safe (a packet being written when the future is
//! dropped would be lost while rumqttc counts it in flight), so it is never raced against
//! anything: this task awaits every poll to completion and forwards events over a bounded
//! channel (it waits when the channel is full).
//!
//! On a connection failure it first delivers the events rumqttc had queued (so every packet
//! id it assigned reaches the forwarder), then reports [`MqttEvent::Lost`] and waits until
//! the forwarder has stopped handing over publishes. Before reconnecting it calls
//! `EventLoop::clean`, moving publishes still in the request channel into `pending`; on
//! ConnAck `pending` is cleared. So after every reconnect rumqttc holds nothing from the old
//! connection, and the forwarder alone re-sends what was not acknowledged.

use rumqttc::{Event, EventLoop, Outgoing, Packet};
use tokio::sync::{mpsc, oneshot};

use crate::backoff::Backoff;

/// What the forwarder hears from the event loop.
#[derive(Debug)]
pub(crate) enum MqttEvent {
    /// ConnAck received: the connection is usable.
    Connected,
    /// A publish went on the wire with this packet id.
    Outgoing(u16),
    /// The broker acknowledged this packet id.
    PubAck(u16),
    /// The connection failed (or could not be made). Reply on `resume` once no more
    /// publishes will be handed over until the next [`MqttEvent::Connected`].
    Lost {
        /// What went wrong.
        error: String,
        /// Lets the pump reconnect.
        resume: oneshot::Sender<()>,
    },
    /// Our DISCONNECT was sent; the pump has stopped.
    Closed,
    /// A message arrived on a subscribed topic (commands). rumqttc has already sent its
    /// PUBACK (automatic acks); redeliveries are deduplicated by command id downstream.
    Received {
        /// The topic it was published on.
        topic: String,
        /// The payload.
        payload: Vec<u8>,
    },
}

/// Polls `eventloop` until the forwarder goes away or a DISCONNECT is sent.
pub(crate) async fn drive(
    mut eventloop: EventLoop,
    events: mpsc::Sender<MqttEvent>,
    mut backoff: Backoff,
) {
    loop {
        let event = match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                if ack.session_present {
                    tracing::debug!(
                        "broker resumed a session despite clean_session; discarding rumqttc's pending publishes"
                    );
                }
                eventloop.pending.clear();
                backoff.reset();
                MqttEvent::Connected
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                let _ = events.send(MqttEvent::Closed).await;
                return;
            }
            Ok(event) => match translate(event) {
                Some(e) => e,
                None => continue,
            },
            Err(error) => {
                let queued: Vec<Event> = eventloop.state.events.drain(..).collect();
                for e in queued.into_iter().filter_map(translate) {
                    if events.send(e).await.is_err() {
                        return;
                    }
                }
                let (resume, resumed) = oneshot::channel();
                let lost = MqttEvent::Lost {
                    error: error.to_string(),
                    resume,
                };
                if events.send(lost).await.is_err() || resumed.await.is_err() {
                    return;
                }
                tokio::time::sleep(backoff.next_delay()).await;
                eventloop.clean();
                continue;
            }
        };
        if events.send(event).await.is_err() {
            return;
        }
    }
}

fn translate(event: Event) -> Option<MqttEvent> {
    match event {
        Event::Outgoing(Outgoing::Publish(pkid)) => Some(MqttEvent::Outgoing(pkid)),
        Event::Incoming(Packet::PubAck(ack)) => Some(MqttEvent::PubAck(ack.pkid)),
        Event::Incoming(Packet::Publish(p)) => Some(MqttEvent::Received {
            topic: p.topic,
            payload: p.payload.to_vec(),
        }),
        _ => None,
    }
}
