//! OPC UA interop: the edge agent against an OPC UA server written by others (asyncua,
//! `tests/python/opcua_server.py`), so a misreading of the specification cannot hide by being
//! on both sides.
//!
//! The agent publishes JSON batches to the machine's Mosquitto (`SENTIA_TEST_MQTT`); an
//! observer subscribed to the agent's data topics collects every point. Both the Python venv
//! and Mosquitto follow the CI rule (`tests::peers::require`): missing under `CI=true` fails.
//!
//! The peer enforces MaxNodesPerRead = MaxMonitoredItemsPerCall = 2 (a larger request is
//! refused with BadTooManyOperations), so every test below also proves that the agent reads
//! those limits and batches its requests.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use protocols::codec::{self, Message};
use protocols::model::{Quality, Value};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tests::peers;
use tests::process::Proc;
use tests::python;

/// One point as the observer saw it: timestamp, value, quality, and when the observer
/// received it (ns since the Unix epoch).
type Seen1 = (i64, Option<Value>, Quality, i64);

/// Every point the observer saw, per tag name.
type Seen = Arc<Mutex<HashMap<String, Vec<Seen1>>>>;

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

struct Observer {
    seen: Seen,
    _client: AsyncClient,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Observer {
    async fn start(broker: &str, agent: &str) -> anyhow::Result<Self> {
        let (host, port) = broker.rsplit_once(':').context("broker host:port")?;
        let mut options = MqttOptions::new(format!("{agent}-observer"), host, port.parse()?);
        options.set_keep_alive(Duration::from_secs(5));
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let seen: Seen = Arc::default();
        let (subacked_tx, mut subacked) = tokio::sync::mpsc::channel(1);
        let task = tokio::spawn({
            let seen = seen.clone();
            async move {
                loop {
                    match eventloop.poll().await {
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            if let Ok(Message::Batch(b)) = codec::decode(&p.payload) {
                                let received = now_ns();
                                let mut seen = seen.lock().expect("observer lock");
                                for pt in b.points {
                                    seen.entry(pt.tag.name().to_owned())
                                        .or_default()
                                        .push((pt.ts_ns, pt.value, pt.quality, received));
                                }
                            }
                        }
                        Ok(Event::Incoming(Packet::SubAck(_))) => {
                            let _ = subacked_tx.try_send(());
                        }
                        Ok(_) => {}
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            }
        });
        client
            .subscribe(format!("sentia/v1/data/{agent}/#"), QoS::AtLeastOnce)
            .await?;
        tokio::time::timeout(Duration::from_secs(10), subacked.recv())
            .await
            .context("no SUBACK within 10 s")?
            .context("observer task ended")?;
        Ok(Self {
            seen,
            _client: client,
            task,
        })
    }

    fn points(&self, tag: &str) -> Vec<Seen1> {
        self.seen
            .lock()
            .expect("observer lock")
            .get(tag)
            .cloned()
            .unwrap_or_default()
    }

    /// Waits up to `deadline` for `check` to hold.
    async fn wait_for(
        &self,
        deadline: Duration,
        what: &str,
        logs: impl Fn() -> String,
        check: impl Fn(&Self) -> bool,
    ) {
        let until = tokio::time::Instant::now() + deadline;
        while tokio::time::Instant::now() < until {
            if check(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let seen = self.seen.lock().expect("observer lock").clone();
        panic!(
            "{what} not seen within {deadline:?}; seen: {seen:#?}\n{}",
            logs()
        );
    }
}

/// Peers for one test: the Python interpreter and the broker, or `None` (skipped).
async fn peers(test: &str) -> Option<(PathBuf, String)> {
    let py = peers::require(test, "asyncua venv", python::python(&["asyncua"]))?;
    let broker = peers::require(test, "Mosquitto", peers::mosquitto().await)?;
    Some((py, broker))
}

async fn start_peer(py: &Path, dir: &Path) -> anyhow::Result<Proc> {
    let script = python::script("opcua_server.py");
    let pki = dir.join("peer-pki");
    Proc::spawn(
        py,
        &[
            script.to_str().context("script path")?,
            pki.to_str().context("pki path")?,
        ],
        dir,
        "opcua-peer",
        Duration::from_secs(30),
    )
    .await
}

fn agent_config(agent: &str, broker: &str, dir: &Path, device: &str) -> String {
    format!(
        r#"[agent]
id = "{agent}"
site = "interop"
area = "opcua"
line = "l1"
data_dir = "{data}"

[mqtt]
broker = "mqtt://{broker}"
encoding = "json"
reconnect_min = "100ms"
reconnect_max = "1s"

{device}
"#,
        data = dir.join("agent-data").display()
    )
}

fn start_agent(dir: &Path, config: &str) -> anyhow::Result<Proc> {
    let path = dir.join("agent.toml");
    std::fs::write(&path, config)?;
    Proc::spawn_background(
        &tests::bins::path("edge-agent"),
        &["run", "--config", path.to_str().context("config path")?],
        dir,
    )
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::random::<u32>())
}

fn float(v: &Option<Value>) -> Option<f64> {
    match v {
        Some(Value::Float(f)) => Some(*f),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_subscribes_with_deadband_and_polls_asyncua() {
    let Some((py, broker)) = peers("agent_subscribes_with_deadband_and_polls_asyncua").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let peer = start_peer(&py, dir.path()).await.unwrap();
    let port = peer.ready_value("port").unwrap().to_owned();
    let agent_id = unique("opcua-interop");
    let observer = Observer::start(&broker, &agent_id).await.unwrap();
    let device = format!(
        r#"[[device]]
id = "press"
protocol = "opcua"
endpoint = "opc.tcp://127.0.0.1:{port}/sentia/"
poll_interval = "500ms"

[[device.tag]]
name = "level_all"
node_id = "ns=2;s=Level"
sampling_interval = "50ms"
queue_size = 20

[[device.tag]]
name = "level_db"
node_id = "ns=2;s=Level"
sampling_interval = "50ms"
queue_size = 20
deadband = {{ type = "absolute", value = 5.0 }}

[[device.tag]]
name = "nope"
node_id = "ns=2;s=Nope"

[[device.tag]]
name = "counter"
node_id = "ns=2;s=Counter"
mode = "poll"

[[device.tag]]
name = "name"
node_id = "ns=2;s=Name"
mode = "poll"

[[device.tag]]
name = "broken"
node_id = "ns=2;s=Broken"
mode = "poll"

[[device.tag]]
name = "shaky"
node_id = "ns=2;s=Shaky"
mode = "poll"

[[device.tag]]
name = "t1"
node_id = "ns=2;s=Temp1"
mode = "poll"

[[device.tag]]
name = "t4"
node_id = "ns=2;s=Temp4"
mode = "poll"
"#
    );
    let agent = start_agent(
        dir.path(),
        &agent_config(&agent_id, &broker, dir.path(), &device),
    )
    .unwrap();
    let logs = || {
        format!(
            "--- agent ---\n{}\n--- peer ---\n{}",
            agent.log(),
            peer.log()
        )
    };
    observer
        .wait_for(
            Duration::from_secs(30),
            "3 deadband reports and 6 polls",
            logs,
            |o| o.points("level_db").len() >= 3 && o.points("counter").len() >= 6,
        )
        .await;

    // Without a deadband every 0.1 step is reported (sampling 50 ms, queue 20).
    let all: Vec<f64> = observer
        .points("level_all")
        .iter()
        .filter_map(|p| float(&p.1))
        .collect();
    let small_steps = all.windows(2).filter(|w| (w[1] - w[0]).abs() < 1.0).count();
    assert!(
        small_steps >= 5,
        "level_all should see the 0.1 steps: {all:?}"
    );
    // With an absolute deadband of 5 only the jumps of ~100 are.
    let db: Vec<f64> = observer
        .points("level_db")
        .iter()
        .filter_map(|p| float(&p.1))
        .collect();
    assert!(
        db.windows(2).all(|w| (w[1] - w[0]).abs() > 5.0),
        "level_db reported a change within the deadband: {db:?}"
    );
    assert!(
        db.len() * 3 < all.len(),
        "deadband filtered too little: {db:?} vs {all:?}"
    );
    // Source timestamps are the server's and increase.
    let ts: Vec<i64> = observer.points("level_all").iter().map(|p| p.0).collect();
    assert!(ts.windows(2).all(|w| w[0] < w[1]), "{ts:?}");

    // Polled reads: 6 polled tags with MaxNodesPerRead = 2 must be read in 3 requests.
    let counter: Vec<i64> = observer
        .points("counter")
        .iter()
        .filter_map(|p| match p.1 {
            Some(Value::Int(i)) => Some(i),
            _ => None,
        })
        .collect();
    assert!(
        counter.len() >= 6
            && counter.windows(2).all(|w| w[0] <= w[1])
            && counter.last() > counter.first(),
        "{counter:?}"
    );
    let name = observer.points("name");
    assert_eq!(name[0].1, Some(Value::Text("press-7".into())));
    assert_eq!(name[0].2, Quality::Good);
    assert_eq!(observer.points("t1")[0].1, Some(Value::Float(20.5)));
    assert_eq!(observer.points("t4")[0].1, Some(Value::Float(23.5)));
    let broken = observer.points("broken");
    assert_eq!(broken[0].1, None);
    assert_eq!(broken[0].2, Quality::Bad("BadSensorFailure".into()));
    let shaky = observer.points("shaky");
    assert_eq!(shaky[0].1, Some(Value::Float(1.25)));
    assert_eq!(
        shaky[0].2,
        Quality::Uncertain("UncertainLastUsableValue".into())
    );
    let nope = observer.points("nope");
    assert_eq!(nope[0].2, Quality::Bad("BadNodeIdUnknown".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_refuses_an_untrusted_server_until_its_certificate_is_moved_to_trusted() {
    let test = "agent_refuses_an_untrusted_server_until_its_certificate_is_moved_to_trusted";
    let Some((py, broker)) = peers(test).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let peer = start_peer(&py, dir.path()).await.unwrap();
    let port = peer.ready_value("port").unwrap().to_owned();
    let agent_id = unique("opcua-secure");
    let observer = Observer::start(&broker, &agent_id).await.unwrap();
    let password = dir.path().join("opcua.pass");
    std::fs::write(&password, "secret\n").unwrap();
    let device = format!(
        r#"[[device]]
id = "press"
protocol = "opcua"
endpoint = "opc.tcp://127.0.0.1:{port}/sentia/"
security_policy = "Basic256Sha256"
security_mode = "SignAndEncrypt"
auth = "username"
username = "operator"
password_file = "{password}"
poll_interval = "300ms"
reconnect_min = "200ms"
reconnect_max = "500ms"

[[device.tag]]
name = "counter"
node_id = "ns=2;s=Counter"

[[device.tag]]
name = "name"
node_id = "ns=2;s=Name"
mode = "poll"
"#,
        password = password.display()
    );
    let agent = start_agent(
        dir.path(),
        &agent_config(&agent_id, &broker, dir.path(), &device),
    )
    .unwrap();
    let logs = || {
        format!(
            "--- agent ---\n{}\n--- peer ---\n{}",
            agent.log(),
            peer.log()
        )
    };
    observer
        .wait_for(
            Duration::from_secs(30),
            "bad points: not trusted",
            &logs,
            |o| {
                o.points("name")
                    .iter()
                    .filter(|p| p.2 == Quality::Bad("server certificate not trusted".into()))
                    .count()
                    >= 3
            },
        )
        .await;
    assert!(
        observer.points("name").iter().all(|p| !p.2.is_good()),
        "data from an untrusted server"
    );
    let pki = dir.path().join("agent-data/opcua-pki");
    let rejected: Vec<PathBuf> = std::fs::read_dir(pki.join("rejected"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    let log = agent.log();
    let advice = format!(
        "mv '{}' '{}'/",
        rejected[0].display(),
        pki.join("trusted").display()
    );
    assert!(
        log.contains(&advice),
        "the log should say `{advice}`:\n{log}"
    );
    assert_eq!(
        log.matches("server certificate not trusted: it was stored as")
            .count(),
        1,
        "reported once:\n{log}"
    );
    assert!(
        !log.contains("secret"),
        "the password leaked into the log:\n{log}"
    );
    assert!(
        pki.join("own/cert.der").exists(),
        "client certificate not persisted"
    );

    // Trusting it is a file move; the agent picks it up on its next attempt, no restart.
    let name = rejected[0].file_name().unwrap();
    std::fs::rename(&rejected[0], pki.join("trusted").join(name)).unwrap();
    observer
        .wait_for(
            Duration::from_secs(30),
            "good points after trusting",
            &logs,
            |o| {
                o.points("name").iter().any(|p| p.2.is_good())
                    && o.points("counter").iter().filter(|p| p.2.is_good()).count() >= 2
            },
        )
        .await;
    let name = observer.points("name");
    let good = name.iter().find(|p| p.2.is_good()).unwrap();
    assert_eq!(good.1, Some(Value::Text("press-7".into())));
}

/// plant-sim with OPC UA on port 0, frozen at tick 0 so every value is known.
async fn start_plant_sim(dir: &Path, machines: usize) -> anyhow::Result<(Proc, PathBuf)> {
    start_plant_sim_on(dir, machines, "127.0.0.1:0").await
}

async fn start_plant_sim_on(
    dir: &Path,
    machines: usize,
    opcua: &str,
) -> anyhow::Result<(Proc, PathBuf)> {
    start_plant_sim_with(dir, machines, opcua, "0s").await
}

async fn start_plant_sim_with(
    dir: &Path,
    machines: usize,
    opcua: &str,
    tick: &str,
) -> anyhow::Result<(Proc, PathBuf)> {
    let map = dir.join("map.toml");
    let pki = dir.join("sim-pki");
    let faults = dir.join("opcua-faults.txt");
    let machines = machines.to_string();
    let sim = Proc::spawn(
        &tests::bins::path("plant-sim"),
        &[
            "--machines",
            &machines,
            "--listen",
            "127.0.0.1:0",
            "--tick",
            tick,
            "--opcua-faults",
            faults.to_str().context("faults path")?,
            "--control",
            "127.0.0.1:0",
            "--opcua",
            opcua,
            "--opcua-pki",
            pki.to_str().context("pki path")?,
            "--opcua-user",
            "operator:plant-pass",
            "--map-out",
            map.to_str().context("map path")?,
        ],
        dir,
        "plant-sim",
        Duration::from_secs(30),
    )
    .await?;
    Ok((sim, map))
}

/// Checks one machine's values (JSON from the asyncua client) against the plant model.
fn assert_matches_model(plant: &simulators::Plant, index: usize, signals: &serde_json::Value) {
    let info = plant.machine(index).unwrap();
    for def in info.kind().signals() {
        let got = &signals[def.name];
        let want = plant.engineering_value(index, def.name).unwrap();
        let ok = match want {
            simulators::EngValue::Bool(b) => got.as_bool() == Some(b),
            simulators::EngValue::Int(i) => got.as_i64() == Some(i),
            simulators::EngValue::Float(f) => got.as_f64() == Some(f),
        };
        assert!(
            ok,
            "{}.{}: OPC UA {got} vs model {want:?}",
            info.id(),
            def.name
        );
    }
}

async fn asyncua_reads_plant_sim(secure: bool) {
    let test = if secure {
        "asyncua_client_reads_plant_sim_with_basic256sha256_sign_and_encrypt"
    } else {
        "asyncua_client_reads_plant_sim_without_security"
    };
    let Some(py) = peers::require(test, "asyncua venv", python::python(&["asyncua"])) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (sim, map) = start_plant_sim(dir.path(), 3).await.unwrap();
    let script = python::script("opcua_client.py");
    let mut cmd = tokio::process::Command::new(&py);
    cmd.arg(&script)
        .arg(&map)
        .arg(dir.path().join("client-pki"));
    if secure {
        cmd.args(["--secure", "--user", "operator:plant-pass"]);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("asyncua client timed out")
        .unwrap();
    assert!(
        out.status.success(),
        "asyncua client failed: {}\n--- plant-sim ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        sim.log()
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected_security = if secure {
        "Basic256Sha256/SignAndEncrypt"
    } else {
        "None"
    };
    assert_eq!(json["security"], expected_security);
    let plant = simulators::Plant::new(42, 3).unwrap();
    for info in plant.machines() {
        let machine = &json["machines"][info.id()];
        assert_eq!(machine["browse_name"], info.id());
        assert_matches_model(&plant, info.index(), &machine["signals"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asyncua_client_reads_plant_sim_without_security() {
    asyncua_reads_plant_sim(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asyncua_client_reads_plant_sim_with_basic256sha256_sign_and_encrypt() {
    asyncua_reads_plant_sim(true).await;
}

/// The agent against plant-sim's own OPC UA server (both async-opcua) over the strongest
/// policy and a password user; the unknown server certificate is accepted through
/// `trust_server_certificate` (the refusal path is covered against asyncua above). Half the
/// signals are subscribed, half polled; every value must equal the plant model's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_reads_plant_sim_over_aes256_sha256_rsapss() {
    let test = "agent_reads_plant_sim_over_aes256_sha256_rsapss";
    let Some(broker) = peers::require(test, "Mosquitto", peers::mosquitto().await) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (sim, map) = start_plant_sim(dir.path(), 2).await.unwrap();
    let map = simulators::read_map(&map).unwrap();
    let endpoint = map.opcua_endpoint.clone().unwrap();
    let machine = &map.entries[0];
    let password = dir.path().join("opcua.pass");
    std::fs::write(&password, "plant-pass").unwrap();
    let mut device = format!(
        r#"[[device]]
id = "{id}"
protocol = "opcua"
endpoint = "{endpoint}"
security_policy = "Aes256_Sha256_RsaPss"
security_mode = "SignAndEncrypt"
auth = "username"
username = "operator"
password_file = "{password}"
trust_server_certificate = true
poll_interval = "200ms"
"#,
        id = machine.id,
        password = password.display()
    );
    for (i, s) in machine.signals.iter().enumerate() {
        let node = map.opcua_node_id(&machine.id, &s.name).unwrap();
        let mode = if i % 2 == 0 { "subscribe" } else { "poll" };
        device.push_str(&format!(
            "\n[[device.tag]]\nname = \"{}\"\nnode_id = \"{node}\"\nmode = \"{mode}\"\n",
            s.name
        ));
    }
    let agent_id = unique("opcua-sim");
    let observer = Observer::start(&broker, &agent_id).await.unwrap();
    let agent = start_agent(
        dir.path(),
        &agent_config(&agent_id, &broker, dir.path(), &device),
    )
    .unwrap();
    let logs = || {
        format!(
            "--- agent ---\n{}\n--- plant-sim ---\n{}",
            agent.log(),
            sim.log()
        )
    };
    let names: Vec<String> = machine.signals.iter().map(|s| s.name.clone()).collect();
    observer
        .wait_for(
            Duration::from_secs(40),
            "a good point for every signal",
            logs,
            |o| {
                names
                    .iter()
                    .all(|n| o.points(n).iter().any(|p| p.2.is_good()))
            },
        )
        .await;
    let plant = simulators::Plant::new(42, 2).unwrap();
    for name in &names {
        let got = observer
            .points(name)
            .into_iter()
            .find(|p| p.2.is_good())
            .and_then(|p| p.1)
            .unwrap();
        let want = plant.engineering_value(0, name).unwrap();
        let ok = match (want, &got) {
            (simulators::EngValue::Bool(b), Value::Bool(g)) => b == *g,
            (simulators::EngValue::Int(i), Value::Int(g)) => i == *g,
            (simulators::EngValue::Float(f), Value::Float(g)) => f == *g,
            _ => false,
        };
        assert!(ok, "{name}: agent got {got:?}, model {want:?}");
    }
}

/// `edge-agent opcua browse` against asyncua: the tree lists the peer's variables with node
/// ids and data types, and the written configuration passes `check-config` unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browse_asyncua_writes_a_config_that_check_config_accepts() {
    let test = "browse_asyncua_writes_a_config_that_check_config_accepts";
    let Some(py) = peers::require(test, "asyncua venv", python::python(&["asyncua"])) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let peer = start_peer(&py, dir.path()).await.unwrap();
    let port = peer.ready_value("port").unwrap().to_owned();
    let config = dir.path().join("browsed.toml");
    let agent = tests::bins::path("edge-agent");
    let endpoint = format!("opc.tcp://127.0.0.1:{port}/sentia/");
    let pki = dir.path().join("pki");
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(&agent)
            .args(["opcua", "browse", &endpoint, "ns=2;s=Press", "--depth", "2"])
            .args([
                "--security-policy",
                "Basic256Sha256",
                "--trust-server-certificate",
            ])
            .arg("--pki-dir")
            .arg(&pki)
            .arg("--write-config")
            .arg(&config)
            .output(),
    )
    .await
    .expect("browse timed out")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browse failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "  Level [Variable] ns=2;s=Level : Double",
        "  Counter [Variable] ns=2;s=Counter : Int32",
        "  Name [Variable] ns=2;s=Name : String",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    assert!(stdout.contains("wrote "), "{stdout}");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("name = \"Level\"\nnode_id = \"ns=2;s=Level\""),
        "{text}"
    );
    assert!(
        text.contains("security_policy = \"Basic256Sha256\""),
        "{text}"
    );
    let check = tokio::process::Command::new(&agent)
        .arg("check-config")
        .arg(&config)
        .output()
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "check-config refused the browsed config: {}\n{text}",
        String::from_utf8_lossy(&check.stderr)
    );
    // Level, Counter, Name, Broken, Shaky, Temp1..Temp4.
    assert!(report.contains(": 9 tags"), "{report}");
}

/// The server goes away and comes back on the same address: the agent publishes bad points
/// with the reason meanwhile, reconnects with backoff and recreates its subscription, so
/// subscribed and polled tags are good again without an agent restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_reconnects_and_resubscribes_after_plant_sim_restarts() {
    let test = "agent_reconnects_and_resubscribes_after_plant_sim_restarts";
    let Some(broker) = peers::require(test, "Mosquitto", peers::mosquitto().await) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut sim, map_path) = start_plant_sim(dir.path(), 1).await.unwrap();
    let addr = sim.ready_value("opcua").unwrap().to_owned();
    let map = simulators::read_map(&map_path).unwrap();
    let node = |signal: &str| map.opcua_node_id("motor-01", signal).unwrap();
    let device = format!(
        r#"[[device]]
id = "motor-01"
protocol = "opcua"
endpoint = "opc.tcp://{addr}/"
poll_interval = "200ms"
reconnect_min = "200ms"
reconnect_max = "1s"

[[device.tag]]
name = "speed"
node_id = "{speed}"

[[device.tag]]
name = "current"
node_id = "{current}"
mode = "poll"
"#,
        speed = node("speed"),
        current = node("current"),
    );
    let agent_id = unique("opcua-reconnect");
    let observer = Observer::start(&broker, &agent_id).await.unwrap();
    let agent = start_agent(
        dir.path(),
        &agent_config(&agent_id, &broker, dir.path(), &device),
    )
    .unwrap();
    let good = |o: &Observer, tag: &str| o.points(tag).iter().filter(|p| p.2.is_good()).count();
    observer
        .wait_for(
            Duration::from_secs(30),
            "good points before the outage",
            || agent.log(),
            |o| good(o, "speed") >= 1 && good(o, "current") >= 2,
        )
        .await;
    sim.kill().await.unwrap();
    observer
        .wait_for(
            Duration::from_secs(30),
            "bad points during the outage",
            || agent.log(),
            |o| {
                o.points("speed").last().is_some_and(|p| !p.2.is_good())
                    && o.points("current")
                        .iter()
                        .rev()
                        .take(3)
                        .all(|p| !p.2.is_good())
            },
        )
        .await;
    let before = (good(&observer, "speed"), good(&observer, "current"));
    let bad = observer.points("current").last().cloned().unwrap();
    assert_eq!(bad.1, None);
    let (_sim, _) = start_plant_sim_on(dir.path(), 1, &addr).await.unwrap();
    observer
        .wait_for(
            Duration::from_secs(30),
            "good points after the restart",
            || agent.log(),
            |o| good(o, "speed") > before.0 && good(o, "current") > before.1 + 1,
        )
        .await;
    let log = agent.log();
    assert!(log.contains("device reachable again"), "{log}");
}

/// `gen-agent-config --opcua` renders a config for plant-sim's OPC UA server that the agent
/// accepts, one subscribed tag per signal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_opcua_agent_config_passes_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, map) = start_plant_sim(dir.path(), 3).await.unwrap();
    let out = tokio::process::Command::new(tests::bins::path("gen-agent-config"))
        .arg(&map)
        .args(["--opcua", "--security-policy", "Basic256Sha256"])
        .args([
            "--security-mode",
            "SignAndEncrypt",
            "--trust-server-certificate",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = dir.path().join("agent.toml");
    std::fs::write(&config, &out.stdout).unwrap();
    let check = tokio::process::Command::new(tests::bins::path("edge-agent"))
        .arg("check-config")
        .arg(&config)
        .output()
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&check.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let map = simulators::read_map(&map).unwrap();
    let endpoint = map.opcua_endpoint.clone().unwrap();
    for m in &map.entries {
        let line = format!(
            "device {} {endpoint} (security Basic256Sha256/SignAndEncrypt): {} tags",
            m.id,
            m.signals.len()
        );
        assert!(report.contains(&line), "missing {line:?} in:\n{report}");
    }
    let node = map.opcua_node_id("motor-01", "speed").unwrap();
    assert!(
        report.contains(&format!("  subscribe {node} speed")),
        "{report}"
    );
}

/// Sends one command to plant-sim's control socket and expects `ok`.
async fn control(sim: &Proc, command: &str) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let addr = sim.ready_value("control").unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("{command}\n").as_bytes())
        .await
        .unwrap();
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(5),
        BufReader::new(stream).read_line(&mut line),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(line.trim(), "ok", "{command}");
}

/// An agent device on plant-sim's OPC UA server: motor-01 `speed` subscribed, motor-01
/// `current` and pump-02 `flow` polled, every 100 ms.
fn motor_and_pump_device(map: &simulators::RegisterMap) -> String {
    let endpoint = map.opcua_endpoint.clone().unwrap();
    format!(
        r#"[[device]]
id = "plant"
protocol = "opcua"
endpoint = "{endpoint}"
poll_interval = "100ms"

[[device.tag]]
name = "speed"
node_id = "{speed}"

[[device.tag]]
name = "current"
node_id = "{current}"
mode = "poll"

[[device.tag]]
name = "flow"
node_id = "{flow}"
mode = "poll"
"#,
        speed = map.opcua_node_id("motor-01", "speed").unwrap(),
        current = map.opcua_node_id("motor-01", "current").unwrap(),
        flow = map.opcua_node_id("pump-02", "flow").unwrap(),
    )
}

/// Faults injected while plant-sim runs (its OPC UA fault file and the shared control socket): a bad status reaches the
/// agent as bad points with the status name, a frozen machine's values stop changing, and
/// clearing the file restores good data, with no reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plant_sim_opcua_faults_reach_the_agent_as_quality() {
    let test = "plant_sim_opcua_faults_reach_the_agent_as_quality";
    let Some(broker) = peers::require(test, "Mosquitto", peers::mosquitto().await) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (sim, map_path) = start_plant_sim_with(dir.path(), 2, "127.0.0.1:0", "100ms")
        .await
        .unwrap();
    let map = simulators::read_map(&map_path).unwrap();
    let device = motor_and_pump_device(&map);
    let agent_id = unique("opcua-faults");
    let observer = Observer::start(&broker, &agent_id).await.unwrap();
    let agent = start_agent(
        dir.path(),
        &agent_config(&agent_id, &broker, dir.path(), &device),
    )
    .unwrap();
    let logs = || {
        format!(
            "--- agent ---\n{}\n--- plant-sim ---\n{}",
            agent.log(),
            sim.log()
        )
    };
    let distinct = |o: &Observer, tag: &str, last: usize| {
        let pts = o.points(tag);
        let vals: Vec<String> = pts
            .iter()
            .rev()
            .take(last)
            .map(|p| format!("{:?}", p.1))
            .collect();
        vals.iter().collect::<std::collections::HashSet<_>>().len()
    };
    observer
        .wait_for(Duration::from_secs(30), "changing good values", logs, |o| {
            o.points("current").iter().filter(|p| p.2.is_good()).count() >= 5
                && distinct(o, "flow", 5) > 1
        })
        .await;
    std::fs::write(
        dir.path().join("opcua-faults.txt"),
        "status 0 BadSensorFailure\nfreeze 1\n",
    )
    .unwrap();
    let sensor_failure = Quality::Bad("BadSensorFailure".into());
    observer
        .wait_for(
            Duration::from_secs(30),
            "BadSensorFailure and a frozen pump",
            logs,
            |o| {
                o.points("current")
                    .last()
                    .is_some_and(|p| p.2 == sensor_failure)
                    && o.points("speed")
                        .last()
                        .is_some_and(|p| p.2 == sensor_failure)
                    && distinct(o, "flow", 8) == 1
            },
        )
        .await;
    std::fs::write(dir.path().join("opcua-faults.txt"), "").unwrap();
    // The shared fault state (control socket): a silenced machine's values arrive as
    // BadNoCommunication.
    control(&sim, "silence 0").await;
    let no_comm = Quality::Bad("BadNoCommunication".into());
    observer
        .wait_for(Duration::from_secs(30), "BadNoCommunication", logs, |o| {
            o.points("current").last().is_some_and(|p| p.2 == no_comm)
        })
        .await;
    control(&sim, "clear all").await;
    let n = observer.points("current").len();
    observer
        .wait_for(
            Duration::from_secs(30),
            "good values after clearing",
            logs,
            |o| {
                o.points("current").iter().skip(n).any(|p| p.2.is_good())
                    && o.points("speed").last().is_some_and(|p| p.2.is_good())
                    && distinct(o, "flow", 5) > 1
            },
        )
        .await;
}

/// Median lag (receive time minus source timestamp, ms) of the good points of `tag` that
/// arrived after the first `skip`.
fn median_lag_ms(o: &Observer, tag: &str, skip: usize) -> Option<i64> {
    let mut lags: Vec<i64> = o
        .points(tag)
        .iter()
        .skip(skip)
        .filter(|p| p.2.is_good())
        .map(|p| (p.3 - p.0) / 1_000_000)
        .collect();
    lags.sort_unstable();
    lags.get(lags.len() / 2).copied()
}

/// The shared `delay` fault over OPC UA: a delayed machine's values (source timestamp: when
/// sampled) reach the agent, subscribed and polled, that much later, while the other
/// machine's arrive on time; `delay 0 0s` ends it without older values overwriting newer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plant_sim_opcua_delay_makes_one_machine_late() {
    let test = "plant_sim_opcua_delay_makes_one_machine_late";
    let Some(broker) = peers::require(test, "Mosquitto", peers::mosquitto().await) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (sim, map_path) = start_plant_sim_with(dir.path(), 2, "127.0.0.1:0", "100ms")
        .await
        .unwrap();
    let map = simulators::read_map(&map_path).unwrap();
    let device = motor_and_pump_device(&map);
    let agent_id = unique("opcua-delay");
    let observer = Observer::start(&broker, &agent_id).await.unwrap();
    let agent = start_agent(
        dir.path(),
        &agent_config(&agent_id, &broker, dir.path(), &device),
    )
    .unwrap();
    let logs = || {
        format!(
            "--- agent ---\n{}\n--- plant-sim ---\n{}",
            agent.log(),
            sim.log()
        )
    };
    let good = |o: &Observer, tag: &str| o.points(tag).iter().filter(|p| p.2.is_good()).count();
    observer
        .wait_for(Duration::from_secs(30), "good values", logs, |o| {
            good(o, "current") >= 5 && good(o, "flow") >= 5 && good(o, "speed") >= 5
        })
        .await;
    let before = median_lag_ms(&observer, "current", 0).unwrap();
    control(&sim, "delay 0 2s").await;
    // Let the values sampled before the fault drain, then measure.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let skip: HashMap<&str, usize> = ["speed", "current", "flow"]
        .into_iter()
        .map(|t| (t, observer.points(t).len()))
        .collect();
    observer
        .wait_for(
            Duration::from_secs(30),
            "points during the delay",
            logs,
            |o| skip.iter().all(|(t, n)| o.points(t).len() >= n + 10),
        )
        .await;
    let lag = |t: &str| median_lag_ms(&observer, t, skip[t]).unwrap();
    let (speed, current, flow) = (lag("speed"), lag("current"), lag("flow"));
    eprintln!(
        "median lag ms: before {before}, delayed speed {speed} current {current}, other flow {flow}"
    );
    assert!(
        speed >= 2000 && current >= 2000,
        "{speed} {current}\n{}",
        logs()
    );
    assert!(flow < 1500, "undelayed machine lags {flow} ms\n{}", logs());
    control(&sim, "delay 0 0s").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let n = observer.points("current").len();
    observer
        .wait_for(
            Duration::from_secs(30),
            "points after the delay",
            logs,
            |o| o.points("current").len() >= n + 10,
        )
        .await;
    let after = median_lag_ms(&observer, "current", n).unwrap();
    // Values sampled under the delay but due after the clear never overwrite newer ones.
    for tag in ["speed", "current"] {
        let ts: Vec<i64> = observer.points(tag).iter().map(|p| p.0).collect();
        assert!(
            ts.windows(2).all(|w| w[0] <= w[1]),
            "{tag}: source timestamps go back: {ts:?}"
        );
    }
    assert!(
        after < 1500,
        "still late after clearing: {after} ms\n{}",
        logs()
    );
}

/// The shared `disconnect` fault over OPC UA: plant-sim really drops the agent's connection
/// and refuses new ones, the agent marks its points bad with a reason, and after `clear` it
/// reconnects and recreates its subscription.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plant_sim_opcua_disconnect_drops_the_agent_until_cleared() {
    let test = "plant_sim_opcua_disconnect_drops_the_agent_until_cleared";
    let Some(broker) = peers::require(test, "Mosquitto", peers::mosquitto().await) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (sim, map_path) = start_plant_sim_with(dir.path(), 2, "127.0.0.1:0", "100ms")
        .await
        .unwrap();
    let map = simulators::read_map(&map_path).unwrap();
    let endpoint = map.opcua_endpoint.clone().unwrap();
    let device = format!(
        r#"[[device]]
id = "plant"
protocol = "opcua"
endpoint = "{endpoint}"
poll_interval = "100ms"
reconnect_min = "200ms"
reconnect_max = "1s"

[[device.tag]]
name = "speed"
node_id = "{speed}"

[[device.tag]]
name = "current"
node_id = "{current}"
mode = "poll"
"#,
        speed = map.opcua_node_id("motor-01", "speed").unwrap(),
        current = map.opcua_node_id("motor-01", "current").unwrap(),
    );
    let agent_id = unique("opcua-disconnect");
    let observer = Observer::start(&broker, &agent_id).await.unwrap();
    let agent = start_agent(
        dir.path(),
        &agent_config(&agent_id, &broker, dir.path(), &device),
    )
    .unwrap();
    let logs = || {
        format!(
            "--- agent ---\n{}\n--- plant-sim ---\n{}",
            agent.log(),
            sim.log()
        )
    };
    let good = |o: &Observer, tag: &str| o.points(tag).iter().filter(|p| p.2.is_good()).count();
    observer
        .wait_for(Duration::from_secs(30), "good values", logs, |o| {
            good(o, "speed") >= 3 && good(o, "current") >= 3
        })
        .await;
    control(&sim, "disconnect 1").await;
    observer
        .wait_for(
            Duration::from_secs(30),
            "bad points after the disconnect",
            logs,
            |o| {
                o.points("speed").last().is_some_and(|p| !p.2.is_good())
                    && o.points("current")
                        .iter()
                        .rev()
                        .take(3)
                        .all(|p| !p.2.is_good())
            },
        )
        .await;
    // While the fault lasts, reconnect attempts fail: no good point arrives.
    let before = (good(&observer, "speed"), good(&observer, "current"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        (good(&observer, "speed"), good(&observer, "current")),
        before,
        "good points while disconnected\n{}",
        logs()
    );
    let bad = observer.points("current").last().cloned().unwrap();
    assert_eq!(bad.1, None);
    assert!(
        matches!(&bad.2, Quality::Bad(reason) if !reason.is_empty()),
        "{:?}",
        bad.2
    );
    assert!(sim.log().contains("disconnect fault"), "{}", sim.log());
    control(&sim, "clear all").await;
    observer
        .wait_for(
            Duration::from_secs(30),
            "good points after clearing",
            logs,
            |o| good(o, "speed") > before.0 + 1 && good(o, "current") > before.1 + 1,
        )
        .await;
    let log = agent.log();
    assert!(log.contains("device reachable again"), "{log}");
}

/// A point's value as a number (integers too).
fn number(v: &Option<Value>) -> Option<f64> {
    match v {
        Some(Value::Float(f)) => Some(*f),
        #[allow(clippy::cast_precision_loss)]
        Some(Value::Int(i)) => Some(*i as f64),
        _ => None,
    }
}

/// A percent deadband against plant-sim, whose integer-encoded analog variables carry an
/// EURange property (the register's raw range in engineering units): async-opcua's server
/// reads it and reports a change only when it exceeds that percentage of the range, so the
/// agent gets fewer updates than without a deadband, each a change beyond the band.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_percent_deadband_against_plant_sim_eurange() {
    const PERCENT: f64 = 0.05;
    let test = "agent_percent_deadband_against_plant_sim_eurange";
    let Some(broker) = peers::require(test, "Mosquitto", peers::mosquitto().await) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (sim, map_path) = start_plant_sim_with(dir.path(), 1, "127.0.0.1:0", "100ms")
        .await
        .unwrap();
    let map = simulators::read_map(&map_path).unwrap();
    let endpoint = map.opcua_endpoint.clone().unwrap();
    let def = simulators::MachineKind::ROTATION[0]
        .signals()
        .iter()
        .find(|d| d.name == "current")
        .unwrap();
    let (low, high) = simulators::opcua::eu_range(def).unwrap();
    let band = (high - low) * PERCENT / 100.0;
    let node = map.opcua_node_id("motor-01", "current").unwrap();
    let device = format!(
        r#"[[device]]
id = "motor-01"
protocol = "opcua"
endpoint = "{endpoint}"

[[device.tag]]
name = "current_all"
node_id = "{node}"
sampling_interval = "50ms"
queue_size = 20

[[device.tag]]
name = "current_db"
node_id = "{node}"
sampling_interval = "50ms"
queue_size = 20
deadband = {{ type = "percent", value = {PERCENT} }}
"#
    );
    let agent_id = unique("opcua-percent");
    let observer = Observer::start(&broker, &agent_id).await.unwrap();
    let agent = start_agent(
        dir.path(),
        &agent_config(&agent_id, &broker, dir.path(), &device),
    )
    .unwrap();
    let logs = || {
        format!(
            "--- agent ---\n{}\n--- plant-sim ---\n{}",
            agent.log(),
            sim.log()
        )
    };
    observer
        .wait_for(
            Duration::from_secs(30),
            "60 updates without deadband",
            logs,
            |o| o.points("current_all").len() >= 60 && !o.points("current_db").is_empty(),
        )
        .await;
    let values = |tag: &str| -> Vec<f64> {
        observer
            .points(tag)
            .iter()
            .filter(|p| p.2.is_good())
            .filter_map(|p| number(&p.1))
            .collect()
    };
    let (all, db) = (values("current_all"), values("current_db"));
    eprintln!(
        "EURange {low}..{high}, band {band}: {} updates without deadband, {} with",
        all.len(),
        db.len()
    );
    let small = all
        .windows(2)
        .filter(|w| (w[1] - w[0]).abs() <= band)
        .count();
    assert!(small >= 5, "no change within the band to filter: {all:?}");
    assert!(
        db.windows(2).all(|w| (w[1] - w[0]).abs() > band),
        "a change within {band} got through: {db:?}\n{all:?}"
    );
    assert!(
        db.len() < all.len() && db.len() >= 2,
        "deadband: {db:?} vs {all:?}"
    );
}

/// End to end over OPC UA: plant-sim's OPC UA server -> agent (Basic256Sha256
/// SignAndEncrypt) -> embedded broker -> aggregator -> SQLite; every stored latest value is
/// good and equals the plant model's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plant_sim_opcua_to_storage_end_to_end() {
    let stack = tests::stack::Stack::start(tests::stack::StackOptions {
        machines: 3,
        opcua: Some(tests::agent_config::OpcUaConfigOptions {
            security_policy: "Basic256Sha256".into(),
            security_mode: "SignAndEncrypt".into(),
            trust_server_certificate: true,
            user: None,
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let plant = tests::stack::plant(&stack.map).unwrap();
    let s = &stack;
    let checked = stack
        .api
        .wait_for(
            "every tag stored with its plant value",
            Duration::from_secs(60),
            |_| {
                let plant = &plant;
                async move {
                    let mut checked = 0;
                    for (i, m) in s.map.entries.iter().enumerate() {
                        let latest = s.latest(&s.asset(m)).await?;
                        if latest.len() != m.signals.len() {
                            return Ok(None);
                        }
                        for sig in &m.signals {
                            let tag = s.tag(m, &sig.name);
                            let Some(row) = latest.iter().find(|r| r["tag"] == tag.as_str()) else {
                                return Ok(None);
                            };
                            let expected = plant.engineering_value(i, &sig.name).unwrap();
                            if row["quality"] != "good"
                                || !tests::stack::matches(&row["value"], expected)
                            {
                                anyhow::bail!("{tag}: stored {row}, plant-sim served {expected:?}");
                            }
                            checked += 1;
                        }
                    }
                    Ok(Some(checked))
                }
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", stack.logs()));
    let expected: usize = stack.map.entries.iter().map(|m| m.signals.len()).sum();
    assert_eq!(checked, expected);
}
