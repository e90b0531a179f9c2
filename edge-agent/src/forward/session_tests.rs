//! Session decisions without a broker: the rumqttc client only queues into its channel
//! (the event loop is never polled), and events are fed by hand.
#![allow(clippy::unwrap_used)]

use protocols::model::AssetPath;
use rumqttc::{EventLoop, MqttOptions};
use tokio::sync::oneshot;

use super::*;

fn session(capacity: usize) -> (Session, EventLoop, Arc<Metrics>) {
    let (client, eventloop) = AsyncClient::new(MqttOptions::new("test", "127.0.0.1", 1), 512);
    let settings = crate::config::parse(
        include_str!("../../../deploy/edge-agent.reference.toml"),
        "example",
    )
    .unwrap();
    let metrics = Arc::new(Metrics::default());
    let s = Session::new(
        client,
        Messages::new(&settings, 7),
        Arc::clone(&metrics),
        capacity,
    );
    (s, eventloop, metrics)
}

fn batch() -> DeviceBatch {
    DeviceBatch {
        device: 0,
        asset: AssetPath::new("demo/hall-1/line-1/motor-01").unwrap(),
        points: Vec::new(),
    }
}

fn lost(s: &mut Session) {
    let (resume, resumed) = oneshot::channel();
    s.on_event(
        MqttEvent::Lost {
            error: "gone".into(),
            resume,
        },
        Vec::new(),
    );
    assert!(resumed.blocking_recv().is_ok(), "the pump is released");
}

#[test]
fn nothing_is_published_before_the_first_connack() {
    let (mut s, _el, m) = session(10);
    s.enqueue(batch());
    s.flush(Vec::new);
    assert_eq!(m.snapshot().batches_published, 0);
    assert_eq!(m.snapshot().buffered, 1);
    s.on_event(MqttEvent::Connected, Vec::new());
    s.flush(Vec::new);
    let snap = m.snapshot();
    assert_eq!((snap.batches_published, snap.buffered), (1, 0));
    // catalogue + status + the batch
    assert_eq!(s.tracker.outstanding(), 3);
}

#[test]
fn unacknowledged_batches_are_resent_after_a_reconnect() {
    let (mut s, _el, m) = session(10);
    s.on_event(MqttEvent::Connected, Vec::new());
    for _ in 0..3 {
        s.enqueue(batch());
    }
    s.flush(Vec::new);
    for pkid in 1..=4 {
        s.on_event(MqttEvent::Outgoing(pkid), Vec::new()); // catalogue, status, seq 0, seq 1
    }
    s.on_event(MqttEvent::PubAck(3), Vec::new()); // seq 0
    s.on_event(MqttEvent::PubAck(1), Vec::new()); // catalogue: not a batch
    assert_eq!(m.snapshot().batches_acked, 1);

    lost(&mut s);
    assert!(!s.connected);
    assert_eq!(s.unsent(), 2, "seq 1 (in flight) and seq 2 (not named yet)");
    s.enqueue(batch()); // seq 3, while disconnected
    s.flush(Vec::new);
    assert_eq!(m.snapshot().batches_published, 3);

    s.on_event(MqttEvent::Connected, Vec::new());
    s.flush(Vec::new);
    let snap = m.snapshot();
    assert_eq!((snap.batches_published, snap.batches_resent), (6, 2));
    let seqs: Vec<u64> = s.tracker.take_unacked().iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [1, 2, 3]);
}

#[test]
fn a_full_buffer_drops_the_oldest_and_counts_them() {
    let (mut s, _el, m) = session(2);
    for _ in 0..5 {
        s.enqueue(batch());
    }
    assert_eq!(m.snapshot().batches_dropped_buffer, 3);
    assert_eq!(s.buffer.pop().map(|r| r.seq), Some(3));
    assert_eq!(s.buffer.pop().map(|r| r.seq), Some(4));
}

#[test]
fn status_is_republished_when_a_device_changes_state() {
    let (mut s, _el, _m) = session(2);
    s.on_event(MqttEvent::Connected, Vec::new());
    assert_eq!(s.tracker.outstanding(), 2);
    s.status_dirty = true;
    s.flush(Vec::new);
    assert_eq!(s.tracker.outstanding(), 3);
    assert!(!s.status_dirty);
    s.flush(Vec::new);
    assert_eq!(s.tracker.outstanding(), 3);
}
