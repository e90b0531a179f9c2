//! Writes end to end: a real broker (the machine's Mosquitto, `SENTIA_TEST_MQTT`), the real
//! agent, and a pymodbus server that reports every write request it receives, so each
//! assertion about what reached the device is checked on the device side.
//!
//! - a write to a writable tag changes the device value (FC6 single register, FC16 for an
//!   f32, FC5 for a coil) and yields an `ok` result with the old and new value, and an
//!   audit line;
//! - a write to a read-only tag, a wrong type and a value outside the tag's limits are
//!   rejected with their reasons and audited, and nothing is written;
//! - a redelivered command id is answered with the first result and written once;
//! - a bit of a holding register is a read-modify-write that keeps the other bits, and a
//!   string fills its field.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::Duration;

use protocols::codec::command::decode_result;
use protocols::model::{Value, WriteResult, WriteStatus};
use protocols::topic::Topic;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::json;
use tests::bins;
use tests::peers;
use tests::process::Proc;
use tests::write_peer::WritesServer;

const DEADLINE: Duration = Duration::from_secs(30);

struct Harness {
    client: AsyncClient,
    results: tokio::sync::mpsc::Receiver<WriteResult>,
    command_topic: String,
    asset: String,
}

impl Harness {
    async fn send(&self, id: &str, tag: &str, value: serde_json::Value) {
        let cmd = json!({"v": 1, "kind": "write", "id": id, "tag": format!("{}/{tag}", self.asset),
                         "value": value, "user": "e2e", "comment": "test"});
        self.client
            .publish(
                &self.command_topic,
                QoS::AtLeastOnce,
                false,
                cmd.to_string(),
            )
            .await
            .unwrap();
    }

    async fn result(&mut self, id: &str) -> WriteResult {
        let wait = async {
            loop {
                let r = self.results.recv().await.expect("result channel open");
                if r.id == id {
                    return r;
                }
            }
        };
        tokio::time::timeout(DEADLINE, wait)
            .await
            .unwrap_or_else(|_| panic!("no result for {id} within {DEADLINE:?}"))
    }
}

fn config(agent: &str, data: &str, broker: &str, plc: &str, asset: &str) -> String {
    let (host, port) = plc.rsplit_once(':').unwrap();
    let (site, rest) = asset.split_once('/').unwrap();
    let (area, rest) = rest.split_once('/').unwrap();
    let (line, device) = rest.split_once('/').unwrap();
    format!(
        r#"[agent]
id = "{agent}"
site = "{site}"
area = "{area}"
line = "{line}"
data_dir = "{data}"
shutdown_grace = "500ms"

[mqtt]
broker = "mqtt://{broker}"
encoding = "json"

[[device]]
id = "{device}"
protocol = "modbus-tcp"
host = "{host}"
port = {port}
unit_id = 1
poll_interval = "200ms"

[[device.tag]]
name = "setpoint"
register = "holding"
address = 0
type = "u16"
writable = true
min = 0
max = 3000

[[device.tag]]
name = "level"
register = "holding"
address = 2
type = "f32"
writable = true

[[device.tag]]
name = "readonly"
register = "holding"
address = 6
type = "u16"

[[device.tag]]
name = "run"
register = "coil"
address = 0
type = "bool"
writable = true

[[device.tag]]
name = "flag3"
register = "holding"
address = 8
type = "bool"
bit = 3
writable = true

[[device.tag]]
name = "label"
register = "holding"
address = 9
type = "string"
length = 2
writable = true
"#
    )
}

#[tokio::test]
async fn writes_are_validated_executed_once_and_audited() {
    let name = "writes_are_validated_executed_once_and_audited";
    let Some(broker) = peers::require(name, "Mosquitto", peers::mosquitto().await) else {
        return;
    };
    let Some(plc) = peers::require(name, "pymodbus", WritesServer::start().await) else {
        return;
    };
    let run_id = format!("{:08x}", rand::random::<u32>());
    let agent_id = format!("writes-{run_id}");
    let asset = format!("e2e-{run_id}/hall/line/plc-1");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = dir.path().join("agent.toml");
    std::fs::write(
        &path,
        config(
            &agent_id,
            &data.to_string_lossy(),
            &broker,
            &plc.addr,
            &asset,
        ),
    )
    .unwrap();
    let agent = Proc::spawn_background(
        &bins::path(bins::EDGE_AGENT),
        &["run", "--config", &path.to_string_lossy()],
        dir.path(),
    )
    .unwrap();

    // Our own MQTT client: results in, commands out.
    let agent_parsed = protocols::model::AgentId::new(&agent_id).unwrap();
    let result_topic = Topic::CommandResult {
        agent: agent_parsed.clone(),
    }
    .to_string();
    let command_topic = Topic::Command {
        agent: agent_parsed,
    }
    .to_string();
    let (host, port) = broker.rsplit_once(':').unwrap();
    let mut options =
        MqttOptions::new(format!("writes-test-{run_id}"), host, port.parse().unwrap());
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    client
        .subscribe(&result_topic, QoS::AtLeastOnce)
        .await
        .unwrap();
    let (tx, results) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let r = decode_result(&p.payload).expect("results decode");
                    if tx.send(r).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    let mut h = Harness {
        client,
        results,
        command_topic,
        asset,
    };

    // Readiness: the agent subscribes after connecting; probe until it answers.
    let ready = async {
        for n in 0.. {
            let id = format!("probe-{n}");
            h.send(&id, "no_such_tag", json!(1)).await;
            if let Ok(r) = tokio::time::timeout(Duration::from_millis(500), h.result(&id)).await {
                return (n, r);
            }
        }
        unreachable!()
    };
    let (probes, probe) = tokio::time::timeout(DEADLINE, ready)
        .await
        .unwrap_or_else(|_| panic!("agent never answered a command\n{}", agent.log()));
    assert_eq!(probe.status, WriteStatus::Rejected);
    assert!(probe.error.unwrap().contains("unknown tag"));

    // 1. A valid write: FC6, old and new value.
    h.send("c-1", "setpoint", json!(1500)).await;
    let ok = h.result("c-1").await;
    assert_eq!(ok.status, WriteStatus::Ok, "{ok:?}\n{}", agent.log());
    assert_eq!(ok.old, Some(Value::UInt(1400)));
    assert_eq!(ok.new, Some(Value::UInt(1500)));
    assert_eq!(ok.error, None);

    // 2. The same id again: the first result, no second write.
    h.send("c-1", "setpoint", json!(1500)).await;
    let again = h.result("c-1").await;
    assert_eq!(again, ok);

    // 3. Rejections, each with its reason; nothing reaches the device.
    let rejections = [
        ("c-2", "readonly", json!(5), "is not writable"),
        ("c-3", "setpoint", json!("fast"), "type mismatch"),
        ("c-4", "setpoint", json!(3001), "above the tag's max 3000"),
        ("c-5", "run", json!(1), "type mismatch"),
    ];
    for (id, tag, value, reason) in &rejections {
        h.send(id, tag, value.clone()).await;
        let r = h.result(id).await;
        assert_eq!(r.status, WriteStatus::Rejected, "{r:?}");
        assert!(r.error.as_deref().unwrap().contains(reason), "{r:?}");
        assert_eq!((r.old, r.new), (None, None));
    }

    // 4. A 32-bit float (one FC16 request) and a coil (FC5).
    h.send("c-6", "level", json!(21.5)).await;
    let r = h.result("c-6").await;
    assert_eq!(r.status, WriteStatus::Ok, "{r:?}");
    assert_eq!(
        (r.old, r.new),
        (Some(Value::Float(12.5)), Some(Value::Float(21.5)))
    );
    h.send("c-7", "run", json!(true)).await;
    let r = h.result("c-7").await;
    assert_eq!(r.status, WriteStatus::Ok, "{r:?}");
    assert_eq!(
        (r.old, r.new),
        (Some(Value::Bool(false)), Some(Value::Bool(true)))
    );

    // 5. A bit of a holding register: read-modify-write, the other bits kept
    //    (0x8001 | 1 << 3 = 0x8009 = 32777); a string into its field ("OK" = 0x4F4B).
    h.send("c-8", "flag3", json!(true)).await;
    let r = h.result("c-8").await;
    assert_eq!(r.status, WriteStatus::Ok, "{r:?}");
    assert_eq!(
        (r.old, r.new),
        (Some(Value::Bool(false)), Some(Value::Bool(true)))
    );
    h.send("c-9", "label", json!("OK")).await;
    let r = h.result("c-9").await;
    assert_eq!(r.status, WriteStatus::Ok, "{r:?}");
    assert_eq!(r.new, Some(Value::Text("OK".into())));
    h.send("c-10", "label", json!("TOO LONG")).await;
    let r = h.result("c-10").await;
    assert_eq!(r.status, WriteStatus::Rejected, "{r:?}");
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .contains("does not fit the tag's 2-byte field")
    );

    // What the device received: exactly these writes (21.5f32 = 0x41AC0000).
    assert_eq!(
        plc.writes(),
        [
            "WRITE fc=6 address=0 values=1500",
            "WRITE fc=16 address=2 values=16812,0",
            "WRITE fc=5 address=0 values=1",
            "WRITE fc=6 address=8 values=32777",
            "WRITE fc=6 address=9 values=20299",
        ]
    );

    // The audit log: one line per attempt (probes included), none for the duplicate.
    let audit = std::fs::read_to_string(data.join("audit/writes.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by_id: HashMap<&str, &serde_json::Value> = lines
        .iter()
        .map(|l| (l["id"].as_str().unwrap(), l))
        .collect();
    // Probes sent before the agent subscribed never reached it; the answered one did.
    let probe_lines = by_id.keys().filter(|id| id.starts_with("probe-")).count();
    assert!((1..=probes + 1).contains(&probe_lines), "{audit}");
    assert_eq!(
        lines.len() - probe_lines,
        // c-1, the rejections, c-6 to c-10.
        1 + rejections.len() + 5,
        "{audit}"
    );
    assert_eq!(by_id.len(), lines.len(), "one line per id: {audit}");
    let c1 = by_id["c-1"];
    assert_eq!(
        (
            &c1["status"],
            &c1["user"],
            &c1["requested"],
            &c1["old"],
            &c1["new"]
        ),
        (
            &json!("ok"),
            &json!("e2e"),
            &json!(1500),
            &json!(1400),
            &json!(1500)
        )
    );
    assert_eq!(c1["tag"], json!(format!("{}/setpoint", h.asset)));
    for (id, _, value, reason) in &rejections {
        let l = by_id[id];
        assert_eq!(l["status"], json!("rejected"), "{l}");
        assert_eq!(&l["requested"], value, "{l}");
        assert!(l["reason"].as_str().unwrap().contains(reason), "{l}");
        assert!(l.get("old").is_none() && l.get("new").is_none(), "{l}");
    }
    drop(agent);
}
