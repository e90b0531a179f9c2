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

/// How the agent reaches plant-sim's OPC UA server ([`render_opcua`]).
#[derive(Debug, Clone)]
pub struct OpcUaConfigOptions {
    /// `None`, `Basic256Sha256`, `Aes128_Sha256_RsaOaep` or `Aes256_Sha256_RsaPss`.
    pub security_policy: String,
    /// `None`, `Sign` or `SignAndEncrypt`.
    pub security_mode: String,
    /// Accept plant-sim's (self-signed, unknown) certificate without moving it to trusted/.
    pub trust_server_certificate: bool,
    /// `(username, password_file)` for a password login; anonymous when `None`.
    pub user: Option<(String, String)>,
}

#[derive(Serialize)]
struct OpcUaFile {
    agent: Agent,
    mqtt: Mqtt,
    defaults: Defaults,
    device: Vec<OpcUaDevice>,
}

#[derive(Serialize)]
struct OpcUaDevice {
    id: String,
    asset: String,
    protocol: &'static str,
    endpoint: String,
    security_policy: String,
    security_mode: String,
    trust_server_certificate: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_file: Option<String>,
    tag: Vec<OpcUaTag>,
}

#[derive(Serialize)]
struct OpcUaTag {
    name: String,
    node_id: String,
    unit: String,
}

/// Renders an agent configuration that reads every machine in `map` over OPC UA (one
/// device per machine, every signal subscribed); the map must come from a plant-sim started
/// with `--opcua`.
pub fn render_opcua(
    map: &RegisterMap,
    opts: &AgentConfigOptions,
    opcua: &OpcUaConfigOptions,
) -> anyhow::Result<String> {
    let endpoint = map.opcua_endpoint.clone().ok_or_else(|| {
        anyhow::anyhow!("the map has no opcua_endpoint (start plant-sim with --opcua)")
    })?;
    let device = map
        .entries
        .iter()
        .map(|m| {
            let tag = m
                .signals
                .iter()
                .map(|s| {
                    Ok(OpcUaTag {
                        name: s.name.clone(),
                        node_id: map
                            .opcua_node_id(&m.id, &s.name)
                            .ok_or_else(|| anyhow::anyhow!("the map has no opcua_namespace"))?,
                        unit: s.unit.clone(),
                    })
                })
                .collect::<anyhow::Result<_>>()?;
            Ok(OpcUaDevice {
                id: m.id.clone(),
                asset: asset_for(m, opts),
                protocol: "opcua",
                endpoint: endpoint.clone(),
                security_policy: opcua.security_policy.clone(),
                security_mode: opcua.security_mode.clone(),
                trust_server_certificate: opcua.trust_server_certificate,
                auth: opcua.user.as_ref().map(|_| "username"),
                username: opcua.user.as_ref().map(|(u, _)| u.clone()),
                password_file: opcua.user.as_ref().map(|(_, p)| p.clone()),
                tag,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let file = OpcUaFile {
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
        "# Sentia edge-agent configuration for plant-sim over OPC UA (seed {}, {} machines).\n\
         # Generated from the simulator's map by `gen-agent-config --opcua`; see README.md.\n\n",
        map.seed, map.machines
    );
    Ok(header + &toml::to_string(&file)?)
}
