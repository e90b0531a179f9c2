//! Store-and-forward across a broker outage: a private mosquitto is stopped while the agent
//! polls, then restarted. Every batch produced meanwhile must arrive (sequence numbers
//! 0..=n without gaps; duplicates allowed) and nothing may be dropped.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Mosquitto, Plc, Received, start_plc, subscribe, unique_agent_id, within};
use protocols::codec::Message;
use protocols::model::{AgentId, AssetPath, Value};
use protocols::topic::Topic;
use tokio_util::sync::CancellationToken;

fn seqs(got: &[Received]) -> BTreeSet<u64> {
    got.iter()
        .filter_map(|r| match &r.message {
            Message::Batch(b) => Some(b.seq),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_survive_a_broker_restart() {
    let Some(mut mosquitto) = Mosquitto::start().await else {
        return;
    };
    let mut plc = Plc::default();
    plc.input.insert(0, 42);
    let plc_addr = start_plc(plc).await;
    let agent_id = unique_agent_id("outage");
    let text = format!(
        r#"
[agent]
id = "{agent_id}"
shutdown_grace = "3s"
[mqtt]
broker = "mqtt://{broker}"
encoding = "json"
reconnect_min = "100ms"
reconnect_max = "300ms"
[[device]]
id = "plc"
asset = "test/hall/l1/plc"
protocol = "modbus-tcp"
host = "127.0.0.1"
port = {port}
unit_id = 1
poll_interval = "50ms"
[[device.tag]]
name = "v"
register = "input"
address = 0
type = "u16"
"#,
        broker = mosquitto.addr(),
        port = plc_addr.port()
    );
    let settings = edge_agent::config::parse(&text, "outage.toml").unwrap();
    let agent = AgentId::new(&agent_id).unwrap();
    let asset = AssetPath::new("test/hall/l1/plc").unwrap();
    let topic = Topic::Data { agent, asset }.to_string();
    let mut sub = subscribe(
        &mosquitto.addr(),
        &format!("{agent_id}-sub"),
        &[topic],
        true,
    )
    .await;

    let shutdown = CancellationToken::new();
    let (handle, run) = edge_agent::app::start(settings, shutdown.clone());
    let running = tokio::spawn(run);
    let mut got = sub
        .collect_until(10, "first batches", |g| seqs(g).len() >= 5)
        .await;

    mosquitto.stop().await;
    within(10, "batches buffered during the outage", async {
        while handle.metrics.snapshot().buffered < 10 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(mosquitto.spawn().await, "mosquitto restart");
    let produced = handle.metrics.snapshot().polls;

    got.extend(
        sub.collect_until(20, "every batch after the restart", |g| {
            let have: BTreeSet<u64> = seqs(&got).union(&seqs(g)).copied().collect();
            (0..produced).all(|s| have.contains(&s))
        })
        .await,
    );
    let have = seqs(&got);
    let max = *have.last().unwrap();
    assert_eq!(
        have,
        (0..=max).collect::<BTreeSet<_>>(),
        "gap in sequence numbers"
    );
    for r in &got {
        if let Message::Batch(b) = &r.message {
            assert_eq!(b.points[0].value, Some(Value::UInt(42)));
        }
    }

    shutdown.cancel();
    within(15, "agent shutdown", running)
        .await
        .unwrap()
        .unwrap();
    let m = handle.metrics.snapshot();
    assert_eq!(m.batches_dropped(), 0, "{m:?}");
    assert!(m.batches_acked >= produced, "{m:?}");
    mosquitto.stop().await;
}
