//! The whole stack as child processes: plant-sim -> edge-agent -> broker -> aggregator.
//!
//! [`Stack::start`] starts the simulator on port 0, the aggregator (embedded broker + SQLite
//! on port 0, or an external broker + PostgreSQL), renders an agent config from the
//! simulator's map with a unique site and agent id (so runs sharing a broker never mix),
//! and starts the agent. Dropping the stack kills all three.

use std::path::PathBuf;
use std::time::Duration;

use crate::agent_config::{self, AgentConfigOptions};
use crate::api::{Api, q};
use crate::bins;
use crate::process::Proc;
use anyhow::Context;
use serde_json::Value;
use simulators::{EngValue, MachineEntry, Plant, RegisterMap};

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
}

/// How long a process may take to print its ready line.
pub const READY: Duration = Duration::from_secs(30);

impl Stack {
    /// Starts simulator, aggregator and agent.
    pub async fn start(o: StackOptions) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let logs = dir.path();
        let map_path = dir.path().join("map.toml");
        let tick = format!("{}ms", o.tick.as_millis());
        let sim = Proc::spawn(
            &bins::path(bins::PLANT_SIM),
            &[
                "--machines",
                &o.machines.to_string(),
                "--seed",
                &o.seed.to_string(),
                "--listen",
                "127.0.0.1:0",
                "--tick",
                &tick,
                "--map-out",
                &map_path.to_string_lossy(),
            ],
            logs,
            "plant-sim",
            READY,
        )
        .await?;
        let mut map = simulators::read_map(&map_path)?;

        let run_id = format!("{:08x}", rand::random::<u32>());
        let data_dir = dir.path().join("aggregator");
        let (aggregator, broker_url) = match &o.backend {
            Backend::Embedded => {
                let p = Proc::spawn(
                    &bins::path(bins::AGGREGATOR),
                    &[
                        "run",
                        "--data-dir",
                        &data_dir.to_string_lossy(),
                        "--api-listen",
                        "127.0.0.1:0",
                        "--broker-listen",
                        "127.0.0.1:0",
                    ],
                    logs,
                    "aggregator",
                    READY,
                )
                .await?;
                let broker = p.ready_value("broker")?.to_owned();
                let url = if broker.starts_with("mqtt://") {
                    broker
                } else {
                    format!("mqtt://{broker}")
                };
                (p, url)
            }
            Backend::External { broker, pg_url } => {
                let cfg = dir.path().join("aggregator.toml");
                std::fs::write(
                    &cfg,
                    format!(
                        "data_dir = {data_dir:?}\n\
                         [mqtt]\nmode = \"external\"\nurl = \"mqtt://{broker}\"\nclient_id = \"sentia-agg-{run_id}\"\n\
                         [storage]\nbackend = \"postgres\"\npostgres_url = {pg_url:?}\n\
                         [api]\nlisten = \"127.0.0.1:0\"\n"
                    ),
                )?;
                let p = Proc::spawn(
                    &bins::path(bins::AGGREGATOR),
                    &["run", "--config", &cfg.to_string_lossy()],
                    logs,
                    "aggregator",
                    READY,
                )
                .await?;
                (p, format!("mqtt://{broker}"))
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
            broker: broker_url,
            poll_interval: o.poll_interval.into(),
            site: Some(format!("e2e-{run_id}")),
            encoding: o.encoding.into(),
            data_dir: Some(dir.path().join("agent").to_string_lossy().into_owned()),
        };
        let agent_config = dir.path().join("agent.toml");
        std::fs::write(&agent_config, agent_config::render(&map, &opts)?)?;
        let agent = Proc::spawn_background(
            &bins::path(bins::EDGE_AGENT),
            &["run", "--config", &agent_config.to_string_lossy()],
            logs,
        )?;
        Ok(Self {
            dir,
            sim,
            aggregator,
            agent,
            api,
            map,
            opts,
            agent_config,
        })
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
