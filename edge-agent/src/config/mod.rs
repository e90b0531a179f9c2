//! The agent's configuration file: TOML in, validated [`Settings`] out.
//!
//! # Schema
//!
//! ```toml
//! [agent]
//! id = "edge-01"                    # required; the agent's topic level
//! site = "demo"                     # a device without `asset` gets {site}/{area}/{line}/{device id}
//! area = "hall-1"
//! line = "line-1"
//! shutdown_grace = "5s"             # how long to keep flushing to the broker on shutdown
//! data_dir = "data"                 # agent state (the spool); relative to the working directory
//! metrics_listen = "127.0.0.1:9465" # optional: Prometheus counters at GET /metrics (off by default)
//!
//! [mqtt]
//! broker = "mqtt://127.0.0.1:1883"  # required; mqtt://host[:port], port 1883 by default
//! client_id = "sentia-edge-01"      # default "sentia-{agent id}"
//! keep_alive = "15s"                # 1s..=65535s
//! status_interval = "10s"           # retained status (devices, spool depth, drops) republished this often; >= 100ms
//! encoding = "binary"               # binary | json
//! username = "edge"                 # optional; the password comes from
//! password_file = "/etc/sentia/mqtt.pass"   # a file (trailing newline trimmed)
//! # password_env = "SENTIA_MQTT_PASSWORD"   # or an environment variable, never inline
//! reconnect_min = "500ms"           # broker reconnect backoff
//! reconnect_max = "10s"
//!
//! [spool]                           # the disk spool; all optional (see `crate::spool`)
//! dir = "data/spool/edge-01"        # default {agent.data_dir}/spool/{agent.id}
//! max_bytes = "1GiB"                # >= 4KiB; a size with unit (B kB KiB MB MiB GB GiB ...) or bytes
//! max_age = "7d"                    # optional: discard records older than this
//! fsync = "interval"                # always | interval | never
//! fsync_interval = "1s"             # only with fsync = "interval"
//! when_full = "drop_oldest"         # drop_oldest | drop_newest (every drop is counted)
//! replay_rate = 500                 # backlog batches/s after a reconnect; live data goes first
//!
//! [defaults]                        # every key here may be overridden per device
//! poll_interval = "1s"              # >= 10ms
//! timeout = "1s"                    # bounds each connect and each request
//! max_registers_per_read = 125      # 1..=125
//! max_bits_per_read = 2000          # 1..=2000
//! max_gap_registers = 10            # unused registers read to merge two reads
//! max_gap_bits = 100
//! reconnect_min = "500ms"
//! reconnect_max = "30s"
//!
//! [[device]]
//! id = "motor-01"                   # unique; a valid id segment
//! asset = "demo/hall-1/line-1/motor-01"   # optional, see [agent]
//! protocol = "modbus-tcp"           # or "opcua" (keys in `opcua.rs`)
//! host = "127.0.0.1"
//! port = 502
//! unit_id = 1                       # 1..=247
//!
//! [[device.tag]]
//! name = "speed"                    # tag id is {asset}/{name}; unique per asset
//! register = "input"                # coil | discrete | input | holding
//! address = 0                       # 0-based protocol address
//! type = "u16"                      # bool | u16 | i16 | u32 | i32 | f32 | u64 | i64 | f64
//! order = "ABCD"                    # ABCD | CDAB | BADC | DCBA (or the 8-letter 64-bit names)
//! scale = 1.0                       # value = raw * scale + offset
//! offset = 0.0
//! unit = "rpm"
//! description = "motor speed"
//! ```
//!
//! Tag keys use the same names as the simulator's register map files. Durations are
//! humantime strings ("250ms", "1s", "2m").
//!
//! # Validation
//!
//! Loading reports every problem at once, each as
//! `FILE:LINE:COL: <field path>: <message>`, e.g.
//! `agent.toml:42:8: device[motor-01].tag[speed].type: unknown type "f33" (expected bool, u16, ...)`.
//! Field paths name devices by id and tags by name where those are known, by 0-based
//! index otherwise (`device[2].tag[3]`).
//!
//! How: the file is parsed into a spanned document (`toml::de::DeTable`), then each table is
//! read key by key (`reader.rs`: typed values via serde, unknown keys reported like
//! `deny_unknown_fields`), so one bad key, tag or device never hides another
//! (`sections.rs`, `device_sections.rs`). Cross-checks (`build.rs`, `mqtt.rs`, `device.rs`,
//! `tag.rs`) follow: identifiers, duplicate
//! device ids and tag ids, type vs. register table, address overflow, unit id, poll interval,
//! Modbus limits, broker URL, credentials, spool limits, and finally each device's read plan is compiled.
//! Problems are sorted by position and turned into line:column (`diagnostic.rs`).
//!
//! The binary exits with 64 (EX_USAGE) on any [`ConfigError`].

mod broker;
mod build;
mod device;
mod device_sections;
mod diagnostic;
mod mqtt;
mod opcua;
mod reader;
mod sections;
mod spool;
mod tag;

use std::path::Path;

pub use diagnostic::{ConfigError, Problem};

use crate::settings::Settings;
use diagnostic::Diagnostics;

/// Reads and validates the configuration file at `path`.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

/// Validates configuration `text`; `file` names it in problem reports.
pub fn parse(text: &str, file: &str) -> Result<Settings, ConfigError> {
    let mut d = Diagnostics::new(text);
    let (root, syntax) = toml::de::DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        for e in syntax {
            d.error(&e.span().unwrap_or(0..0), "", e.message().to_owned());
        }
        return Err(into_error(d, file));
    }
    let doc = sections::read_document(&mut d, &root);
    match build::build(&mut d, doc) {
        Some(settings) => Ok(settings),
        None => Err(into_error(d, file)),
    }
}

fn into_error(d: Diagnostics<'_>, file: &str) -> ConfigError {
    d.into_error(file).unwrap_or_else(|| ConfigError::Invalid {
        file: file.to_owned(),
        problems: Vec::new(),
    })
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

#[cfg(test)]
#[path = "opcua_tests.rs"]
mod opcua_tests;
