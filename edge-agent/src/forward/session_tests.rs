//! Session decisions without a broker: the rumqttc client only queues into its channel
//! (the event loop is never polled), and events are fed by hand. The spool is real, in a
//! temporary directory.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use protocols::model::AssetPath;
use rumqttc::{EventLoop, MqttOptions};
use tokio::sync::oneshot;

use super::*;
use crate::settings::WhenFull;

struct Fixture {
    s: Session,
    _el: EventLoop,
    m: Arc<Metrics>,
    _dir: tempfile::TempDir,
}

fn session(max_bytes: u64, replay_rate: u32) -> Fixture {
    let (client, el) = AsyncClient::new(MqttOptions::new("test", "127.0.0.1", 1), 512);
    let mut settings = crate::config::parse(
        include_str!("../../../deploy/edge-agent.reference.toml"),
        "example",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    settings.spool.dir = dir.path().to_owned();
    settings.spool.max_bytes = max_bytes;
    settings.spool.when_full = WhenFull::DropOldest;
    let (spool, _) = Spool::open(&settings.spool, 7).unwrap();
    let metrics = Arc::new(Metrics::default());
    let s = Session::new(
        client,
        Messages::new(&settings, 7),
        Arc::clone(&metrics),
        spool,
        replay_rate,
    );
    Fixture {
        s,
        _el: el,
        m: metrics,
        _dir: dir,
    }
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

/// The batches handed to the client since the last call, in order (each is then named
/// with a packet id, as if the event loop had sent it).
fn published(s: &mut Session, pkid: &mut u16) -> Vec<u64> {
    s.tracker.name_all(pkid)
}

#[test]
fn nothing_is_published_before_the_first_connack() {
    let Fixture {
        mut s,
        m,
        _el,
        _dir,
    } = session(1 << 20, 100);
    let now = Instant::now();
    s.enqueue(batch(), 0);
    s.flush(Vec::new, now);
    assert_eq!(m.snapshot().batches_published, 0);
    assert_eq!(m.snapshot().buffered, 1);
    s.on_event(MqttEvent::Connected, Vec::new());
    s.flush(Vec::new, now);
    let snap = m.snapshot();
    // Appended before the connection: backlog, still unacknowledged.
    assert_eq!(
        (snap.batches_published, snap.batches_resent, snap.buffered),
        (1, 1, 1)
    );
    // catalogue + status + the batch
    assert_eq!(s.tracker.outstanding(), 3);
}

#[test]
fn unacknowledged_batches_are_resent_as_backlog_after_a_reconnect() {
    let Fixture {
        mut s,
        m,
        _el,
        _dir,
    } = session(1 << 20, 100);
    let now = Instant::now();
    let mut pkid = 0;
    s.on_event(MqttEvent::Connected, Vec::new());
    for _ in 0..3 {
        s.enqueue(batch(), 0);
    }
    s.flush(Vec::new, now);
    // catalogue (1), status (2), seq 0 (3), 1 (4), 2 (5)
    assert_eq!(published(&mut s, &mut pkid), [0, 1, 2]);
    assert_eq!(m.snapshot().batches_resent, 0, "live");
    s.on_event(MqttEvent::PubAck(3), Vec::new()); // seq 0
    s.on_event(MqttEvent::PubAck(1), Vec::new()); // catalogue: not a batch
    assert_eq!(m.snapshot().batches_acked, 1);
    assert_eq!(s.spool.floor(), 1, "seq 0 left the spool");

    lost(&mut s);
    assert!(!s.connected);
    assert_eq!(s.unsent(), 2, "seq 1 and seq 2 were in flight");
    s.enqueue(batch(), 0); // seq 3, while disconnected
    s.flush(Vec::new, now);
    assert_eq!(m.snapshot().batches_published, 3);

    s.on_event(MqttEvent::Connected, Vec::new());
    s.enqueue(batch(), 0); // seq 4, live
    s.flush(Vec::new, now);
    assert_eq!(
        published(&mut s, &mut pkid),
        [4, 1, 2, 3],
        "live first, then the backlog in order"
    );
    let snap = m.snapshot();
    assert_eq!(
        (snap.batches_published, snap.batches_resent),
        (7, 3),
        "the backlog went out marked historical"
    );
}

#[test]
fn the_backlog_is_paced_but_live_data_is_not() {
    let Fixture {
        mut s, _el, _dir, ..
    } = session(1 << 20, 10);
    let t0 = Instant::now();
    let mut pkid = 0;
    for _ in 0..20 {
        s.enqueue(batch(), 0);
    }
    s.on_event(MqttEvent::Connected, Vec::new());
    s.flush(Vec::new, t0);
    // Burst of one (10/s × 100 ms).
    assert_eq!(published(&mut s, &mut pkid), [0]);
    assert!(s.replay_wakeup(t0).unwrap() > t0);
    for _ in 0..5 {
        s.enqueue(batch(), 0);
    }
    s.flush(Vec::new, t0);
    assert_eq!(published(&mut s, &mut pkid), [20, 21, 22, 23, 24]);
    s.flush(Vec::new, t0 + Duration::from_millis(500));
    assert_eq!(published(&mut s, &mut pkid), [1], "the bucket holds one");
    for ms in (600..=1000).step_by(100) {
        s.flush(Vec::new, t0 + Duration::from_millis(ms));
    }
    assert_eq!(published(&mut s, &mut pkid), [2, 3, 4, 5, 6]);
}

#[test]
fn a_full_spool_drops_the_oldest_and_counts_batches_and_points() {
    let Fixture {
        mut s,
        m,
        _el,
        _dir,
    } = session(4096, 100);
    let mut b = batch();
    b.points = vec![
        protocols::model::Point {
            tag: protocols::model::TagId::new("demo/hall-1/line-1/motor-01/speed").unwrap(),
            ts_ns: 1,
            value: Some(protocols::model::Value::UInt(1)),
            quality: protocols::model::Quality::Good,
        };
        5
    ];
    for _ in 0..200 {
        s.enqueue(b.clone(), 0);
    }
    let snap = m.snapshot();
    assert!(snap.batches_dropped_spool > 0);
    assert_eq!(snap.points_dropped_spool, 5 * snap.batches_dropped_spool);
    assert_eq!(snap.buffered + snap.batches_dropped_spool, 200);
    assert_eq!(
        s.spool.floor(),
        snap.batches_dropped_spool,
        "the oldest went"
    );
    assert!(snap.spool_bytes <= 4096);
}

#[test]
fn status_is_republished_when_a_device_changes_state() {
    let Fixture {
        mut s, _el, _dir, ..
    } = session(1 << 20, 100);
    let now = Instant::now();
    s.on_event(MqttEvent::Connected, Vec::new());
    assert_eq!(s.tracker.outstanding(), 2);
    s.status_dirty = true;
    s.flush(Vec::new, now);
    assert_eq!(s.tracker.outstanding(), 3);
    assert!(!s.status_dirty);
    s.flush(Vec::new, now);
    assert_eq!(s.tracker.outstanding(), 3);
}

#[test]
fn a_record_evicted_in_flight_counts_as_dropped_only_if_never_acknowledged() {
    let Fixture {
        mut s,
        m,
        _el,
        _dir,
    } = session(4096, 1000);
    let now = Instant::now();
    let mut pkid = 0;
    s.on_event(MqttEvent::Connected, Vec::new());
    s.enqueue(batch(), 0);
    s.enqueue(batch(), 0);
    s.flush(Vec::new, now);
    assert_eq!(published(&mut s, &mut pkid), [0, 1]); // pkids 3 and 4
    // Fill the spool while 0 and 1 are in flight: they are evicted, not counted yet.
    let mut n = 2;
    while s.spool.floor() < 2 {
        s.enqueue(batch(), 0);
        n += 1;
    }
    assert_eq!(m.snapshot().batches_dropped_spool, 0);
    s.on_event(MqttEvent::PubAck(3), Vec::new()); // seq 0 arrived after all
    assert_eq!(m.snapshot().batches_dropped_spool, 0);
    lost(&mut s); // seq 1 never acknowledged: dropped, but the broker may have it
    let snap = m.snapshot();
    assert_eq!((snap.batches_dropped_spool, snap.batches_acked), (1, 1));
    assert_eq!(snap.batches_dropped_unconfirmed, 1);
    assert_eq!(snap.buffered, n - 2);
}

#[test]
fn drops_of_batches_in_flight_at_a_disconnect_are_counted_unconfirmed() {
    let Fixture {
        mut s,
        m,
        _el,
        _dir,
    } = session(4096, 1000);
    let now = Instant::now();
    let mut pkid = 0;
    s.on_event(MqttEvent::Connected, Vec::new());
    s.enqueue(batch(), 0);
    s.flush(Vec::new, now);
    assert_eq!(published(&mut s, &mut pkid), [0]);
    lost(&mut s); // seq 0 was published, no PUBACK: unconfirmed
    s.enqueue(batch(), 0); // seq 1: never published
    while s.spool.floor() < 2 {
        s.enqueue(batch(), 0);
    }
    let snap = m.snapshot();
    assert!(snap.batches_dropped_spool >= 2, "{snap:?}");
    assert_eq!(
        (
            snap.batches_dropped_unconfirmed,
            snap.points_dropped_unconfirmed
        ),
        (1, 0),
        "only seq 0 may have reached the broker"
    );
    let status = m.spool_status(s.spool.len(), s.spool.bytes());
    assert_eq!(status.dropped_unconfirmed_batches, 1);
    assert_eq!(status.dropped_batches, snap.batches_dropped_spool);
}
