//! Renders an edge-agent configuration from a plant-sim register map.
//!
//! The two programs share no code: the simulator describes what it serves in its map file,
//! and this module writes the agent configuration that polls exactly that (same register
//! kinds, addresses, types, word orders, scale and offset). It is how the end-to-end tests
//! configure the agent, and how `deploy/edge-agent.example.toml` is generated
//! (`gen-agent-config`); a test checks the committed example still matches the map.

use serde::Serialize;
use simulators::{MachineEntry, RegisterMap};

/// What to put around the map's devices.
#[derive(Debug, Clone)]
pub struct AgentConfigOptions {
    /// The agent id.
    pub agent_id: String,
    /// Broker URL, `mqtt://host:port`.
    pub broker: String,
    /// Poll interval, humantime (e.g. `1s`, `200ms`).
    pub poll_interval: String,
    /// Replaces the site segment of every asset path (tests use a unique site so runs
    /// sharing one broker never mix their data). `None` keeps the map's site.
    pub site: Option<String>,
    /// Payload encoding, `binary` or `json`.
    pub encoding: String,
    /// The agent's data directory (its spool lives below it). `None` keeps the agent's
    /// default, `data` relative to its working directory.
    pub data_dir: Option<String>,
}

#[derive(Serialize)]
struct File {
    agent: Agent,
    mqtt: Mqtt,
    defaults: Defaults,
    device: Vec<Device>,
}

#[derive(Serialize)]
struct Agent {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<String>,
}

#[derive(Serialize)]
struct Mqtt {
    broker: String,
    encoding: String,
}

#[derive(Serialize)]
struct Defaults {
    poll_interval: String,
    timeout: String,
}

#[derive(Serialize)]
struct Device {
    id: String,
    asset: String,
    protocol: &'static str,
    host: String,
    port: u16,
    unit_id: u8,
    tag: Vec<Tag>,
}

#[derive(Serialize)]
struct Tag {
    name: String,
    register: toml::Value,
    address: u16,
    #[serde(rename = "type")]
    data_type: toml::Value,
    order: toml::Value,
    scale: f64,
    offset: f64,
    unit: String,
}

/// The asset path the agent will publish for `machine` under `opts`.
pub fn asset_for(machine: &MachineEntry, opts: &AgentConfigOptions) -> String {
    match &opts.site {
        Some(site) => match machine.asset.split_once('/') {
            Some((_, rest)) => format!("{site}/{rest}"),
            None => machine.asset.clone(),
        },
        None => machine.asset.clone(),
    }
}

/// Renders the agent configuration TOML for every machine in `map`.
pub fn render(map: &RegisterMap, opts: &AgentConfigOptions) -> anyhow::Result<String> {
    let device = map
        .entries
        .iter()
        .map(|m| {
            let tag = m
                .signals
                .iter()
                .map(|s| {
                    Ok(Tag {
                        name: s.name.clone(),
                        register: toml::Value::try_from(s.register)?,
                        address: s.address,
                        data_type: toml::Value::try_from(s.data_type)?,
                        order: toml::Value::try_from(s.order)?,
                        scale: s.scale,
                        offset: s.offset,
                        unit: s.unit.clone(),
                    })
                })
                .collect::<anyhow::Result<_>>()?;
            Ok(Device {
                id: m.id.clone(),
                asset: asset_for(m, opts),
                protocol: "modbus-tcp",
                host: m.host.clone(),
                port: m.port,
                unit_id: m.unit_id,
                tag,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let file = File {
        agent: Agent {
            id: opts.agent_id.clone(),
            data_dir: opts.data_dir.clone(),
        },
        mqtt: Mqtt {
            broker: opts.broker.clone(),
            encoding: opts.encoding.clone(),
        },
        defaults: Defaults {
            poll_interval: opts.poll_interval.clone(),
            timeout: "1s".into(),
        },
        device,
    };
    let header = format!(
        "# Sentia edge-agent configuration for plant-sim (seed {}, {} machines).\n\
         # Generated from the simulator's register map by `gen-agent-config`; see README.md.\n\n",
        map.seed, map.machines
    );
    Ok(header + &toml::to_string(&file)?)
}
