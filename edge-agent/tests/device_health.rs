//! Device health as reported in the status: a device (here a gateway) that answers every
//! request with a Modbus exception is reported `Disconnected` while its connection stays
//! open, its tags carry the exception as bad quality, and it is `Connected` again once it
//! answers with data. One supervised poller against a real tokio-modbus server; no broker.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::{Plc, start_plc, within};
use edge_agent::metrics::Metrics;
use edge_agent::poll::{DeviceBatch, DeviceStates, PollerHandles, supervise};
use protocols::model::{DeviceState, Quality, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const GATEWAY_0B: &str = "exception 0B gateway target device failed to respond";

/// Receives `n` batches.
async fn next_batches(rx: &mut mpsc::Receiver<DeviceBatch>, n: usize) -> Vec<DeviceBatch> {
    let mut got = Vec::new();
    within(10, "batches", async {
        while got.len() < n {
            got.push(rx.recv().await.unwrap());
        }
    })
    .await;
    got
}

/// Waits until the device's reported state is `want`.
async fn state_becomes(states: &DeviceStates, want: DeviceState) {
    let mut rx = states.subscribe();
    within(10, "device state", async {
        while rx.borrow_and_update()[0].state != want {
            rx.changed().await.unwrap();
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exception_only_cycles_report_the_device_down_and_keep_the_connection() {
    let mut plc = Plc::default();
    plc.input.insert(0, 7);
    plc.holding.insert(0, 9);
    plc.gateway_down.store(true, Ordering::SeqCst);
    let (gateway_down, connections) = (Arc::clone(&plc.gateway_down), Arc::clone(&plc.connections));
    let addr = start_plc(plc).await;
    let text = format!(
        r#"
[agent]
id = "health"
[mqtt]
broker = "mqtt://127.0.0.1:1"
[[device]]
id = "behind-gateway"
asset = "test/hall/l1/gw"
protocol = "modbus-tcp"
host = "127.0.0.1"
port = {port}
unit_id = 1
poll_interval = "20ms"
timeout = "500ms"
reconnect_min = "50ms"
reconnect_max = "100ms"
tag = [
  {{ name = "a", register = "input", address = 0, type = "u16" }},
  {{ name = "b", register = "holding", address = 0, type = "u16" }},
]
"#,
        port = addr.port()
    );
    let mut settings = edge_agent::config::parse(&text, "health.toml").unwrap();
    let spool_dir = tempfile::tempdir().unwrap();
    settings.spool.dir = spool_dir.path().to_owned();
    let device = Arc::new(settings.devices[0].clone());
    let states = DeviceStates::new(["behind-gateway"]);
    let metrics = Arc::new(Metrics::default());
    let (tx, mut rx) = mpsc::channel(1024);
    let handles = PollerHandles {
        out: tx,
        states: states.clone(),
        metrics: Arc::clone(&metrics),
        buses: Default::default(),
        data_dir: None,
        writes: Default::default(),
    };
    let cancel = CancellationToken::new();
    let poller = tokio::spawn(supervise(device, 0, handles, cancel.clone()));

    // Every request answered with 0B: bad points with that reason, device reported down.
    let bad = next_batches(&mut rx, 10).await;
    for b in &bad {
        assert_eq!(b.points.len(), 2);
        for p in &b.points {
            assert_eq!(
                (&p.value, &p.quality),
                (&None, &Quality::Bad(GATEWAY_0B.into()))
            );
        }
    }
    assert_eq!(states.current()[0].state, DeviceState::Disconnected);

    // The device behind the gateway returns: good data, reported connected.
    gateway_down.store(false, Ordering::SeqCst);
    state_becomes(&states, DeviceState::Connected).await;
    let good = next_batches(&mut rx, 3).await;
    let last = good.last().unwrap();
    let value = |name: &str| {
        let p = last.points.iter().find(|p| p.tag.name() == name).unwrap();
        (p.value.clone(), p.quality.clone())
    };
    assert_eq!(value("a"), (Some(Value::UInt(7)), Quality::Good));
    assert_eq!(value("b"), (Some(Value::UInt(9)), Quality::Good));

    // And fails again: down again, without dropping the connection.
    gateway_down.store(true, Ordering::SeqCst);
    state_becomes(&states, DeviceState::Disconnected).await;
    next_batches(&mut rx, 3).await;
    assert_eq!(states.current()[0].state, DeviceState::Disconnected);

    cancel.cancel();
    within(5, "poller stops", poller).await.unwrap();
    let m = metrics.snapshot();
    assert_eq!(connections.load(Ordering::SeqCst), 1, "{m:?}");
    assert_eq!(
        (
            m.connect_errors,
            m.request_timeouts,
            m.request_transport_errors
        ),
        (0, 0, 0),
        "{m:?}"
    );
    assert!(m.request_exceptions >= 2 * 13, "{m:?}");
}
