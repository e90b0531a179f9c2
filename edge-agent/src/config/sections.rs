//! Reads each section of the file into spanned, typed but not yet cross-checked values.
//! A bad key only loses that key: the rest of its table, and every other table, is still
//! read, so all problems surface in one run.

use std::time::Duration;

use protocols::codec::Encoding;
use toml::Spanned;
use toml::de::DeTable;

use super::device_sections::{DeviceSection, read_device};
use super::diagnostic::Diagnostics;
use super::opcua;
use super::reader::{At, TableReader};
use super::spool::{SPOOL_FIELDS, SpoolSection, read_spool};

const TOP_FIELDS: &[&str] = &["agent", "mqtt", "spool", "defaults", "device"];
const AGENT_FIELDS: &[&str] = &[
    "id",
    "site",
    "area",
    "line",
    "shutdown_grace",
    "data_dir",
    "metrics_listen",
];
const MQTT_FIELDS: &[&str] = &[
    "broker",
    "client_id",
    "keep_alive",
    "status_interval",
    "encoding",
    "username",
    "password_file",
    "password_env",
    "reconnect_min",
    "reconnect_max",
];
const TUNABLE_FIELDS: &[&str] = &[
    "poll_interval",
    "timeout",
    "max_registers_per_read",
    "max_bits_per_read",
    "max_gap_registers",
    "max_gap_bits",
    "reconnect_min",
    "reconnect_max",
    "request_delay",
];
/// The whole file.
pub(super) struct Document {
    pub(super) agent: Option<AgentSection>,
    pub(super) mqtt: Option<MqttSection>,
    pub(super) spool: SpoolSection,
    pub(super) defaults: Tunables,
    pub(super) devices: Vec<DeviceSection>,
    /// `protocol = "opcua"` devices (`opcua.rs`).
    pub(super) opcua_devices: Vec<opcua::OpcUaDeviceSection>,
}

pub(super) struct AgentSection {
    pub(super) id: Option<At<String>>,
    pub(super) site: Option<At<String>>,
    pub(super) area: Option<At<String>>,
    pub(super) line: Option<At<String>>,
    pub(super) shutdown_grace: Option<At<Duration>>,
    pub(super) data_dir: Option<At<String>>,
    pub(super) metrics_listen: Option<At<String>>,
}

pub(super) struct MqttSection {
    pub(super) broker: Option<At<String>>,
    pub(super) client_id: Option<At<String>>,
    pub(super) keep_alive: Option<At<Duration>>,
    pub(super) status_interval: Option<At<Duration>>,
    pub(super) encoding: Option<At<Encoding>>,
    pub(super) username: Option<At<String>>,
    pub(super) password_file: Option<At<String>>,
    pub(super) password_env: Option<At<String>>,
    pub(super) reconnect_min: Option<At<Duration>>,
    pub(super) reconnect_max: Option<At<Duration>>,
}

/// Settings a device inherits from `[defaults]` and may override.
#[derive(Default, Clone)]
pub(super) struct Tunables {
    pub(super) poll_interval: Option<At<Duration>>,
    pub(super) timeout: Option<At<Duration>>,
    pub(super) max_registers_per_read: Option<At<u16>>,
    pub(super) max_bits_per_read: Option<At<u16>>,
    pub(super) max_gap_registers: Option<At<u16>>,
    pub(super) max_gap_bits: Option<At<u16>>,
    pub(super) reconnect_min: Option<At<Duration>>,
    pub(super) reconnect_max: Option<At<Duration>>,
    pub(super) request_delay: Option<At<Duration>>,
}

/// Reads the document root.
pub(super) fn read_document(d: &mut Diagnostics<'_>, root: &Spanned<DeTable<'_>>) -> Document {
    let mut top = TableReader::from_table(root.get_ref(), 0..0, String::new(), TOP_FIELDS);
    let agent = match top.raw("agent") {
        Some(v) => TableReader::new(d, v, "agent".into(), AGENT_FIELDS).map(|r| read_agent(d, r)),
        None => {
            top.missing(d, "agent");
            None
        }
    };
    let mqtt = match top.raw("mqtt") {
        Some(v) => TableReader::new(d, v, "mqtt".into(), MQTT_FIELDS).map(|r| read_mqtt(d, r)),
        None => {
            top.missing(d, "mqtt");
            None
        }
    };
    let spool = top
        .raw("spool")
        .and_then(|v| TableReader::new(d, v, "spool".into(), SPOOL_FIELDS))
        .map(|r| read_spool(d, r))
        .unwrap_or_default();
    let defaults = top
        .raw("defaults")
        .and_then(|v| TableReader::new(d, v, "defaults".into(), TUNABLE_FIELDS))
        .map(|mut r| {
            let t = read_tunables(d, &mut r);
            r.finish(d);
            t
        })
        .unwrap_or_default();
    let mut devices = Vec::new();
    let mut opcua_devices = Vec::new();
    for (i, v) in top.tables(d, "device").into_iter().enumerate() {
        if opcua::is_opcua(v) {
            opcua_devices.extend(opcua::read_device(d, i, v));
        } else {
            devices.extend(read_device(d, i, v));
        }
    }
    top.finish(d);
    Document {
        agent,
        mqtt,
        spool,
        defaults,
        devices,
        opcua_devices,
    }
}

fn read_agent(d: &mut Diagnostics<'_>, mut r: TableReader<'_, '_>) -> AgentSection {
    let s = AgentSection {
        id: r.req(d, "id"),
        site: r.opt(d, "site"),
        area: r.opt(d, "area"),
        line: r.opt(d, "line"),
        shutdown_grace: r.duration(d, "shutdown_grace"),
        data_dir: r.opt(d, "data_dir"),
        metrics_listen: r.opt(d, "metrics_listen"),
    };
    r.finish(d);
    s
}

fn read_mqtt(d: &mut Diagnostics<'_>, mut r: TableReader<'_, '_>) -> MqttSection {
    if let Some(v) = r.raw("password") {
        d.error(
            &v.span(),
            r.path("password"),
            "inline passwords are not allowed; use password_file or password_env",
        );
    }
    let s = MqttSection {
        broker: r.req(d, "broker"),
        client_id: r.opt(d, "client_id"),
        keep_alive: r.duration(d, "keep_alive"),
        status_interval: r.duration(d, "status_interval"),
        encoding: r.keyword(
            d,
            "encoding",
            "encoding",
            &["binary", "json"],
            Encoding::parse,
        ),
        username: r.opt(d, "username"),
        password_file: r.opt(d, "password_file"),
        password_env: r.opt(d, "password_env"),
        reconnect_min: r.duration(d, "reconnect_min"),
        reconnect_max: r.duration(d, "reconnect_max"),
    };
    r.finish(d);
    s
}

pub(super) fn read_tunables(d: &mut Diagnostics<'_>, r: &mut TableReader<'_, '_>) -> Tunables {
    Tunables {
        poll_interval: r.duration(d, "poll_interval"),
        timeout: r.duration(d, "timeout"),
        max_registers_per_read: r.opt(d, "max_registers_per_read"),
        max_bits_per_read: r.opt(d, "max_bits_per_read"),
        max_gap_registers: r.opt(d, "max_gap_registers"),
        max_gap_bits: r.opt(d, "max_gap_bits"),
        reconnect_min: r.duration(d, "reconnect_min"),
        reconnect_max: r.duration(d, "reconnect_max"),
        request_delay: r.duration(d, "request_delay"),
    }
}
