//! Forwarding batches to the MQTT broker: [`Forwarder`], the only publisher.
//!
//! # Data flow
//!
//! Pollers send [`DeviceBatch`](crate::poll::DeviceBatch)es over a bounded channel (they
//! drop and count when it is full, never wait). The forwarder gives each batch the spool's
//! next sequence number, encodes it with `protocols::codec` and appends it to the disk
//! spool (`crate::spool`; limits drop and count). While connected it hands spooled batches
//! to rumqttc as QoS 1 publishes, live ones first and the backlog behind them at
//! `spool.replay_rate` marked `historical` (see `session.rs`), at most `MAX_INFLIGHT` (100)
//! unacknowledged at a time, and matches them to PUBACKs (`inflight.rs`); a PUBACK marks
//! the record acknowledged in the spool. On every ConnAck it publishes the retained tag catalogue
//! (`Topic::Meta`) and the retained online status (`Topic::Status`); the status is
//! republished whenever a device's connection state changes, and both are republished when
//! a configuration reload changes the devices ([`Forwarder::with_catalog_updates`]; the
//! forwarder itself, its spool and what is in flight are untouched by a reload). The Last Will is a retained
//! offline status. On shutdown it fsyncs the spool, flushes for at most the grace period,
//! publishes a retained offline status and disconnects.
//!
//! # Retransmission: why the forwarder does it, not rumqttc
//!
//! rumqttc 0.25 does keep unacknowledged QoS 1 publishes across a reconnect *when the
//! EventLoop is kept*: on a network error `EventLoop::poll` calls `clean()`, which moves the
//! in-flight publishes (`MqttState::clean`) and the requests still in the channel into
//! `EventLoop::pending`, and after reconnecting sends `pending` first. But in `poll()`,
//! `if !connack.session_present { self.pending.clear() }`: the publishes are silently
//! discarded unless the broker resumed a persistent session. A persistent session
//! (`clean_session = false`) depends on the broker keeping it (restarts, expiry, a second
//! client with the same id), and rumqttc gives the application no signal which publishes
//! were dropped, so relying on it would lose data exactly in the outages we care about.
//!
//! So the agent connects with a clean session and owns retransmission: the pump task
//! (`pump.rs`) reports a lost connection, waits until the forwarder has stopped handing
//! over publishes, then empties rumqttc's request channel (`EventLoop::clean`) and clears
//! `pending` on ConnAck, so nothing from the old connection is replayed by rumqttc. The
//! forwarder forgets what was in flight (it is still in the spool, unacknowledged) and, after
//! reconnecting, sends it again (same sequence number) as part of the backlog. Delivery is at least once: a batch
//! whose PUBACK was lost is sent twice, and receivers dedupe on (agent, session, seq).
//!
//! # Files
//!
//! `forwarder.rs` (task and shutdown), `session.rs` (state and decisions per event),
//! `pump.rs` (event loop task), `inflight.rs`, `replay.rs` (backlog pacing), `messages.rs`
//! (encoding, topics), `options.rs` (rumqttc options, Last Will).

mod forwarder;
mod inflight;
mod messages;
mod options;
mod pump;
mod replay;
mod session;

pub use forwarder::{ForwardError, Forwarder};
