//! Modbus interop: the edge agent (the real binary) against pymodbus servers (not our code)
//! over Modbus TCP, RTU over TCP and RTU on a serial line (a socat pty pair).
//!
//! - Every type and word/byte order, strings, bits of a register, coils and discrete inputs
//!   decode to the value the Python server holds; pymodbus's own converter encodes them
//!   (`tests/python/modbus_server.py`). A second device reads the same unit with
//!   `address_base = 1`.
//! - An exception-02 hole is learned: the tags around it stay good in few requests, the tag
//!   in it goes bad with "illegal data address", and `check-config` shows the plan before
//!   and after (printed; run with `--nocapture` to see it).
//! - A dead unit id on a shared bus (a serial line, an RTU-over-TCP or a Modbus TCP gateway) does not slow
//!   the 10 healthy units on it (printed: the healthy units' poll rate with and without the
//!   dead unit).
//! - A pymodbus client reads plant-sim and checks every signal against the register map
//!   file, an injected exception-02 hole, and faults set over the control socket.
//!
//! The agent publishes JSON batches to the shared Mosquitto (`SENTIA_TEST_MQTT`); the test
//! subscribes and decodes them. Under `CI=true` a missing peer (venv, socat, Mosquitto) fails.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use protocols::codec::{self, Message};
use protocols::model::{Batch, Quality, Value};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::json;
use tests::process::Proc;
use tests::{bins, peers, python};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// One tag: how the agent reads it, what the Python server holds, what must come out.
struct Tag {
    name: String,
    register: &'static str,
    address: u16,
    ty: &'static str,
    extra: Vec<(&'static str, serde_json::Value)>,
    value: serde_json::Value,
    expect: Value,
}

impl Tag {
    fn json(&self) -> serde_json::Value {
        let mut m = json!({
            "register": self.register, "address": self.address, "type": self.ty, "value": self.value,
        });
        for (k, v) in &self.extra {
            m[*k] = v.clone();
        }
        m
    }

    /// The agent's inline tag table; `base` is added to the address.
    fn toml(&self, base: u16) -> String {
        let mut s = format!(
            "{{ name = \"{}\", register = \"{}\", address = {}, type = \"{}\"",
            self.name,
            self.register,
            self.address + base,
            self.ty
        );
        for (k, v) in &self.extra {
            s.push_str(&format!(", {k} = {v}"));
        }
        s.push_str(" }");
        s
    }
}

/// Every type in every order, strings in both byte orders, bits, coils and discrete inputs.
fn all_types() -> Vec<Tag> {
    let mut tags = Vec::new();
    let mut next = 0u16;
    let mut add = |register: &'static str,
                   ty: &'static str,
                   width: u16,
                   extra: Vec<(&'static str, serde_json::Value)>,
                   value: serde_json::Value,
                   expect: Value| {
        let suffix = extra
            .iter()
            .map(|(_, v)| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join("_");
        let name = format!(
            "{ty}_{register}_{next}{}{suffix}",
            if suffix.is_empty() { "" } else { "_" }
        );
        let address = if register == "coil" || register == "discrete" {
            3
        } else {
            next
        };
        tags.push(Tag {
            name,
            register,
            address,
            ty,
            extra,
            value,
            expect,
        });
        if register == "holding" || register == "input" {
            next += width + 1; // one unread register between tags: gap fill merges them
        }
    };
    add(
        "holding",
        "u16",
        1,
        vec![],
        json!(50000),
        Value::UInt(50000),
    );
    add(
        "holding",
        "i16",
        1,
        vec![],
        json!(-12345),
        Value::Int(-12345),
    );
    for order in ["ABCD", "CDAB", "BADC", "DCBA"] {
        let o = || vec![("order", json!(order))];
        add(
            "holding",
            "u32",
            2,
            o(),
            json!(3_000_000_000u32),
            Value::UInt(3_000_000_000),
        );
        add(
            "holding",
            "i32",
            2,
            o(),
            json!(-123_456_789),
            Value::Int(-123_456_789),
        );
        add(
            "input",
            "f32",
            2,
            o(),
            json!(-1234.5),
            Value::Float(-1234.5),
        );
    }
    for order in ["ABCDEFGH", "GHEFCDAB", "BADCFEHG", "HGFEDCBA"] {
        let o = || vec![("order", json!(order))];
        let big = 18_000_000_000_000_000_000u64;
        add("holding", "u64", 4, o(), json!(big), Value::UInt(big));
        let neg = -9_000_000_000_000_000_001i64;
        add("holding", "i64", 4, o(), json!(neg), Value::Int(neg));
        add(
            "input",
            "f64",
            4,
            o(),
            json!(1234567.890625),
            Value::Float(1234567.890625),
        );
    }
    let s = |len: u16, order: &str| vec![("length", json!(len)), ("byte_order", json!(order))];
    add(
        "holding",
        "string",
        4,
        s(8, "AB"),
        json!("PUMP-7"),
        Value::Text("PUMP-7".into()),
    );
    add(
        "holding",
        "string",
        6,
        s(11, "BA"),
        json!("Ventil Aé"),
        Value::Text("Ventil Aé".into()),
    );
    add(
        "holding",
        "string",
        3,
        s(5, "AB"),
        json!("ABCDE"),
        Value::Text("ABCDE".into()),
    );
    add("coil", "bool", 1, vec![], json!(true), Value::Bool(true));
    add(
        "discrete",
        "bool",
        1,
        vec![],
        json!(true),
        Value::Bool(true),
    );
    // Bits of one input register: the server sets bits 0 and 15, clears bit 5.
    let bits_at = next;
    for (bit, on) in [(0u8, true), (5, false), (15, true)] {
        tags.push(Tag {
            name: format!("bit_{bit}"),
            register: "input",
            address: bits_at,
            ty: "bool",
            extra: vec![("bit", json!(bit))],
            value: json!(on),
            expect: Value::Bool(on),
        });
    }
    tags
}

/// A temp dir, the Python peer(s), the agent and the batches it publishes.
struct Rig {
    dir: tempfile::TempDir,
    agent_id: String,
    broker: String,
    procs: Vec<Proc>,
    batches: mpsc::Receiver<Batch>,
    _mqtt: AsyncClient,
}

impl Rig {
    async fn new(test: &str) -> Option<Self> {
        peers::require(
            test,
            "pymodbus venv",
            python::python(&["pymodbus", "serial"]),
        )?;
        let broker = peers::require(test, "Mosquitto", peers::mosquitto().await)?;
        let dir = tempfile::tempdir().unwrap();
        let agent_id = format!("interop-{:08x}", rand::random::<u32>());
        let (host, port) = broker.rsplit_once(':').unwrap();
        let mut opts =
            MqttOptions::new(format!("{agent_id}-observer"), host, port.parse().unwrap());
        opts.set_keep_alive(Duration::from_secs(10));
        let (client, mut events) = AsyncClient::new(opts, 64);
        client
            .subscribe(format!("sentia/v1/data/{agent_id}/#"), QoS::AtLeastOnce)
            .await
            .unwrap();
        // Wait for the SUBACK so no batch is missed.
        tokio::time::timeout(Duration::from_secs(10), async {
            while !matches!(events.poll().await, Ok(Event::Incoming(Packet::SubAck(_)))) {}
        })
        .await
        .expect("no SUBACK from Mosquitto");
        let (tx, batches) = mpsc::channel(100_000);
        tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if let Ok(Message::Batch(b)) = codec::decode(&p.payload)
                            && tx.try_send(b).is_err()
                        {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        Some(Self {
            dir,
            agent_id,
            broker,
            procs: Vec::new(),
            batches,
            _mqtt: client,
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts the pymodbus server for `spec`; returns its TCP port (0 for RTU).
    async fn peer(&mut self, spec: serde_json::Value) -> u16 {
        let file = self.path(&format!("spec-{}.json", self.procs.len()));
        std::fs::write(&file, spec.to_string()).unwrap();
        let py = python::python(&["pymodbus"]).unwrap();
        let proc = Proc::spawn(
            &py,
            &[
                &python::script("modbus_server.py").to_string_lossy(),
                &file.to_string_lossy(),
            ],
            self.dir.path(),
            "modbus_server",
            Duration::from_secs(30),
        )
        .await
        .unwrap();
        let port = proc.ready.get("port").map_or(0, |p| p.parse().unwrap());
        self.procs.push(proc);
        port
    }

    /// A socat pty pair; returns the two ends.
    async fn pty_pair(&mut self, test: &str) -> Option<(String, String)> {
        let socat = peers::require(test, "socat", python::socat())?;
        let (a, b) = (self.path("ttyA"), self.path("ttyB"));
        let args = [
            "pty,raw,echo=0,link=".to_owned() + &a.to_string_lossy(),
            "pty,raw,echo=0,link=".to_owned() + &b.to_string_lossy(),
        ];
        let proc = Proc::spawn_background(&socat, &[&args[0], &args[1]], self.dir.path()).unwrap();
        self.procs.push(proc);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(a.exists() && b.exists()) {
            assert!(
                Instant::now() < deadline,
                "socat did not create the pty links"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Some((
            a.to_string_lossy().into_owned(),
            b.to_string_lossy().into_owned(),
        ))
    }

    /// Writes the agent config with `devices` and returns its path.
    fn config(&self, devices: &str, poll: &str) -> PathBuf {
        let text = format!(
            r#"[agent]
id = "{id}"
site = "interop"
area = "modbus"
line = "l1"
data_dir = "{data}"

[mqtt]
broker = "mqtt://{broker}"
encoding = "json"

[defaults]
poll_interval = "{poll}"
timeout = "300ms"
reconnect_min = "100ms"
reconnect_max = "30s"

{devices}"#,
            id = self.agent_id,
            data = self.path("agent").to_string_lossy(),
            broker = self.broker,
        );
        let path = self.path("agent.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn start_agent(&mut self, config: &Path) {
        let agent = Proc::spawn_background(
            &bins::path(bins::EDGE_AGENT),
            &["run", "--config", &config.to_string_lossy()],
            self.dir.path(),
        )
        .unwrap();
        self.procs.push(agent);
    }

    fn logs(&self) -> String {
        self.procs
            .iter()
            .map(Proc::log)
            .collect::<Vec<_>>()
            .join("\n---\n")
    }

    /// The next batch of `device` (asset name), within `within`.
    async fn next_of(&mut self, device: &str, within: Duration) -> Batch {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.batches.recv()).await {
                Ok(Some(b)) if b.asset.as_str().ends_with(&format!("/{device}")) => return b,
                Ok(Some(_)) => {}
                _ => panic!("no batch from {device} within {within:?}\n{}", self.logs()),
            }
        }
    }
}

fn device_toml(id: &str, link: &str, unit: u8, extra: &str, tags: &[String]) -> String {
    format!(
        "[[device]]\nid = \"{id}\"\n{link}\nunit_id = {unit}\n{extra}\ntag = [\n  {}\n]\n\n",
        tags.join(",\n  ")
    )
}

/// Checks that `batch` holds exactly `tags`' expected values, all good.
fn assert_values(batch: &Batch, tags: &[Tag]) {
    let got: HashMap<&str, &protocols::model::Point> =
        batch.points.iter().map(|p| (p.tag.name(), p)).collect();
    for t in tags {
        let p = got
            .get(t.name.as_str())
            .unwrap_or_else(|| panic!("no point for {}", t.name));
        assert_eq!(p.quality, Quality::Good, "{}: {:?}", t.name, p);
        assert_eq!(p.value.as_ref(), Some(&t.expect), "{}", t.name);
    }
    assert_eq!(batch.points.len(), tags.len());
}

async fn every_type_over(test: &str, transport: &str) {
    let Some(mut rig) = Rig::new(test).await else {
        return;
    };
    let tags = all_types();
    let spec_tags: Vec<_> = tags.iter().map(Tag::json).collect();
    let link = if transport == "rtu" {
        let Some((server_end, agent_end)) = rig.pty_pair(test).await else {
            return;
        };
        rig.peer(json!({
            "transport": "rtu",
            // Linux ptys refuse parity bits (EINVAL), so the line is 8N1 here.
            "serial": {"port": server_end, "baudrate": 19200, "parity": "N", "stopbits": 1},
            "units": {"3": {"tags": spec_tags}},
        }))
        .await;
        format!(
            "protocol = \"modbus-rtu\"\nport = \"{agent_end}\"\nbaud_rate = 19200\nparity = \"none\""
        )
    } else {
        let port = rig
            .peer(json!({"transport": transport, "units": {"3": {"tags": spec_tags}}}))
            .await;
        let protocol = if transport == "tcp" {
            "modbus-tcp"
        } else {
            "modbus-rtu-over-tcp"
        };
        format!("protocol = \"{protocol}\"\nhost = \"127.0.0.1\"\nport = {port}")
    };
    let zero: Vec<String> = tags.iter().map(|t| t.toml(0)).collect();
    let one: Vec<String> = tags.iter().map(|t| t.toml(1)).collect();
    // Over TCP a second device reads the same unit with 1-based addresses (its own
    // connection). Devices on a shared RTU link must have distinct unit ids, so the RTU
    // transports check 0-based addressing only (1-based is transport-independent).
    let mut devices = device_toml("zero-based", &link, 3, "", &zero);
    if transport == "tcp" {
        devices += &device_toml("one-based", &link, 3, "address_base = 1", &one);
    }
    let config = rig.config(&devices, "200ms");
    rig.start_agent(&config);
    let batch = rig.next_of("zero-based", Duration::from_secs(20)).await;
    // The first batch may predate the connection; wait for a good one.
    let mut batch = batch;
    for _ in 0..20 {
        if batch.points.iter().all(|p| p.quality == Quality::Good) {
            break;
        }
        batch = rig.next_of("zero-based", Duration::from_secs(10)).await;
    }
    assert_values(&batch, &tags);
    if transport == "tcp" {
        let mut batch = rig.next_of("one-based", Duration::from_secs(10)).await;
        for _ in 0..20 {
            if batch.points.iter().all(|p| p.quality == Quality::Good) {
                break;
            }
            batch = rig.next_of("one-based", Duration::from_secs(10)).await;
        }
        assert_values(&batch, &tags);
    }
    println!(
        "{test}: {} tags decoded to the pymodbus values over {transport}",
        tags.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_and_order_over_modbus_tcp() {
    every_type_over("every_type_and_order_over_modbus_tcp", "tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_and_order_over_rtu_over_tcp() {
    every_type_over("every_type_and_order_over_rtu_over_tcp", "rtu-over-tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_and_order_over_rtu_serial() {
    every_type_over("every_type_and_order_over_rtu_serial", "rtu").await;
}

fn check_config(config: &Path) -> String {
    let out = std::process::Command::new(bins::path(bins::EDGE_AGENT))
        .args(["check-config", &config.to_string_lossy()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_delay_spaces_the_requests_of_a_cycle() {
    let test = "request_delay_spaces_the_requests_of_a_cycle";
    let Some(mut rig) = Rig::new(test).await else {
        return;
    };
    // Three tables, so three requests per cycle; points carry the time their request left.
    let tags = [
        ("c", "coil", "bool"),
        ("h", "holding", "u16"),
        ("i", "input", "u16"),
    ];
    let spec: Vec<_> = tags
        .iter()
        .map(|(_, reg, ty)| json!({"register": reg, "address": 0, "type": ty, "value": 1}))
        .collect();
    let port = rig
        .peer(json!({"transport": "tcp", "units": {"1": {"tags": spec}}}))
        .await;
    let link = format!("protocol = \"modbus-tcp\"\nhost = \"127.0.0.1\"\nport = {port}");
    let toml: Vec<String> = tags
        .iter()
        .map(|(n, reg, ty)| {
            format!("{{ name = \"{n}\", register = \"{reg}\", address = 0, type = \"{ty}\" }}")
        })
        .collect();
    let devices = device_toml("slow", &link, 1, "request_delay = \"150ms\"", &toml);
    let config = rig.config(&devices, "1s");
    rig.start_agent(&config);
    let mut checked = 0;
    while checked < 3 {
        let b = rig.next_of("slow", Duration::from_secs(10)).await;
        if !b.points.iter().all(|p| p.quality == Quality::Good) {
            continue;
        }
        let mut ts: Vec<i64> = b.points.iter().map(|p| p.ts_ns).collect();
        ts.sort_unstable();
        for pair in ts.windows(2) {
            let gap = Duration::from_nanos(u64::try_from(pair[1] - pair[0]).unwrap());
            assert!(gap >= Duration::from_millis(150), "requests {gap:?} apart");
        }
        checked += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exception_02_hole_is_learned_and_read_around() {
    let test = "exception_02_hole_is_learned_and_read_around";
    let Some(mut rig) = Rig::new(test).await else {
        return;
    };
    // Holding 0..27, one u16 every 3 registers; register 10 (between t9 and t12, read only
    // as gap fill) and register 15 (tag t15) are refused. Configured 1-based, as many PLC
    // manuals number registers.
    let tags: Vec<Tag> = (0..10u16)
        .map(|i| Tag {
            name: format!("t{}", i * 3),
            register: "holding",
            address: i * 3,
            ty: "u16",
            extra: vec![],
            value: json!(1000 + i * 3),
            expect: Value::UInt(u64::from(1000 + i * 3)),
        })
        .collect();
    let spec_tags: Vec<_> = tags.iter().map(Tag::json).collect();
    let port = rig
        .peer(json!({
            "transport": "tcp",
            "units": {"1": {"tags": spec_tags, "holes": [["holding", 10, 1], ["holding", 15, 1]]}},
        }))
        .await;
    let link = format!("protocol = \"modbus-tcp\"\nhost = \"127.0.0.1\"\nport = {port}");
    let toml: Vec<String> = tags.iter().map(|t| t.toml(1)).collect();
    let devices = device_toml("plc", &link, 1, "address_base = 1", &toml);
    let config = rig.config(&devices, "200ms");
    let before = check_config(&config);
    assert!(before.contains("1 requests per cycle"), "{before}");
    rig.start_agent(&config);

    // Wait until a batch has every tag but t15 good and t15 bad with the reason.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let b = rig.next_of("plc", Duration::from_secs(10)).await;
        let good = b
            .points
            .iter()
            .filter(|p| p.tag.name() != "t15")
            .all(|p| p.quality == Quality::Good);
        let hole = b.points.iter().find(|p| p.tag.name() == "t15").unwrap();
        if good {
            assert!(
                matches!(&hole.quality, Quality::Bad(r) if r.contains("illegal data address")),
                "{hole:?}"
            );
            for t in tags.iter().filter(|t| t.name != "t15") {
                let p = b.points.iter().find(|p| p.tag.name() == t.name).unwrap();
                assert_eq!(p.value.as_ref(), Some(&t.expect));
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never read around the hole\n{}",
            rig.logs()
        );
    }
    // The learned holes are stored; check-config shows the plan the agent now runs.
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let after = check_config(&config);
        // The gap between t9 and t12 (protocol 10..11) and t15 (15), shown 1-based.
        if after.contains("hole holding 16..16") && after.contains("hole holding 11..12") {
            break after;
        }
        assert!(
            Instant::now() < deadline,
            "holes not stored:\n{after}\n{}",
            rig.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let requests = |s: &str| {
        s.lines()
            .filter(|l| l.trim_start().starts_with("FC03"))
            .count()
    };
    assert!(requests(&after) <= 3, "{after}");
    println!("plan before hole learning:\n{before}\nplan after hole learning:\n{after}");
}

/// Good batches per second of each healthy unit over `window`, after a settling time, and
/// the quality reasons seen on the other units' points.
async fn healthy_rate(rig: &mut Rig, units: &[u8], window: Duration) -> (f64, Vec<String>) {
    let settle = Instant::now() + Duration::from_secs(3);
    while Instant::now() < settle {
        let _ = tokio::time::timeout(Duration::from_millis(100), rig.batches.recv()).await;
    }
    let mut counts: HashMap<String, u32> = HashMap::new();
    let mut others = Vec::new();
    let healthy: Vec<String> = units.iter().map(|u| format!("u{u}")).collect();
    let end = Instant::now() + window;
    while let Ok(Some(b)) = tokio::time::timeout(
        end.saturating_duration_since(Instant::now()),
        rig.batches.recv(),
    )
    .await
    {
        let unit = b.asset.as_str().rsplit('/').next().unwrap().to_owned();
        if !healthy.contains(&unit) {
            others.extend(b.points.iter().filter_map(|p| match &p.quality {
                Quality::Bad(r) => Some(r.clone()),
                _ => None,
            }));
        } else if b.points.iter().all(|p| p.quality == Quality::Good) {
            *counts.entry(unit).or_default() += 1;
        }
        if Instant::now() >= end {
            break;
        }
    }
    let per_unit: Vec<f64> = units
        .iter()
        .map(|u| {
            f64::from(counts.get(&format!("u{u}")).copied().unwrap_or(0)) / window.as_secs_f64()
        })
        .collect();
    (per_unit.iter().sum::<f64>() / per_unit.len() as f64, others)
}

/// The dead unit on the bus: none, behind its circuit breaker, or without one.
#[derive(Clone, Copy, PartialEq)]
enum Dead {
    No,
    WithBreaker,
    WithoutBreaker,
}

async fn bus_rate(test: &str, transport: &str, dead: Dead) -> Option<f64> {
    let mut rig = Rig::new(test).await?;
    let healthy: Vec<u8> = (1..=10).collect();
    let units: serde_json::Map<String, serde_json::Value> = healthy
        .iter()
        .map(|u| {
            let tag = json!({"register": "holding", "address": 0, "type": "u16", "value": u});
            (u.to_string(), json!({"tags": [tag]}))
        })
        .collect();
    let link = if transport == "rtu" {
        let (server_end, agent_end) = rig.pty_pair(test).await?;
        rig.peer(json!({
            "transport": "rtu",
            "serial": {"port": server_end, "baudrate": 115200, "parity": "N", "stopbits": 1},
            "units": units,
        }))
        .await;
        format!(
            "protocol = \"modbus-rtu\"\nport = \"{agent_end}\"\nbaud_rate = 115200\nparity = \"none\""
        )
    } else if transport == "tcp" {
        // A Modbus TCP gateway: the devices share its connection only when asked to.
        let port = rig.peer(json!({"transport": "tcp", "units": units})).await;
        format!(
            "protocol = \"modbus-tcp\"\nhost = \"127.0.0.1\"\nport = {port}\nshare_connection = true"
        )
    } else {
        let port = rig
            .peer(json!({"transport": transport, "units": units}))
            .await;
        format!("protocol = \"modbus-rtu-over-tcp\"\nhost = \"127.0.0.1\"\nport = {port}")
    };
    let tag = ["{ name = \"v\", register = \"holding\", address = 0, type = \"u16\" }".to_owned()];
    let mut devices: String = healthy
        .iter()
        .map(|u| device_toml(&format!("u{u}"), &link, *u, "", &tag))
        .collect();
    match dead {
        Dead::No => {}
        Dead::WithBreaker => devices += &device_toml("u11", &link, 11, "", &tag),
        Dead::WithoutBreaker => {
            devices += &device_toml("u11", &link, 11, "breaker_timeouts = 0", &tag);
        }
    }
    let config = rig.config(&devices, "100ms");
    rig.start_agent(&config);
    let (rate, reasons) = healthy_rate(&mut rig, &healthy, Duration::from_secs(8)).await;
    if dead == Dead::WithBreaker {
        assert!(
            rig.logs().contains("circuit open"),
            "the dead unit's circuit never opened\n{}",
            rig.logs()
        );
        // The dead unit keeps publishing, bad with the breaker's reason.
        assert!(
            reasons
                .iter()
                .any(|r| r.starts_with("unit 11 not answering; circuit open, next probe in")),
            "{reasons:?}"
        );
    }
    Some(rate)
}

async fn dead_unit_on(test: &str, transport: &str) {
    let Some(baseline) = bus_rate(test, transport, Dead::No).await else {
        return;
    };
    let Some(with_dead) = bus_rate(test, transport, Dead::WithBreaker).await else {
        return;
    };
    println!(
        "{transport} bus, 10 healthy units polled every 100ms (timeout 300ms): \
         {baseline:.2} polls/s per unit alone, {with_dead:.2} polls/s per unit with a dead unit 11"
    );
    assert!(baseline > 5.0, "baseline {baseline:.2}/s");
    assert!(
        with_dead >= 0.8 * baseline,
        "with a dead unit {with_dead:.2}/s vs {baseline:.2}/s alone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_unit_does_not_slow_the_others_on_an_rtu_over_tcp_gateway() {
    let test = "a_dead_unit_does_not_slow_the_others_on_an_rtu_over_tcp_gateway";
    dead_unit_on(test, "rtu-over-tcp").await;
    // The reference: the same dead unit with its breaker off holds the bus for a timeout on
    // every poll, and the healthy units pay for it.
    let Some(without) = bus_rate(test, "rtu-over-tcp", Dead::WithoutBreaker).await else {
        return;
    };
    let Some(with) = bus_rate(test, "rtu-over-tcp", Dead::WithBreaker).await else {
        return;
    };
    println!(
        "rtu-over-tcp bus, dead unit 11: {with:.2} polls/s per healthy unit with its circuit \
         breaker, {without:.2} with breaker_timeouts = 0"
    );
    assert!(
        without < 0.8 * with,
        "{without:.2}/s without vs {with:.2}/s with"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_unit_does_not_slow_the_others_behind_a_shared_tcp_gateway() {
    let test = "a_dead_unit_does_not_slow_the_others_behind_a_shared_tcp_gateway";
    dead_unit_on(test, "tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_unit_does_not_slow_the_others_on_a_serial_line() {
    dead_unit_on(
        "a_dead_unit_does_not_slow_the_others_on_a_serial_line",
        "rtu",
    )
    .await;
}

/// One read from a fresh connection, with a timeout: `None` when nothing came back.
async fn read_unit(addr: std::net::SocketAddr, unit: u8) -> Option<Vec<u16>> {
    use tokio_modbus::client::Reader;
    let mut ctx = tokio_modbus::client::tcp::connect_slave(addr, tokio_modbus::Slave(unit))
        .await
        .ok()?;
    let reply = tokio::time::timeout(Duration::from_millis(500), ctx.read_input_registers(0, 1))
        .await
        .ok()?;
    reply.ok()?.ok()
}

async fn control(stream: &mut tokio::io::BufStream<tokio::net::TcpStream>, line: &str) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    stream
        .write_all(format!("{line}\n").as_bytes())
        .await
        .unwrap();
    stream.flush().await.unwrap();
    let mut reply = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_line(&mut reply))
        .await
        .unwrap()
        .unwrap();
    reply.trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymodbus_client_reads_plant_sim_as_its_map_says() {
    let test = "pymodbus_client_reads_plant_sim_as_its_map_says";
    let Some(py) = peers::require(test, "pymodbus venv", python::python(&["pymodbus"])) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let map_path = dir.path().join("map.toml");
    let sim = Proc::spawn(
        &bins::path(bins::PLANT_SIM),
        &[
            "--machines",
            "6",
            "--seed",
            "7",
            "--listen",
            "127.0.0.1:0",
            "--tick",
            "0s",
            "--map-out",
            &map_path.to_string_lossy(),
            "--control",
            "127.0.0.1:0",
            "--fault",
            "exception 0 holding 500 2 2",
        ],
        dir.path(),
        "plant-sim",
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    let map = simulators::read_map(&map_path).unwrap();
    let plant = simulators::Plant::new(map.seed, map.machines).unwrap();
    let mut expected = serde_json::Map::new();
    for (i, m) in map.entries.iter().enumerate() {
        let signals: serde_json::Map<String, serde_json::Value> = m
            .signals
            .iter()
            .map(|s| {
                let v = match plant.engineering_value(i, &s.name).unwrap() {
                    simulators::EngValue::Bool(b) => json!(b),
                    simulators::EngValue::Int(n) => json!(n),
                    simulators::EngValue::Float(f) => json!(f),
                };
                (s.name.clone(), v)
            })
            .collect();
        expected.insert(m.id.clone(), signals.into());
    }
    let expected_path = dir.path().join("expected.json");
    std::fs::write(
        &expected_path,
        serde_json::Value::from(expected).to_string(),
    )
    .unwrap();
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(&py)
            .arg(python::script("modbus_client_check.py"))
            .arg(&map_path)
            .arg(&expected_path)
            // The injected hole on machine 0 (unit 1), and a read outside the bank.
            .args(["1:holding:500:2", "1:holding:512:2"])
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        sim.log()
    );
    println!("{test}: {}", stdout.trim());

    // Faults on demand over the control socket: a silent unit, then cleared.
    let modbus: std::net::SocketAddr = sim.ready_value("modbus").unwrap().parse().unwrap();
    let control_addr = sim.ready_value("control").unwrap().to_owned();
    let mut ctl =
        tokio::io::BufStream::new(tokio::net::TcpStream::connect(&control_addr).await.unwrap());
    assert!(read_unit(modbus, 2).await.is_some());
    assert_eq!(control(&mut ctl, "silence 1").await, "ok");
    assert_eq!(read_unit(modbus, 2).await, None, "unit 2 still answers");
    assert!(
        read_unit(modbus, 1).await.is_some(),
        "unit 1 stopped answering"
    );
    assert!(
        control(&mut ctl, "silence 99")
            .await
            .starts_with("error no machine 99")
    );
    assert!(
        control(&mut ctl, "explode 1")
            .await
            .starts_with("error unknown command")
    );
    assert_eq!(control(&mut ctl, "disconnect 0").await, "ok");
    assert_eq!(read_unit(modbus, 3).await, None, "listener still accepts");
    assert_eq!(control(&mut ctl, "clear all").await, "ok");
    assert!(read_unit(modbus, 2).await.is_some(), "unit 2 not back");
}
