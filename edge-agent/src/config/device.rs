//! One `[[device]]` table: id and duplicate ids, asset, protocol and link (TCP host/port or
//! serial line), inherited tunables, its tags (`tag.rs`) and finally the compiled read plan.
//! Devices that share a link (an RTU line, an RTU-over-TCP converter, a Modbus TCP gateway
//! with `share_connection = true`) must use distinct unit ids and, on a serial line,
//! identical line settings.

use std::collections::HashMap;
use std::time::Duration;

use protocols::modbus::{Endpoint, Link, Parity, PlanError, PlanLimits, RegisterMap, SerialLine};
use protocols::model::{AssetPath, TagId};

use super::build::{check_backoff, check_tunables, segment, span_or, value_or};
use super::device_sections::{DeviceSection, PortField};
use super::diagnostic::Diagnostics;
use super::reader::{At, Span};
use super::sections::Tunables;
use super::tag::build_tag;
use crate::settings::{BackoffSettings, DeviceSettings, DeviceSource, ModbusOptions};

/// Default poll interval.
pub(super) const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Default connect/request timeout.
pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default first reconnect delay.
pub(super) const DEFAULT_RECONNECT_MIN: Duration = Duration::from_millis(500);
/// Default largest reconnect delay.
pub(super) const DEFAULT_RECONNECT_MAX: Duration = Duration::from_secs(30);
/// Highest unit id a Modbus device can have (248..=255 are reserved, 0 is broadcast).
const MAX_UNIT_ID: u8 = 247;
/// The Modbus protocols, as spelled in `protocol` (OPC UA devices are read by `opcua.rs`).
const MODBUS_TCP: &str = "modbus-tcp";
const MODBUS_RTU: &str = "modbus-rtu";
const MODBUS_RTU_OVER_TCP: &str = "modbus-rtu-over-tcp";
const PROTOCOLS: [&str; 3] = [MODBUS_TCP, MODBUS_RTU, MODBUS_RTU_OVER_TCP];
/// Default serial line: 19200 baud, 8 data bits, even parity, 1 stop bit (the Modbus serial
/// line spec's default).
const DEFAULT_BAUD_RATE: u32 = 19_200;
const DEFAULT_DATA_BITS: u8 = 8;
const DEFAULT_STOP_BITS: u8 = 1;
/// Default consecutive timeouts that open a unit's circuit on a shared bus.
const DEFAULT_BREAKER_TIMEOUTS: u32 = 3;
/// Default time a learned exception-02 hole is trusted before it is read again.
pub(super) const DEFAULT_HOLE_RETRY: Duration = Duration::from_secs(600);
/// The serial-only fields, reported when given for a TCP protocol.
const SERIAL_FIELDS: [&str; 5] = ["baud_rate", "parity", "data_bits", "stop_bits", "frame_gap"];

/// An `[agent]` asset segment: absent, present but invalid (already reported), or valid.
pub(super) enum Part {
    Absent,
    Invalid,
    Valid(String),
}

/// What every device inherits.
pub(super) struct DeviceContext {
    pub(super) site: Part,
    pub(super) area: Part,
    pub(super) line: Part,
    pub(super) defaults: Tunables,
    /// The OPC UA PKI directory (`{agent.data_dir}/opcua-pki`).
    pub(super) pki_dir: std::path::PathBuf,
}

/// Where ids were first defined, to report duplicates.
#[derive(Default)]
pub(super) struct Seen {
    pub(super) devices: HashMap<String, usize>,
    pub(super) tags: HashMap<TagId, usize>,
    /// Per shared link: the line settings (serial) and where each unit id was defined.
    buses: HashMap<String, (Link, HashMap<u8, usize>)>,
}

impl Seen {
    /// Checks a device id and records it; a duplicate is reported at its span.
    pub(super) fn device_id(
        &mut self,
        d: &mut Diagnostics<'_>,
        id: Option<&At<String>>,
        path: &str,
    ) -> Option<String> {
        let field = format!("{path}.id");
        let checked = segment(d, id, &field)?;
        let span = id?.span();
        if let Some(&first) = self.devices.get(&checked) {
            let line = d.line_of(first);
            d.error(
                &span,
                field,
                format!("duplicate device id {checked:?} (first defined on line {line})"),
            );
        } else {
            self.devices.insert(checked.clone(), span.start);
        }
        Some(checked)
    }

    /// The id of tag `name` on `asset`, recorded; a duplicate is reported at the name.
    pub(super) fn tag_id(
        &mut self,
        d: &mut Diagnostics<'_>,
        asset: Option<&AssetPath>,
        name: Option<&At<String>>,
        path: &str,
    ) -> Option<TagId> {
        let field = format!("{path}.name");
        let checked = segment(d, name, &field);
        let id = TagId::from_parts(asset?, &checked?).ok()?;
        let span = name?.span();
        if let Some(&first) = self.tags.get(&id) {
            let line = d.line_of(first);
            d.error(
                &span,
                field,
                format!("duplicate tag {id} (first defined on line {line})"),
            );
        } else {
            self.tags.insert(id.clone(), span.start);
        }
        Some(id)
    }
}

/// Builds every device, recording problems; devices with problems are left out.
pub(super) fn build_devices(
    d: &mut Diagnostics<'_>,
    ctx: &DeviceContext,
    devices: Vec<DeviceSection>,
    opcua_devices: Vec<super::opcua::OpcUaDeviceSection>,
) -> Vec<DeviceSettings> {
    let mut seen = Seen::default();
    let mut built: Vec<(usize, DeviceSettings)> = devices
        .into_iter()
        .filter_map(|dev| {
            let index = dev.index;
            build_device(d, ctx, dev, &mut seen).map(|s| (index, s))
        })
        .collect();
    built.extend(opcua_devices.into_iter().filter_map(|dev| {
        let index = dev.index;
        super::opcua::build_device(d, ctx, dev, &mut seen).map(|s| (index, s))
    }));
    built.sort_by_key(|(index, _)| *index);
    built.into_iter().map(|(_, s)| s).collect()
}

fn build_device(
    d: &mut Diagnostics<'_>,
    ctx: &DeviceContext,
    dev: DeviceSection,
    seen: &mut Seen,
) -> Option<DeviceSettings> {
    let path = dev.path.clone();
    let at = |field: &str| format!("{path}.{field}");
    let id = seen.device_id(d, dev.id.as_ref(), &path);
    let asset = device_asset(
        d,
        ctx,
        dev.asset.as_ref(),
        &dev.span,
        &dev.path,
        id.as_deref(),
    );
    let protocol = dev.protocol.as_ref().and_then(|p| {
        let known = PROTOCOLS.contains(&p.get_ref().as_str());
        if !known {
            d.error(
                &p.span(),
                at("protocol"),
                format!(
                    "unsupported protocol {:?} (supported: {}, {})",
                    p.get_ref(),
                    PROTOCOLS.join(", "),
                    super::opcua::OPCUA
                ),
            );
        }
        known.then(|| p.get_ref().clone())
    });
    let link = protocol
        .as_deref()
        .and_then(|protocol| build_link(d, &dev, protocol));
    if let Some(u) = &dev.unit_id
        && !(1..=MAX_UNIT_ID).contains(u.get_ref())
    {
        d.error(
            &u.span(),
            at("unit_id"),
            format!("must be between 1 and {MAX_UNIT_ID}, got {}", u.get_ref()),
        );
    }
    check_tunables(d, &dev.tunables, &path);
    let own = &dev.tunables;
    let def = &ctx.defaults;
    let reconnect = BackoffSettings {
        min: inherit(
            &own.reconnect_min,
            &def.reconnect_min,
            DEFAULT_RECONNECT_MIN,
        ),
        max: inherit(
            &own.reconnect_max,
            &def.reconnect_max,
            DEFAULT_RECONNECT_MAX,
        ),
    };
    if own.reconnect_min.is_some() || own.reconnect_max.is_some() {
        check_backoff(d, &own.reconnect_min, &own.reconnect_max, reconnect, &path);
    }
    let defaults = PlanLimits::default();
    let limits = PlanLimits {
        max_registers_per_read: inherit(
            &own.max_registers_per_read,
            &def.max_registers_per_read,
            defaults.max_registers_per_read,
        ),
        max_bits_per_read: inherit(
            &own.max_bits_per_read,
            &def.max_bits_per_read,
            defaults.max_bits_per_read,
        ),
        max_gap_registers: inherit(
            &own.max_gap_registers,
            &def.max_gap_registers,
            defaults.max_gap_registers,
        ),
        max_gap_bits: inherit(&own.max_gap_bits, &def.max_gap_bits, defaults.max_gap_bits),
    };

    if dev.tags.is_empty() {
        d.error(
            &dev.span,
            at("tag"),
            "no tags configured (add [[device.tag]] tables)",
        );
    }
    let address_base = match &dev.address_base {
        Some(b) if *b.get_ref() > 1 => {
            d.error(&b.span(), at("address_base"), "must be 0 or 1");
            0
        }
        Some(b) => *b.get_ref(),
        None => 0,
    };
    let mut tags = Vec::new();
    let mut infos = Vec::new();
    let mut type_spans = Vec::new();
    let mut tags_ok = true;
    for tag in &dev.tags {
        match build_tag(d, asset.as_ref(), tag, seen, address_base) {
            Some((t, info)) => {
                tags.push(t);
                infos.push(info);
                type_spans.push(span_or(tag.data_type.as_ref().map(|t| t.span()), &tag.span));
            }
            None => tags_ok = false,
        }
    }
    let map = match RegisterMap::new(tags, limits) {
        Ok(map) => Some(map),
        Err(PlanError::TooWide {
            index,
            len,
            limit,
            field,
        }) => {
            let span = type_spans
                .get(index)
                .cloned()
                .unwrap_or_else(|| dev.span.clone());
            let tag_path = dev
                .tags
                .get(index)
                .map_or_else(|| path.clone(), |t| t.path.clone());
            d.error(
                &span,
                format!("{tag_path}.type"),
                format!("needs {len} registers but {field} is {limit}"),
            );
            None
        }
        // Limit errors were reported against the field that set them.
        Err(PlanError::Limit { .. }) => None,
    };
    let shared = match (&link, &dev.share_connection) {
        (Some(Link::Tcp { .. }), Some(s)) => *s.get_ref(),
        (Some(_), Some(s)) => {
            d.error(
                &s.span(),
                at("share_connection"),
                "applies to modbus-tcp only (RTU links are always shared)",
            );
            false
        }
        (Some(link), None) => link.is_rtu(),
        (None, _) => false,
    };
    let unit = dev.unit_id?;
    let endpoint = Endpoint {
        link: link?,
        unit_id: *unit.get_ref(),
    };
    if shared {
        check_bus(d, seen, &endpoint, unit.span(), &at("unit_id"));
    }
    if let Some(b) = &dev.breaker_timeouts
        && !shared
    {
        d.error(
            &b.span(),
            at("breaker_timeouts"),
            "applies to devices on a shared link only (modbus-rtu, modbus-rtu-over-tcp, or share_connection = true)",
        );
    }
    if !tags_ok {
        return None;
    }
    let options = ModbusOptions {
        breaker_timeouts: dev
            .breaker_timeouts
            .as_ref()
            .map_or(DEFAULT_BREAKER_TIMEOUTS, |b| *b.get_ref()),
        shared,
        request_delay: inherit(&own.request_delay, &def.request_delay, Duration::ZERO),
        hole_retry: dev
            .hole_retry
            .as_ref()
            .map_or(DEFAULT_HOLE_RETRY, |h| *h.get_ref()),
    };
    Some(DeviceSettings {
        id: id?,
        asset: asset?,
        poll_interval: inherit(
            &own.poll_interval,
            &def.poll_interval,
            DEFAULT_POLL_INTERVAL,
        ),
        timeout: inherit(&own.timeout, &def.timeout, DEFAULT_TIMEOUT),
        reconnect,
        source: DeviceSource::Modbus {
            endpoint,
            map: map?.with_address_base(address_base),
            options,
        },
        tags: infos,
    })
}

/// The link from `protocol`, `host`, `port` and the serial fields; problems recorded.
fn build_link(d: &mut Diagnostics<'_>, dev: &DeviceSection, protocol: &str) -> Option<Link> {
    let at = |field: &str| format!("{}.{field}", dev.path);
    let serial = protocol == MODBUS_RTU;
    if serial {
        if let Some(h) = &dev.host {
            d.error(
                &h.span(),
                at("host"),
                "modbus-rtu has no host (port is the serial device, e.g. \"/dev/ttyUSB0\")",
            );
        }
    } else {
        let given = [
            dev.baud_rate.as_ref().map(|v| v.span()),
            dev.parity.as_ref().map(|v| v.span()),
            dev.data_bits.as_ref().map(|v| v.span()),
            dev.stop_bits.as_ref().map(|v| v.span()),
            dev.frame_gap.as_ref().map(|v| v.span()),
        ];
        for (field, span) in SERIAL_FIELDS.iter().zip(given) {
            if let Some(span) = span {
                d.error(
                    &span,
                    at(field),
                    format!("applies to modbus-rtu only, not {protocol}"),
                );
            }
        }
    }
    let port = dev.port.as_ref()?;
    if serial {
        let PortField::Path(path) = port.get_ref() else {
            d.error(
                &port.span(),
                at("port"),
                "modbus-rtu needs the serial device path, e.g. port = \"/dev/ttyUSB0\"",
            );
            return None;
        };
        if path.trim().is_empty() {
            d.error(&port.span(), at("port"), "must not be empty");
            return None;
        }
        let baud_rate = dev
            .baud_rate
            .as_ref()
            .map_or(DEFAULT_BAUD_RATE, |b| *b.get_ref());
        if baud_rate == 0 {
            if let Some(b) = &dev.baud_rate {
                d.error(&b.span(), at("baud_rate"), "must be greater than 0");
            }
            return None;
        }
        let data_bits = dev
            .data_bits
            .as_ref()
            .map_or(DEFAULT_DATA_BITS, |b| *b.get_ref());
        if let Some(b) = &dev.data_bits
            && !matches!(b.get_ref(), 7 | 8)
        {
            d.error(&b.span(), at("data_bits"), "must be 7 or 8");
            return None;
        }
        let stop_bits = dev
            .stop_bits
            .as_ref()
            .map_or(DEFAULT_STOP_BITS, |b| *b.get_ref());
        if let Some(b) = &dev.stop_bits
            && !matches!(b.get_ref(), 1 | 2)
        {
            d.error(&b.span(), at("stop_bits"), "must be 1 or 2");
            return None;
        }
        let parity = dev.parity.as_ref().map_or(Parity::Even, |p| *p.get_ref());
        let frame_gap = dev.frame_gap.as_ref().map_or_else(
            || SerialLine::default_frame_gap(baud_rate, parity, data_bits, stop_bits),
            |g| *g.get_ref(),
        );
        return Some(Link::Serial(SerialLine {
            port: path.clone(),
            baud_rate,
            parity,
            data_bits,
            stop_bits,
            frame_gap,
        }));
    }
    let port = match port.get_ref() {
        PortField::Number(0) => {
            d.error(&port.span(), at("port"), "must be between 1 and 65535");
            None
        }
        PortField::Number(n) => Some(*n),
        PortField::Path(_) => {
            d.error(
                &port.span(),
                at("port"),
                format!("{protocol} needs a TCP port number (1..65535)"),
            );
            None
        }
    };
    let host = match &dev.host {
        None => {
            d.error(&dev.span, at("host"), "missing required field");
            None
        }
        Some(h) if h.get_ref().trim().is_empty() => {
            d.error(&h.span(), at("host"), "must not be empty");
            None
        }
        Some(h) => Some(h.get_ref().clone()),
    };
    let (host, port) = (host?, port?);
    Some(if protocol == MODBUS_TCP {
        Link::Tcp { host, port }
    } else {
        Link::RtuOverTcp { host, port }
    })
}

/// Checks a device on a shared link against the others on it: same line settings (serial),
/// distinct unit ids.
fn check_bus(
    d: &mut Diagnostics<'_>,
    seen: &mut Seen,
    endpoint: &Endpoint,
    unit_span: super::reader::Span,
    unit_path: &str,
) {
    let key = match &endpoint.link {
        Link::Serial(line) => format!("serial {}", line.port),
        other => other.to_string(),
    };
    let (first_link, units) = seen
        .buses
        .entry(key)
        .or_insert_with(|| (endpoint.link.clone(), HashMap::new()));
    if *first_link != endpoint.link {
        d.error(
            &unit_span,
            unit_path,
            format!(
                "shares a link with another device but its settings differ ({} vs {first_link}); devices on one line or gateway must agree",
                endpoint.link
            ),
        );
        return;
    }
    if let Some(&first) = units.get(&endpoint.unit_id) {
        let line = d.line_of(first);
        d.error(
            &unit_span,
            unit_path,
            format!(
                "unit id {} is already used on {} (line {line})",
                endpoint.unit_id, endpoint.link
            ),
        );
    } else {
        units.insert(endpoint.unit_id, unit_span.start);
    }
}

/// A device's own value, else the `[defaults]` one, else `fallback`.
pub(super) fn inherit<T: Copy>(own: &Option<At<T>>, defaults: &Option<At<T>>, fallback: T) -> T {
    value_or(own, value_or(defaults, fallback))
}

/// A device's asset: its own `asset`, else `{site}/{area}/{line}/{id}` from `[agent]`.
pub(super) fn device_asset(
    d: &mut Diagnostics<'_>,
    ctx: &DeviceContext,
    asset: Option<&At<String>>,
    span: &Span,
    path: &str,
    id: Option<&str>,
) -> Option<AssetPath> {
    if let Some(asset) = asset {
        return match AssetPath::new(asset.get_ref()) {
            Ok(a) => Some(a),
            Err(e) => {
                d.error(&asset.span(), format!("{path}.asset"), e.to_string());
                None
            }
        };
    }
    match (&ctx.site, &ctx.area, &ctx.line) {
        (Part::Valid(site), Part::Valid(area), Part::Valid(line)) => {
            AssetPath::from_parts(site, area, line, id?).ok()
        }
        (Part::Absent, _, _) | (_, Part::Absent, _) | (_, _, Part::Absent) => {
            d.error(
                span,
                format!("{path}.asset"),
                "no asset: set asset = \"site/area/line/name\", or site, area and line in [agent]",
            );
            None
        }
        _ => None, // an invalid [agent] segment was already reported
    }
}
