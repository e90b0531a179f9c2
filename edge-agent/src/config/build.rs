//! Cross-checks the read sections and turns them into [`Settings`]: the agent and broker
//! here, devices and tags in `device.rs`. Every problem is recorded; settings come out only
//! when there are none.

use std::time::Duration;

use protocols::model::{AgentId, IdError};

use super::device::{DeviceContext, Part, build_devices};
use super::diagnostic::Diagnostics;
use super::mqtt::build_mqtt;
use super::reader::{At, Span};
use super::sections::{AgentSection, Document, Tunables};
use super::spool::build_spool;
use crate::settings::{AgentSettings, BackoffSettings, Settings};

/// Default `[agent] shutdown_grace`.
pub(super) const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Validates `doc` and builds settings (`None` if any problem was recorded).
pub(super) fn build(d: &mut Diagnostics<'_>, doc: Document) -> Option<Settings> {
    let agent = doc.agent.as_ref().and_then(|a| build_agent(d, a));
    let mqtt = doc
        .mqtt
        .as_ref()
        .and_then(|m| build_mqtt(d, m, agent.as_ref().map(|a| &a.id)));
    let spool = build_spool(
        d,
        &doc.spool,
        doc.agent.as_ref().and_then(|a| a.data_dir.as_ref()),
        agent.as_ref().map(|a| &a.id),
    );
    check_tunables(d, &doc.defaults, "defaults");
    let ctx = DeviceContext {
        site: part(
            d,
            doc.agent.as_ref().and_then(|a| a.site.as_ref()),
            "agent.site",
        ),
        area: part(
            d,
            doc.agent.as_ref().and_then(|a| a.area.as_ref()),
            "agent.area",
        ),
        line: part(
            d,
            doc.agent.as_ref().and_then(|a| a.line.as_ref()),
            "agent.line",
        ),
        defaults: doc.defaults,
        pki_dir: std::path::PathBuf::from(
            doc.agent
                .as_ref()
                .and_then(|a| a.data_dir.as_ref())
                .map_or(super::spool::DEFAULT_DATA_DIR, |d| d.get_ref().as_str()),
        )
        .join("opcua-pki"),
    };
    if doc.devices.is_empty() && doc.opcua_devices.is_empty() {
        d.error(
            &(0..0),
            "device",
            "no devices configured (add a [[device]] table)",
        );
    }
    let devices = build_devices(d, &ctx, doc.devices, doc.opcua_devices);
    match (agent, mqtt) {
        (Some(agent), Some(mqtt)) if d.is_empty() => Some(Settings {
            agent,
            mqtt,
            spool,
            devices,
        }),
        _ => None,
    }
}

fn build_agent(d: &mut Diagnostics<'_>, a: &AgentSection) -> Option<AgentSettings> {
    let shutdown_grace = a
        .shutdown_grace
        .as_ref()
        .map_or(DEFAULT_SHUTDOWN_GRACE, |g| *g.get_ref());
    let data_dir = std::path::PathBuf::from(
        a.data_dir
            .as_ref()
            .map_or(super::spool::DEFAULT_DATA_DIR, |d| d.get_ref().as_str()),
    );
    let metrics_listen =
        a.metrics_listen
            .as_ref()
            .and_then(|m| match m.get_ref().parse::<std::net::SocketAddr>() {
                Ok(addr) => Some(addr),
                Err(_) => {
                    d.error(
                        &m.span(),
                        "agent.metrics_listen",
                        format!(
                            "{:?} is not an address (expected host:port, e.g. 127.0.0.1:9465)",
                            m.get_ref()
                        ),
                    );
                    None
                }
            });
    let id = a.id.as_ref()?;
    match AgentId::new(id.get_ref()) {
        Ok(id) => Some(AgentSettings {
            id,
            shutdown_grace,
            data_dir,
            metrics_listen,
        }),
        Err(e) => {
            d.error(&id.span(), "agent.id", id_problem(&e));
            None
        }
    }
}

/// Checks the tunables present in one table (`defaults` or a device) against their bounds.
pub(super) fn check_tunables(d: &mut Diagnostics<'_>, t: &Tunables, path: &str) {
    if let Some(p) = &t.poll_interval
        && *p.get_ref() < Duration::from_millis(10)
    {
        d.error(
            &p.span(),
            format!("{path}.poll_interval"),
            "must be at least 10ms",
        );
    }
    if let Some(p) = &t.timeout
        && p.get_ref().is_zero()
    {
        d.error(
            &p.span(),
            format!("{path}.timeout"),
            "must be greater than 0",
        );
    }
    for (field, value, max) in [
        (
            "max_registers_per_read",
            &t.max_registers_per_read,
            protocols::modbus::MAX_REGISTERS_PER_READ,
        ),
        (
            "max_bits_per_read",
            &t.max_bits_per_read,
            protocols::modbus::MAX_BITS_PER_READ,
        ),
    ] {
        if let Some(v) = value
            && (*v.get_ref() == 0 || *v.get_ref() > max)
        {
            d.error(
                &v.span(),
                format!("{path}.{field}"),
                format!(
                    "must be between 1 and {max} (the Modbus maximum), got {}",
                    v.get_ref()
                ),
            );
        }
    }
    if let Some(m) = &t.reconnect_min
        && m.get_ref().is_zero()
    {
        d.error(
            &m.span(),
            format!("{path}.reconnect_min"),
            "must be greater than 0",
        );
    }
}

/// Reports `min > max`, at whichever of the two was written in this table.
pub(super) fn check_backoff(
    d: &mut Diagnostics<'_>,
    min: &Option<At<Duration>>,
    max: &Option<At<Duration>>,
    merged: BackoffSettings,
    path: &str,
) {
    if merged.min > merged.max {
        let (span, field) = match (max, min) {
            (Some(m), _) => (m.span(), "reconnect_max"),
            (None, Some(m)) => (m.span(), "reconnect_min"),
            (None, None) => return,
        };
        d.error(
            &span,
            format!("{path}.{field}"),
            format!(
                "reconnect_min ({}) must not exceed reconnect_max ({})",
                humantime::format_duration(merged.min),
                humantime::format_duration(merged.max)
            ),
        );
    }
}

/// A value, or `default` when absent.
pub(super) fn value_or<T: Copy>(v: &Option<At<T>>, default: T) -> T {
    v.as_ref().map_or(default, |v| *v.get_ref())
}

/// A checked single identifier segment (site, area, line, device id, tag name).
pub(super) fn segment(
    d: &mut Diagnostics<'_>,
    v: Option<&At<String>>,
    path: &str,
) -> Option<String> {
    let v = v?;
    match segment_problem(v.get_ref()) {
        None => Some(v.get_ref().clone()),
        Some(msg) => {
            d.error(&v.span(), path, msg);
            None
        }
    }
}

/// An `[agent]` asset segment, checked.
fn part(d: &mut Diagnostics<'_>, v: Option<&At<String>>, path: &str) -> Part {
    match v {
        None => Part::Absent,
        Some(_) => segment(d, v, path).map_or(Part::Invalid, Part::Valid),
    }
}

/// Why `s` is not a valid identifier segment, if it is not.
pub(super) fn segment_problem(s: &str) -> Option<String> {
    AgentId::new(s).err().map(|e| id_problem(&e))
}

/// An identifier problem without the "agent id" wording of [`IdError`]'s own message.
pub(super) fn id_problem(e: &IdError) -> String {
    match e {
        IdError::Empty { .. } => "must not be empty".to_owned(),
        IdError::TooLong { input, .. } => format!(
            "{input:?} is longer than {} characters",
            protocols::model::MAX_SEGMENT_LEN
        ),
        IdError::BadChar { input, ch, .. } => {
            format!("{input:?}: character {ch:?} not allowed (use A-Z a-z 0-9 _ . : -)")
        }
        IdError::Segments { input, .. } => format!("{input:?} must be a single name, without '/'"),
    }
}

/// The span of `v`, or `fallback` when absent.
pub(super) fn span_or(v: Option<Span>, fallback: &Span) -> Span {
    v.unwrap_or_else(|| fallback.clone())
}
