//! The agent in-process against real peers: a tokio-modbus server with known registers, a
//! closed port, a device that never answers, a unit behind a "gateway" that answers every
//! request with exception 0B, and the shared MQTT broker. Checks the exact decoded values,
//! bad quality every cycle for the broken devices while the healthy one keeps its rate,
//! sequence numbers, catalogue, status (the gateway unit is reported disconnected) and the
//! clean offline status at shutdown.
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    Plc, Received, closed_port, shared_broker, start_plc, start_silent_device, subscribe,
    unique_agent_id, within,
};
use protocols::codec::Message;
use protocols::model::{AgentId, AgentState, AssetPath, Batch, DeviceState, Quality, Value};
use protocols::topic::Topic;
use tokio_util::sync::CancellationToken;

const POLL_MS: i64 = 100;

fn plc() -> Plc {
    let mut p = Plc::default();
    p.input.insert(0, 1480);
    // f32 1234.5678 = 0x449A522B, ABCD at 1, CDAB at 3
    p.input
        .extend([(1, 0x449A), (2, 0x522B), (3, 0x522B), (4, 0x449A)]);
    // i32 -123456 = 0xFFFE1DC0 in DCBA: [DC, BA] = [0xC01D, 0xFEFF]
    p.input.extend([(5, 0xC01D), (6, 0xFEFF)]);
    p.input.insert(7, 1234);
    p.holding.insert(0, 0xFFFB);
    p.holding.extend([(10, 1), (11, 2), (12, 3), (13, 4)]);
    // f64 3.25 = 0x400A_0000_0000_0000, GHEFCDAB (words reversed)
    p.holding.extend([(20, 0), (21, 0), (22, 0), (23, 0x400A)]);
    p.coils.insert(0, true);
    p.discrete.insert(2, true);
    p
}

fn config(agent: &str, broker: &str, plc: u16, dead: u16, silent: u16) -> String {
    format!(
        r#"
[agent]
id = "{agent}"
site = "test"
area = "hall"
line = "l1"
shutdown_grace = "3s"

[mqtt]
broker = "mqtt://{broker}"
reconnect_min = "100ms"
reconnect_max = "500ms"

[defaults]
poll_interval = "{POLL_MS}ms"
timeout = "300ms"
reconnect_min = "100ms"
reconnect_max = "200ms"

[[device]]
id = "plc"
protocol = "modbus-tcp"
host = "127.0.0.1"
port = {plc}
unit_id = 1
tag = [
  {{ name = "speed", register = "input", address = 0, type = "u16", unit = "rpm" }},
  {{ name = "temp_abcd", register = "input", address = 1, type = "f32" }},
  {{ name = "temp_cdab", register = "input", address = 3, type = "f32", order = "CDAB" }},
  {{ name = "torque", register = "input", address = 5, type = "i32", order = "DCBA" }},
  {{ name = "current", register = "input", address = 7, type = "u16", scale = 0.1, offset = -10.0 }},
  {{ name = "missing", register = "input", address = 500, type = "u16" }},
  {{ name = "setpoint", register = "holding", address = 0, type = "i16" }},
  {{ name = "hours", register = "holding", address = 10, type = "u64" }},
  {{ name = "ratio", register = "holding", address = 20, type = "f64", order = "GHEFCDAB" }},
  {{ name = "running", register = "coil", address = 0, type = "bool" }},
  {{ name = "fault", register = "discrete", address = 2, type = "bool" }},
]

[[device]]
id = "dead"
protocol = "modbus-tcp"
host = "127.0.0.1"
port = {dead}
unit_id = 1
tag = [{{ name = "x", register = "holding", address = 0, type = "u16" }}]

[[device]]
id = "gateway"
protocol = "modbus-tcp"
host = "127.0.0.1"
port = {plc}
unit_id = 2
tag = [{{ name = "z", register = "input", address = 0, type = "u16" }}]

[[device]]
id = "silent"
protocol = "modbus-tcp"
host = "127.0.0.1"
port = {silent}
unit_id = 1
tag = [{{ name = "y", register = "input", address = 0, type = "f32" }}]
"#
    )
}

fn batches<'a>(got: &'a [Received], asset: &'a AssetPath) -> impl Iterator<Item = &'a Batch> + 'a {
    got.iter().filter_map(move |r| match &r.message {
        Message::Batch(b) if &b.asset == asset => Some(b),
        _ => None,
    })
}

fn value(b: &Batch, name: &str) -> (Option<Value>, Quality) {
    let p = b
        .points
        .iter()
        .find(|p| p.tag.name() == name)
        .unwrap_or_else(|| panic!("no point {name}"));
    (p.value.clone(), p.quality.clone())
}

/// Largest gap between consecutive batches' sample times, in ms.
fn max_gap_ms(bs: &[&Batch]) -> i64 {
    bs.windows(2)
        .map(|w| (w[1].points[0].ts_ns - w[0].points[0].ts_ns) / 1_000_000)
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_devices_and_publishes_exact_values_and_bad_quality() {
    let Some(broker) = shared_broker().await else {
        return;
    };
    let plc_addr = start_plc(plc()).await;
    let dead_port = closed_port().await;
    let silent_addr = start_silent_device().await;
    let agent_id = unique_agent_id("e2e");
    let text = config(
        &agent_id,
        &broker,
        plc_addr.port(),
        dead_port,
        silent_addr.port(),
    );
    let mut settings = edge_agent::config::parse(&text, "e2e.toml").unwrap();
    let spool_dir = tempfile::tempdir().unwrap();
    settings.spool.dir = spool_dir.path().to_owned();
    settings.agent.data_dir = spool_dir.path().to_owned();

    let agent = AgentId::new(&agent_id).unwrap();
    let asset = |d: &str| AssetPath::from_parts("test", "hall", "l1", d).unwrap();
    let (plc_asset, dead_asset, silent_asset) = (asset("plc"), asset("dead"), asset("silent"));
    let gateway_asset = asset("gateway");
    let status_topic = Topic::Status {
        agent: agent.clone(),
    }
    .to_string();
    let meta_topic = Topic::Meta {
        agent: agent.clone(),
    }
    .to_string();
    let mut topics: Vec<String> = [&plc_asset, &dead_asset, &silent_asset, &gateway_asset]
        .into_iter()
        .map(|a| {
            Topic::Data {
                agent: agent.clone(),
                asset: a.clone(),
            }
            .to_string()
        })
        .collect();
    topics.extend([status_topic.clone(), meta_topic.clone()]);
    let mut sub = subscribe(&broker, &format!("{agent_id}-sub"), &topics, false).await;

    let shutdown = CancellationToken::new();
    let (handle, run) = edge_agent::app::start(settings, shutdown.clone());
    let running = tokio::spawn(run);

    // Two seconds' worth of cycles from the healthy device, and the devices' states settled.
    let got = sub
        .collect_until(20, "batches and status", |got| {
            batches(got, &plc_asset).count() >= 20
                && batches(got, &dead_asset).count() >= 10
                && batches(got, &silent_asset).count() >= 5
                && batches(got, &gateway_asset).count() >= 10
                && got.iter().any(|r| {
                    matches!(&r.message, Message::Status(s)
                    if s.devices.iter().any(|d| d.id == "plc" && d.state == DeviceState::Connected))
                })
        })
        .await;

    // Exact values from the healthy device, every cycle; the exception only hits its request.
    let plc_batches: Vec<&Batch> = batches(&got, &plc_asset).collect();
    // Batches sampled before the first ConnAck are spooled and replayed as backlog, marked
    // historical; everything after is live. So historical seqs all precede live ones.
    let first_live = plc_batches
        .iter()
        .filter(|b| !b.historical)
        .map(|b| b.seq)
        .min();
    let last_historical = plc_batches
        .iter()
        .filter(|b| b.historical)
        .map(|b| b.seq)
        .max();
    if let (Some(live), Some(hist)) = (first_live, last_historical) {
        assert!(hist < live, "historical seq {hist} after live seq {live}");
    }
    assert!(first_live.is_some(), "no live batch at all");
    for b in &plc_batches {
        assert_eq!(b.agent, agent);
        assert_eq!(b.session, handle.session);
        assert_eq!(b.points.len(), 11);
        assert_eq!(value(b, "speed"), (Some(Value::UInt(1480)), Quality::Good));
        let temp = Some(Value::Float(f64::from(1234.5678f32)));
        assert_eq!(value(b, "temp_abcd"), (temp.clone(), Quality::Good));
        assert_eq!(value(b, "temp_cdab"), (temp, Quality::Good));
        assert_eq!(
            value(b, "torque"),
            (Some(Value::Int(-123_456)), Quality::Good)
        );
        assert_eq!(
            value(b, "current"),
            (Some(Value::Float(1234.0 * 0.1 + -10.0)), Quality::Good)
        );
        // The read that hit the hole was bisected in the same cycle: the tag is a learned
        // hole from then on.
        assert_eq!(
            value(b, "missing"),
            (None, Quality::Bad(protocols::modbus::HOLE_REASON.into()))
        );
        assert_eq!(value(b, "setpoint"), (Some(Value::Int(-5)), Quality::Good));
        assert_eq!(
            value(b, "hours"),
            (Some(Value::UInt(0x0001_0002_0003_0004)), Quality::Good)
        );
        assert_eq!(value(b, "ratio"), (Some(Value::Float(3.25)), Quality::Good));
        assert_eq!(
            value(b, "running"),
            (Some(Value::Bool(true)), Quality::Good)
        );
        assert_eq!(value(b, "fault"), (Some(Value::Bool(true)), Quality::Good));
    }

    // The closed port and the silent device publish bad points every cycle, never silence.
    let dead: Vec<&Batch> = batches(&got, &dead_asset).collect();
    let silent: Vec<&Batch> = batches(&got, &silent_asset).collect();
    for b in &dead {
        assert_eq!(
            value(b, "x"),
            (None, Quality::Bad("connection refused".into()))
        );
    }
    for b in &silent {
        assert_eq!(value(b, "y"), (None, Quality::Bad("timeout".into())));
    }
    for b in batches(&got, &gateway_asset) {
        assert_eq!(
            value(b, "z"),
            (
                None,
                Quality::Bad("exception 0B gateway target device failed to respond".into())
            )
        );
    }
    // The healthy device keeps its rate: no gap near the broken devices' timeouts.
    let healthy_gap = max_gap_ms(&plc_batches);
    assert!(
        healthy_gap < 3 * POLL_MS,
        "healthy device stalled for {healthy_gap} ms"
    );
    let span_ms =
        (plc_batches.last().unwrap().points[0].ts_ns - plc_batches[0].points[0].ts_ns) / 1_000_000;
    let expected = span_ms / POLL_MS;
    assert!(
        (plc_batches.len() as i64) >= expected * 8 / 10,
        "{} batches in {span_ms} ms",
        plc_batches.len()
    );
    assert!(
        max_gap_ms(&dead) < 3 * POLL_MS,
        "closed-port device went silent for {} ms",
        max_gap_ms(&dead)
    );
    // A silent device's cycle takes its full timeout (300 ms) when it reconnects, so its
    // ticks are skipped then; it must still never go quiet for long.
    assert!(
        max_gap_ms(&silent) < 6 * POLL_MS,
        "silent device went quiet for {} ms",
        max_gap_ms(&silent)
    );

    // Sequence numbers: consecutive from 0 across the agent's batches.
    let mut seqs: Vec<u64> = got
        .iter()
        .filter_map(|r| match &r.message {
            Message::Batch(b) => Some(b.seq),
            _ => None,
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());

    // Catalogue and status.
    let catalog = got
        .iter()
        .find_map(|r| match &r.message {
            Message::Catalog(c) => Some(c),
            _ => None,
        })
        .expect("catalog");
    assert_eq!(catalog.tags.len(), 14);
    let speed = catalog
        .tags
        .iter()
        .find(|t| t.id.name() == "speed")
        .unwrap();
    assert_eq!(
        speed.source,
        format!("modbus-tcp://127.0.0.1:{}/1/input/0", plc_addr.port())
    );
    assert_eq!(
        (
            speed.unit.as_str(),
            speed.data_type.as_str(),
            speed.poll_interval_ms
        ),
        ("rpm", "u16", 100)
    );
    let status = got
        .iter()
        .rev()
        .find_map(|r| match &r.message {
            Message::Status(s) => Some(s),
            _ => None,
        })
        .unwrap();
    assert_eq!(status.state, AgentState::Online);
    let state = |id: &str| status.devices.iter().find(|d| d.id == id).map(|d| d.state);
    assert_eq!(state("plc"), Some(DeviceState::Connected));
    assert_eq!(state("dead"), Some(DeviceState::Disconnected));
    assert_eq!(state("silent"), Some(DeviceState::Disconnected));
    // Answers every request, but only with exceptions: not healthy.
    assert_eq!(state("gateway"), Some(DeviceState::Disconnected));

    let m = handle.metrics.snapshot();
    assert!(
        m.request_exceptions > 0 && m.request_timeouts > 0 && m.connect_errors > 0,
        "{m:?}"
    );
    assert!(
        m.overruns > 0,
        "the silent device's timeouts overrun its interval: {m:?}"
    );
    assert_eq!(m.batches_dropped(), 0, "{m:?}");

    // Clean shutdown: a retained offline status, and every batch acknowledged.
    shutdown.cancel();
    within(15, "agent shutdown", running)
        .await
        .unwrap()
        .unwrap();
    sub.collect_until(10, "offline status", |got| {
        got.iter()
            .any(|r| matches!(&r.message, Message::Status(s) if s.state == AgentState::Offline))
    })
    .await;
    let m = handle.metrics.snapshot();
    assert_eq!(m.batches_acked, m.batches_published, "{m:?}");
    assert_eq!(m.batches_dropped(), 0, "{m:?}");
    sub.clear_retained(&[status_topic, meta_topic]).await;
}
