//! The whole stack as child processes: plant-sim -> edge-agent -> broker -> aggregator.
//!
//! [`Stack::start`] starts the simulator on port 0, the aggregator (embedded broker + SQLite
//! on port 0, an external broker + PostgreSQL, or an external broker + SQLite), renders an
//! agent config from the simulator's map with a unique site and agent id (so runs sharing a
//! broker never mix), and starts the agent. Fault tests restart the aggregator or simulator with their first
//! arguments ([`Stack::restart_aggregator`], [`Stack::restart_sim`]). Dropping the stack
//! kills all three. The simulator always runs with a control socket ([`Stack::fault`]) and a
//! served-reads ledger ([`Stack::served`]), so a test can say exactly what was served.

use std::path::PathBuf;
use std::time::Duration;

use crate::agent_config::{self, AgentConfigOptions, OpcUaConfigOptions};
use crate::api::{Api, q};
use crate::bins;
use crate::process::Proc;
use anyhow::Context;
use serde_json::Value;
use simulators::served::ServedRead;
use simulators::{EngValue, MachineEntry, Plant, RegisterMap};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Where the aggregator gets its MQTT from and stores points.
pub enum Backend {
    /// Embedded broker on port 0, SQLite in the temp dir.
    Embedded,
    /// External broker address (`host:port`) and PostgreSQL URL.
    External {
        /// Broker `host:port`.
        broker: String,
        /// PostgreSQL URL of a database the test owns.
        pg_url: String,
    },
    /// External broker address (`host:port`, typically a private `mosquitto` the test can
    /// break) and SQLite in the temp dir.
    ExternalSqlite {
        /// Broker `host:port`.
        broker: String,
    },
}

/// How to start a [`Stack`].
pub struct StackOptions {
    /// Simulated machines.
    pub machines: usize,
    /// Plant seed.
    pub seed: u64,
    /// Simulator tick; zero freezes the plant at tick 0.
    pub tick: Duration,
    /// Agent poll interval (humantime).
    pub poll_interval: &'static str,
    /// Agent payload encoding (`binary` or `json`).
    pub encoding: &'static str,
    /// Broker and storage of the aggregator.
    pub backend: Backend,
    /// Extra device pointing at a closed port (tests bad quality).
    pub dead_device: bool,
    /// Broker `host:port` the agent connects to instead of the aggregator's (e.g. a proxy
    /// in front of it). `None`: the aggregator's broker.
    pub agent_broker: Option<String>,
    /// Read the plant over plant-sim's OPC UA server with these options instead of Modbus.
    pub opcua: Option<OpcUaConfigOptions>,
    /// TOML appended to the rendered agent config (e.g. a `[spool]` table).
    pub agent_extra: String,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            machines: 10,
            seed: 42,
            tick: Duration::ZERO,
            poll_interval: "200ms",
            encoding: "binary",
            backend: Backend::Embedded,
            dead_device: false,
            agent_broker: None,
            opcua: None,
            agent_extra: String::new(),
        }
    }
}

/// The running stack; dropping it kills the processes and removes the temp dir.
pub struct Stack {
    /// Temp dir with configs, map, data and logs.
    pub dir: tempfile::TempDir,
    /// The simulator process.
    pub sim: Proc,
    /// The aggregator process.
    pub aggregator: Proc,
    /// The agent process.
    pub agent: Proc,
    /// Client for the aggregator's API.
    pub api: Api,
    /// The simulator's register map (plus the dead device, if asked for).
    pub map: RegisterMap,
    /// What the agent config was rendered with.
    pub opts: AgentConfigOptions,
    /// Path of the agent config.
    pub agent_config: PathBuf,
    /// Arguments the aggregator was started with (for [`Stack::restart_aggregator`]).
    pub aggregator_args: Vec<String>,
    /// Arguments the simulator was started with (for [`Stack::restart_sim`]).
    pub sim_args: Vec<String>,
    /// The simulator's served-reads ledger (`--served-log`), appended to across restarts.
    pub served_log: PathBuf,
}

/// How long a process may take to print its ready line.
pub const READY: Duration = Duration::from_secs(30);

impl Stack {
    /// Starts simulator, aggregator and agent.
    pub async fn start(o: StackOptions) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let logs = dir.path();
        let map_path = dir.path().join("map.toml");
        let served_log = dir.path().join("served.log");
        let tick = format!("{}ms", o.tick.as_millis());
        let mut sim_args: Vec<String> = vec![
            "--machines".into(),
            o.machines.to_string(),
            "--seed".into(),
            o.seed.to_string(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--tick".into(),
            tick,
            "--map-out".into(),
            map_path.to_string_lossy().into_owned(),
            "--served-log".into(),
            served_log.to_string_lossy().into_owned(),
            "--control".into(),
            "127.0.0.1:0".into(),
        ];
        if o.opcua.is_some() {
            sim_args.extend([
                "--opcua".into(),
                "127.0.0.1:0".into(),
                "--opcua-pki".into(),
                dir.path().join("sim-pki").to_string_lossy().into_owned(),
            ]);
        }
        let sim = Proc::spawn(
            &bins::path(bins::PLANT_SIM),
            &strs(&sim_args),
            logs,
            "plant-sim",
            READY,
        )
        .await?;
        let mut map = simulators::read_map(&map_path)?;

        let run_id = format!("{:08x}", rand::random::<u32>());
        let data_dir = dir.path().join("aggregator");
        // Each backend only chooses the aggregator's arguments; one spawn follows.
        let external = |broker: &str, storage: String| -> anyhow::Result<(Vec<String>, String)> {
            let cfg = dir.path().join("aggregator.toml");
            std::fs::write(
                &cfg,
                format!(
                    "data_dir = {data_dir:?}\n\
                     [mqtt]\nmode = \"external\"\nurl = \"mqtt://{broker}\"\nclient_id = \"sentia-agg-{run_id}\"\n\
                     [storage]\n{storage}\n\
                     [api]\nlisten = \"127.0.0.1:0\"\n"
                ),
            )?;
            let args = vec![
                "run".into(),
                "--config".into(),
                cfg.to_string_lossy().into(),
            ];
            Ok((args, format!("mqtt://{broker}")))
        };
        let (aggregator_args, external_url) = match &o.backend {
            Backend::Embedded => (
                vec![
                    "run".into(),
                    "--data-dir".into(),
                    data_dir.to_string_lossy().into_owned(),
                    "--api-listen".into(),
                    "127.0.0.1:0".into(),
                    "--broker-listen".into(),
                    "127.0.0.1:0".into(),
                ],
                None,
            ),
            Backend::External { broker, pg_url } => {
                let (args, url) = external(
                    broker,
                    format!("backend = \"postgres\"\npostgres_url = {pg_url:?}"),
                )?;
                (args, Some(url))
            }
            Backend::ExternalSqlite { broker } => {
                let (args, url) = external(broker, "backend = \"sqlite\"".into())?;
                (args, Some(url))
            }
        };
        let aggregator = Proc::spawn(
            &bins::path(bins::AGGREGATOR),
            &strs(&aggregator_args),
            logs,
            "aggregator",
            READY,
        )
        .await?;
        let broker_url = match external_url {
            Some(url) => url,
            None => {
                let broker = aggregator.ready_value("broker")?;
                if broker.starts_with("mqtt://") {
                    broker.to_owned()
                } else {
                    format!("mqtt://{broker}")
                }
            }
        };
        let api = Api::new(aggregator.ready_value("api")?);

        if o.dead_device {
            // A device whose port was bound and released: connection refused.
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            let mut dead: MachineEntry = map.entries[0].clone();
            dead.id = "dead-99".into();
            dead.asset = dead
                .asset
                .rsplit_once('/')
                .map(|(a, _)| format!("{a}/dead-99"))
                .context("asset path")?;
            dead.port = port;
            map.entries.push(dead);
        }
        let opts = AgentConfigOptions {
            agent_id: format!("e2e-{run_id}"),
            broker: o
                .agent_broker
                .as_ref()
                .map_or(broker_url, |b| format!("mqtt://{b}")),
            poll_interval: o.poll_interval.into(),
            site: Some(format!("e2e-{run_id}")),
            encoding: o.encoding.into(),
            data_dir: Some(dir.path().join("agent").to_string_lossy().into_owned()),
        };
        let agent_config = dir.path().join("agent.toml");
        let mut text = match &o.opcua {
            Some(opcua) => agent_config::render_opcua(&map, &opts, opcua)?,
            None => agent_config::render(&map, &opts)?,
        };
        text.push_str(&o.agent_extra);
        std::fs::write(&agent_config, text)?;
        let agent = spawn_agent(&agent_config, logs)?;
        Ok(Self {
            dir,
            sim,
            aggregator,
            agent,
            api,
            map,
            opts,
            agent_config,
            aggregator_args,
            sim_args,
            served_log,
        })
    }

    /// Starts the agent again on the same config and data dir (its spool), replacing (and
    /// killing, if still running) the old process.
    pub async fn restart_agent(&mut self) -> anyhow::Result<()> {
        self.agent.kill().await?;
        self.agent = spawn_agent(&self.agent_config, self.dir.path())?;
        Ok(())
    }

    /// Every read the simulator answered so far, over all its runs.
    pub fn served(&self) -> anyhow::Result<Vec<ServedRead>> {
        Ok(simulators::served::read_ledger(&self.served_log)?)
    }

    /// Sends one fault command (see `simulators::faults`) to the simulator's control socket.
    pub async fn fault(&self, command: &str) -> anyhow::Result<()> {
        let addr = self.sim.ready_value("control")?;
        let stream = tokio::net::TcpStream::connect(addr).await?;
        let (read, mut write) = stream.into_split();
        write.write_all(format!("{command}\n").as_bytes()).await?;
        let mut answer = String::new();
        tokio::time::timeout(
            Duration::from_secs(5),
            BufReader::new(read).read_line(&mut answer),
        )
        .await
        .context("no answer from the control socket within 5 s")??;
        anyhow::ensure!(answer.trim() == "ok", "{command:?}: {}", answer.trim());
        Ok(())
    }

    /// Silences every machine (no more answers, so the ledger stops growing) and waits
    /// `settle` for requests already answered to reach the agent.
    pub async fn silence_all(&self, settle: Duration) -> anyhow::Result<()> {
        for machine in 0..self.map.machines {
            self.fault(&format!("silence {machine}")).await?;
        }
        tokio::time::sleep(settle).await;
        Ok(())
    }

    /// Starts the aggregator again with the arguments (config, data dir) it was first
    /// started with, replacing (and killing, if still running) the old process, and points
    /// [`Stack::api`] at the new API address.
    pub async fn restart_aggregator(&mut self) -> anyhow::Result<()> {
        self.aggregator.kill().await?;
        self.aggregator = Proc::spawn(
            &bins::path(bins::AGGREGATOR),
            &strs(&self.aggregator_args),
            self.dir.path(),
            "aggregator",
            READY,
        )
        .await?;
        self.api = Api::new(self.aggregator.ready_value("api")?);
        Ok(())
    }

    /// Starts the simulator again, with its first arguments but listening on `port` (the
    /// port the agent's config names), replacing (and killing) the old process.
    pub async fn restart_sim(&mut self, port: u16) -> anyhow::Result<()> {
        self.sim.kill().await?;
        let listen = format!("127.0.0.1:{port}");
        let mut args = strs(&self.sim_args);
        let at = args
            .iter()
            .position(|a| *a == "--listen")
            .context("no --listen")?;
        args[at + 1] = listen.as_str();
        self.sim = Proc::spawn(
            &bins::path(bins::PLANT_SIM),
            &args,
            self.dir.path(),
            "plant-sim",
            READY,
        )
        .await?;
        Ok(())
    }

    /// The asset path the agent publishes for `m`.
    pub fn asset(&self, m: &MachineEntry) -> String {
        agent_config::asset_for(m, &self.opts)
    }

    /// The tag id the agent publishes for `signal` of `m`.
    pub fn tag(&self, m: &MachineEntry, signal: &str) -> String {
        format!("{}/{signal}", self.asset(m))
    }

    /// Logs of all three processes, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "--- plant-sim ---\n{}\n--- aggregator ---\n{}\n--- edge-agent ---\n{}",
            self.sim.log(),
            self.aggregator.log(),
            self.agent.log()
        )
    }

    /// Latest values of one asset, keyed by tag id.
    pub async fn latest(&self, asset: &str) -> anyhow::Result<Vec<Value>> {
        let v = self
            .api
            .get(&format!("/api/v1/latest?asset={}", q(asset)))
            .await?;
        v.as_array().cloned().context("latest is not an array")
    }
}

fn spawn_agent(config: &std::path::Path, logs: &std::path::Path) -> anyhow::Result<Proc> {
    Proc::spawn_background(
        &bins::path(bins::EDGE_AGENT),
        &["run", "--config", &config.to_string_lossy()],
        logs,
    )
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Numeric view of an API value (bools as 0/1).
pub fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// Whether an API value equals what the simulator served.
pub fn matches(api: &Value, expected: EngValue) -> bool {
    match (api, expected) {
        (Value::Bool(a), EngValue::Bool(e)) => *a == e,
        (Value::Number(_), EngValue::Int(e)) => num(api) == Some(e as f64),
        (Value::Number(_), EngValue::Float(e)) => num(api) == Some(e),
        _ => false,
    }
}

/// The plant as the simulator built it (tick 0).
pub fn plant(map: &RegisterMap) -> anyhow::Result<Plant> {
    Ok(Plant::new(map.seed, map.machines)?)
}
