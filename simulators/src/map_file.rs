//! The register map file: the contract between the simulator and any client
//! (edge agent configs, end-to-end tests). Built from `plant::layout` and the
//! bound listener addresses; the same serde types read it back.
//!
//! Format 1 is TOML: top-level `format`, `seed`, `machines`, `tick_ms`, then
//! one `[[machine]]` table per machine with its `[[machine.signal]]` rows.
//! Writing goes through a temporary file in the same directory and a rename,
//! so readers never see a partial file.

mod storage;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::modbus::addressing::location;
use crate::plant::{DataType, MachineKind, Plant, RegisterKind, SignalDef, WordOrder};

pub use storage::{MapError, read_map, write_map};

/// Current map format version.
pub const MAP_FORMAT: u32 = 1;
/// First line of every generated map file.
pub const MAP_HEADER: &str = "# Sentia plant-sim register map. Generated; do not edit.";

/// A whole register map file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterMap {
    /// Format version, [`MAP_FORMAT`].
    pub format: u32,
    /// Plant seed.
    pub seed: u64,
    /// Number of machines.
    pub machines: usize,
    /// Tick period in milliseconds; 0 means frozen at tick 0.
    pub tick_ms: u64,
    /// The OPC UA endpoint URL, when plant-sim serves OPC UA (`--opcua`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opcua_endpoint: Option<String>,
    /// Namespace index of the machine nodes on that server; node ids are
    /// `ns=<index>;s=<machine id>.<signal>` ([`RegisterMap::opcua_node_id`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opcua_namespace: Option<u16>,
    /// One entry per machine, by index.
    #[serde(rename = "machine", default)]
    pub entries: Vec<MachineEntry>,
}

/// One machine: identity, where to reach it, and its signals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MachineEntry {
    /// Machine id, e.g. `motor-01`.
    pub id: String,
    /// Machine kind.
    pub kind: MachineKind,
    /// ISA-95 asset path `site/area/line/asset`.
    pub asset: String,
    /// Host (IP address) of the listener serving this machine.
    pub host: String,
    /// Port of that listener.
    pub port: u16,
    /// Modbus unit id on that listener.
    pub unit_id: u8,
    /// The machine's signals, in layout order.
    #[serde(rename = "signal", default)]
    pub signals: Vec<SignalEntry>,
}

/// One signal of a machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalEntry {
    /// Signal name, unique within the machine.
    pub name: String,
    /// Modbus table.
    pub register: RegisterKind,
    /// 0-based address of the first bit or register.
    pub address: u16,
    /// Encoded type.
    #[serde(rename = "type")]
    pub data_type: DataType,
    /// Word order of 32-bit types; `ABCD` for 1-register types.
    pub order: WordOrder,
    /// Engineering value = raw * scale + offset (integer types).
    pub scale: f64,
    /// See `scale`.
    pub offset: f64,
    /// Engineering unit.
    pub unit: String,
}

impl From<&SignalDef> for SignalEntry {
    fn from(def: &SignalDef) -> Self {
        Self {
            name: def.name.to_owned(),
            register: def.register,
            address: def.address,
            data_type: def.data_type,
            order: def.order,
            scale: def.scale,
            offset: def.offset,
            unit: def.unit.to_owned(),
        }
    }
}

impl RegisterMap {
    /// The map of `plant` served on `listeners` (bound addresses by listener
    /// index) with tick period `tick`.
    pub fn build(plant: &Plant, tick: Duration, listeners: &[SocketAddr]) -> Self {
        let entries = plant
            .machines()
            .map(|info| {
                let (listener, unit_id) = location(info.index());
                let addr = listeners.get(listener).copied();
                MachineEntry {
                    id: info.id().to_owned(),
                    kind: info.kind(),
                    asset: info.asset().to_owned(),
                    host: addr.map(|a| a.ip().to_string()).unwrap_or_default(),
                    port: addr.map_or(0, |a| a.port()),
                    unit_id,
                    signals: info
                        .kind()
                        .signals()
                        .iter()
                        .map(SignalEntry::from)
                        .collect(),
                }
            })
            .collect();
        Self {
            format: MAP_FORMAT,
            seed: plant.seed(),
            machines: plant.machine_count(),
            tick_ms: u64::try_from(tick.as_millis()).unwrap_or(u64::MAX),
            opcua_endpoint: None,
            opcua_namespace: None,
            entries,
        }
    }

    /// The OPC UA node id of `signal` on machine `machine`, when the map has an OPC UA
    /// endpoint.
    pub fn opcua_node_id(&self, machine: &str, signal: &str) -> Option<String> {
        self.opcua_namespace
            .map(|ns| crate::opcua::node_id(ns, machine, signal))
    }

    /// The entry of machine `id`.
    pub fn machine(&self, id: &str) -> Option<&MachineEntry> {
        self.entries.iter().find(|m| m.id == id)
    }

    /// The file contents: header comment plus TOML.
    pub fn to_toml(&self) -> Result<String, MapError> {
        let body = toml::to_string(self).map_err(MapError::Render)?;
        Ok(format!("{MAP_HEADER}\n{body}"))
    }
}

impl MachineEntry {
    /// The signal named `name`.
    pub fn signal(&self, name: &str) -> Option<&SignalEntry> {
        self.signals.iter().find(|s| s.name == name)
    }

    /// The listener address, if `host` is an IP address.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let ip: IpAddr = self.host.parse().ok()?;
        Some(SocketAddr::new(ip, self.port))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    /// A 300-machine map on two listeners (ports 15020 and 15021).
    pub(crate) fn sample(machines: usize) -> RegisterMap {
        let plant = Plant::new(42, machines).unwrap();
        let addrs: Vec<SocketAddr> = vec![
            "127.0.0.1:15020".parse().unwrap(),
            "127.0.0.1:15021".parse().unwrap(),
        ];
        RegisterMap::build(&plant, Duration::from_secs(1), &addrs)
    }

    #[test]
    fn machines_land_on_their_listener() {
        let map = sample(300);
        assert_eq!(map.entries.len(), 300);
        let m = map.machine("compressor-249").unwrap();
        assert_eq!((m.port, m.unit_id), (15021, 2));
        assert_eq!(m.socket_addr(), Some("127.0.0.1:15021".parse().unwrap()));
        assert_eq!(m.signal("oil_temp").unwrap().scale, 0.1);
        let first = map.machine("motor-001").unwrap();
        assert_eq!((first.port, first.unit_id), (15020, 1));
    }

    #[test]
    fn text_matches_the_documented_shape() {
        let text = sample(10).to_toml().unwrap();
        assert!(text.starts_with(MAP_HEADER));
        for line in [
            "format = 1",
            "seed = 42",
            "machines = 10",
            "tick_ms = 1000",
            "[[machine]]",
            "id = \"motor-01\"",
            "kind = \"motor\"",
            "asset = \"demo/hall-1/line-1/motor-01\"",
            "host = \"127.0.0.1\"",
            "port = 15020",
            "unit_id = 1",
            "[[machine.signal]]",
            "register = \"coil\"",
            "type = \"bool\"",
            "order = \"ABCD\"",
            "order = \"CDAB\"",
            "scale = 1.0",
            "scale = 0.01",
            "offset = 0.0",
            "unit = \"\"",
            "unit = \"mm/s\"",
        ] {
            assert!(text.lines().any(|l| l == line), "missing line {line:?}");
        }
    }
}
