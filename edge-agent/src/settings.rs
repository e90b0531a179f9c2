//! Typed, validated settings: what the runtime is built from.
//!
//! Produced by [`crate::config::load`] / [`crate::config::parse`], or built directly by
//! in-process tests. Every value here is already checked (ids are valid identifiers, limits
//! are within Modbus maxima, each device's read plan is compiled), so constructors downstream
//! don't re-validate.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use protocols::codec::Encoding;
use protocols::modbus::{Endpoint, Link, RegisterMap};
use protocols::model::{AgentId, AssetPath, TagMeta};

/// Everything the agent needs to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Identity and process behaviour.
    pub agent: AgentSettings,
    /// The broker and how to publish to it.
    pub mqtt: MqttSettings,
    /// The disk spool.
    pub spool: SpoolSettings,
    /// The devices to poll, in configuration order.
    pub devices: Vec<DeviceSettings>,
}

/// The agent itself.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSettings {
    /// The agent's id (a topic level).
    pub id: AgentId,
    /// How long the forwarder may keep flushing after shutdown was requested.
    pub shutdown_grace: Duration,
    /// The agent's data directory (`[agent] data_dir`): the spool's default parent, where
    /// learned Modbus holes are kept (`modbus-holes/`) and the write audit log
    /// (`audit/writes.jsonl`).
    pub data_dir: PathBuf,
    /// Where to serve the Prometheus counters (`GET /metrics`); `None`: not served.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// MQTT connection and publishing.
#[derive(Debug, Clone, PartialEq)]
pub struct MqttSettings {
    /// Broker host name or address.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// MQTT client id.
    pub client_id: String,
    /// Keep-alive interval (at least 1 s).
    pub keep_alive: Duration,
    /// How often the retained status is republished while connected (it is also published
    /// on every connect and device state change).
    pub status_interval: Duration,
    /// Payload encoding.
    pub encoding: Encoding,
    /// Username and password, if the broker needs them.
    pub credentials: Option<Credentials>,
    /// Delay between broker connection attempts.
    pub reconnect: BackoffSettings,
}

/// The disk spool (see `crate::spool`).
#[derive(Debug, Clone, PartialEq)]
pub struct SpoolSettings {
    /// Directory of the segment and state files.
    pub dir: PathBuf,
    /// Limit on the bytes of retained records.
    pub max_bytes: u64,
    /// Records older than this are discarded.
    pub max_age: Option<Duration>,
    /// When appends are fsynced.
    pub fsync: FsyncPolicy,
    /// What to discard when `max_bytes` is reached.
    pub when_full: WhenFull,
    /// Backlog batches sent per second after a reconnect (live data is not limited).
    pub replay_rate: u32,
}

/// When spool appends reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// After every append.
    Always,
    /// Every so often.
    Interval(Duration),
    /// Never explicitly.
    Never,
}

/// What a full spool discards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// The oldest records (default).
    DropOldest,
    /// The batch being appended.
    DropNewest,
}

/// Broker login. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Username.
    pub username: String,
    /// Password (from a file or an environment variable, never the TOML).
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Capped exponential backoff bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffSettings {
    /// First delay.
    pub min: Duration,
    /// Largest delay.
    pub max: Duration,
}

/// One device to poll. Equality (any field or tag differs) decides whether a reload
/// restarts the device (`crate::reload`).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSettings {
    /// The device id from the configuration (unique per agent).
    pub id: String,
    /// The asset its tags belong to.
    pub asset: AssetPath,
    /// Time between poll cycles.
    pub poll_interval: Duration,
    /// Bound on each connect attempt and each request.
    pub timeout: Duration,
    /// Reconnect delays after a failure.
    pub reconnect: BackoffSettings,
    /// Protocol-specific source.
    pub source: DeviceSource,
    /// Per-tag metadata for the catalogue, parallel to the source's tag list.
    pub tags: Vec<TagInfo>,
}

/// How a device is reached. One variant per protocol family; OPC UA slots in here.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceSource {
    /// Modbus TCP, RTU on a serial line, or RTU over TCP.
    Modbus {
        /// Link and unit id.
        endpoint: Endpoint,
        /// Tags and their compiled read plan.
        map: RegisterMap,
        /// Bus sharing, delays and hole retry.
        options: ModbusOptions,
    },
    /// OPC UA (client session, subscriptions and polled reads; see `crate::opcua`).
    OpcUa(crate::opcua::OpcUaSource),
}

/// How a Modbus device is polled besides its plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModbusOptions {
    /// Polled over one connection shared with the other devices on its link, unit by unit
    /// (always for RTU links; for Modbus TCP when `share_connection = true`), with a
    /// per-unit circuit breaker.
    pub shared: bool,
    /// Least time between the end of one exchange and the next request on the link.
    pub request_delay: Duration,
    /// How long a learned exception-02 hole is trusted before it is read again.
    pub hole_retry: Duration,
    /// On a shared bus: consecutive timeouts that open a unit's circuit (0: never).
    pub breaker_timeouts: u32,
}

impl ModbusOptions {
    /// The connection a device is polled over: devices with the same key share one.
    pub fn bus_key(&self, device_id: &str, endpoint: &Endpoint) -> BusKey {
        BusKey {
            link: endpoint.link.clone(),
            own: (!self.shared).then(|| device_id.to_owned()),
        }
    }
}

/// Identifies one connection (one bus task): the link, plus the device id for a device
/// with a connection of its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BusKey {
    /// The link.
    pub link: Link,
    /// The device that owns the connection, if it is not shared.
    pub own: Option<String>,
}

/// Tag fields beyond the register map: catalogue text and write access.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TagInfo {
    /// Engineering unit.
    pub unit: String,
    /// Free text.
    pub description: String,
    /// Set when the tag is `writable = true` (only coils and holding registers can be).
    pub write: Option<WriteAccess>,
}

/// Limits on writes to a writable tag, in engineering units (inclusive; `min <= max`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WriteAccess {
    /// Smallest value accepted.
    pub min: Option<f64>,
    /// Largest value accepted.
    pub max: Option<f64>,
}

impl DeviceSource {
    /// The protocol name used in configuration (`modbus-tcp`, `modbus-rtu`,
    /// `modbus-rtu-over-tcp`).
    pub fn protocol(&self) -> &'static str {
        match self {
            DeviceSource::Modbus { endpoint, .. } => endpoint.link.protocol(),
            DeviceSource::OpcUa(_) => "opcua",
        }
    }
}

impl DeviceSettings {
    /// Number of tags.
    pub fn tag_count(&self) -> usize {
        match &self.source {
            DeviceSource::Modbus { map, .. } => map.tags().len(),
            DeviceSource::OpcUa(source) => source.tags.len(),
        }
    }

    /// Catalogue entries for this device's tags.
    pub fn tag_meta(&self) -> Vec<TagMeta> {
        let poll_interval_ms = u32::try_from(self.poll_interval.as_millis()).unwrap_or(u32::MAX);
        match &self.source {
            DeviceSource::Modbus { endpoint, map, .. } => map
                .tags()
                .iter()
                .enumerate()
                .map(|(i, tag)| {
                    let info = self.tags.get(i).cloned().unwrap_or_default();
                    TagMeta {
                        id: tag.id().clone(),
                        unit: info.unit,
                        data_type: tag.data_type().as_str().to_owned(),
                        source: endpoint.source_url(tag.kind(), tag.address()),
                        poll_interval_ms,
                        description: info.description,
                    }
                })
                .collect(),
            DeviceSource::OpcUa(source) => source
                .tags
                .iter()
                .enumerate()
                .map(|(i, tag)| {
                    let info = self.tags.get(i).cloned().unwrap_or_default();
                    TagMeta {
                        id: tag.id.clone(),
                        unit: info.unit,
                        // The server decides the type; values carry their own variant.
                        data_type: "variant".to_owned(),
                        source: format!("{}#{}", source.endpoint, tag.node_id),
                        poll_interval_ms,
                        description: info.description,
                    }
                })
                .collect(),
        }
    }
}
