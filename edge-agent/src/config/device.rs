//! One `[[device]]` table: id and duplicate ids, asset, endpoint, inherited tunables, its
//! tags (`tag.rs`) and finally the compiled read plan.

use std::collections::HashMap;
use std::time::Duration;

use protocols::modbus::{PlanError, PlanLimits, RegisterMap, TcpEndpoint};
use protocols::model::{AssetPath, TagId};

use super::build::{check_backoff, check_tunables, segment, span_or, value_or};
use super::device_sections::DeviceSection;
use super::diagnostic::Diagnostics;
use super::reader::{At, Span};
use super::sections::Tunables;
use super::tag::build_tag;
use crate::settings::{BackoffSettings, DeviceSettings, DeviceSource};

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
/// The Modbus protocol name (OPC UA devices are read by `opcua.rs`).
const MODBUS_TCP: &str = "modbus-tcp";

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
    let id = segment(d, dev.id.as_ref(), &at("id"));
    if let (Some(id), Some(span)) = (&id, dev.id.as_ref().map(|i| i.span())) {
        if let Some(&first) = seen.devices.get(id) {
            let line = d.line_of(first);
            d.error(
                &span,
                at("id"),
                format!("duplicate device id {id:?} (first defined on line {line})"),
            );
        } else {
            seen.devices.insert(id.clone(), span.start);
        }
    }
    let asset = device_asset(
        d,
        ctx,
        dev.asset.as_ref(),
        &dev.span,
        &dev.path,
        id.as_deref(),
    );
    if let Some(p) = &dev.protocol
        && p.get_ref() != MODBUS_TCP
    {
        d.error(
            &p.span(),
            at("protocol"),
            format!(
                "unsupported protocol {:?} (supported: {MODBUS_TCP}, {})",
                p.get_ref(),
                super::opcua::OPCUA
            ),
        );
    }
    if let Some(h) = &dev.host
        && h.get_ref().trim().is_empty()
    {
        d.error(&h.span(), at("host"), "must not be empty");
    }
    if let Some(p) = &dev.port
        && *p.get_ref() == 0
    {
        d.error(&p.span(), at("port"), "must be between 1 and 65535");
    }
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
    let mut tags = Vec::new();
    let mut infos = Vec::new();
    let mut type_spans = Vec::new();
    let mut tags_ok = true;
    for tag in &dev.tags {
        match build_tag(d, asset.as_ref(), tag, seen) {
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
    let endpoint = TcpEndpoint {
        host: dev.host?.into_inner(),
        port: dev.port?.into_inner(),
        unit_id: dev.unit_id?.into_inner(),
    };
    if !tags_ok {
        return None;
    }
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
        source: DeviceSource::ModbusTcp {
            endpoint,
            map: map?,
        },
        tags: infos,
    })
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
