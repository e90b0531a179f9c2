//! `[[device]]` tables with `protocol = "opcua"`: read key by key like the Modbus ones
//! (`device_sections.rs`), then checked and turned into
//! [`OpcUaSource`](crate::opcua::OpcUaSource) settings.
//!
//! ```toml
//! [[device]]
//! id = "press-01"
//! protocol = "opcua"
//! endpoint = "opc.tcp://127.0.0.1:4840/"   # host must match the server certificate's alt names
//! security_policy = "Basic256Sha256"        # None | Basic256Sha256 | Aes128_Sha256_RsaOaep | Aes256_Sha256_RsaPss
//! security_mode = "SignAndEncrypt"          # None | Sign | SignAndEncrypt (None only with policy None)
//! auth = "username"                         # anonymous (default) | username
//! username = "operator"
//! password_env = "PRESS_PASSWORD"           # or password_file; never inline
//! trust_server_certificate = false          # default: an unknown server is refused
//! poll_interval = "1s"                      # publishing interval and polled-read period
//!
//! [[device.tag]]
//! name = "speed"
//! node_id = "ns=2;s=Press1.Speed"
//! mode = "subscribe"                        # subscribe (default) | poll
//! sampling_interval = "250ms"               # subscribe only; default: the publishing interval
//! queue_size = 10                           # subscribe only; default 1
//! deadband = { type = "absolute", value = 0.5 }   # subscribe only; absolute | percent (0..=100)
//! ```

use std::time::Duration;

use opcua::types::NodeId;
use toml::Spanned;
use toml::de::DeValue;

use super::build::{check_backoff, check_tunables};
use super::device::{
    DEFAULT_POLL_INTERVAL, DEFAULT_RECONNECT_MAX, DEFAULT_RECONNECT_MIN, DEFAULT_TIMEOUT,
};
use super::device::{DeviceContext, Seen, device_asset, inherit};
use super::diagnostic::Diagnostics;
use super::reader::{At, Span, TableReader};
use super::sections::Tunables;
use crate::opcua::{Auth, Deadband, Mode, OpcUaSource, OpcUaTag, Policy, Security, TagMode};
use crate::settings::{BackoffSettings, DeviceSettings, DeviceSource, TagInfo};

/// The `protocol` value of an OPC UA device.
pub(super) const OPCUA: &str = "opcua";

const DEVICE_FIELDS: &[&str] = &[
    "id",
    "asset",
    "protocol",
    "endpoint",
    "security_policy",
    "security_mode",
    "auth",
    "username",
    "password_file",
    "password_env",
    "trust_server_certificate",
    "poll_interval",
    "timeout",
    "reconnect_min",
    "reconnect_max",
    "tag",
];
const TAG_FIELDS: &[&str] = &[
    "name",
    "node_id",
    "mode",
    "sampling_interval",
    "queue_size",
    "deadband",
    "unit",
    "description",
];
const DEADBAND_FIELDS: &[&str] = &["type", "value"];

/// A read but unchecked OPC UA `[[device]]`.
pub(super) struct OpcUaDeviceSection {
    /// Position among all `[[device]]` tables (settings keep the file order).
    pub(super) index: usize,
    span: Span,
    path: String,
    id: Option<At<String>>,
    asset: Option<At<String>>,
    endpoint: Option<At<String>>,
    policy: Option<At<Policy>>,
    mode: Option<At<Mode>>,
    auth: Option<At<String>>,
    username: Option<At<String>>,
    password_file: Option<At<String>>,
    password_env: Option<At<String>>,
    trust: Option<At<bool>>,
    tunables: Tunables,
    tags: Vec<TagSection>,
}

struct TagSection {
    span: Span,
    path: String,
    name: Option<At<String>>,
    node_id: Option<At<String>>,
    mode: Option<At<String>>,
    sampling_interval: Option<At<Duration>>,
    queue_size: Option<At<u32>>,
    deadband: Option<DeadbandSection>,
    unit: Option<At<String>>,
    description: Option<At<String>>,
}

struct DeadbandSection {
    span: Span,
    kind: Option<At<String>>,
    value: Option<At<f64>>,
}

/// Whether a `[[device]]` value says `protocol = "opcua"`.
pub(super) fn is_opcua(value: &Spanned<DeValue<'_>>) -> bool {
    match value.get_ref() {
        DeValue::Table(t) => t.iter().any(|(k, v)| {
            k.get_ref().as_ref() == "protocol"
                && matches!(v.get_ref(), DeValue::String(s) if s.as_ref() == OPCUA)
        }),
        _ => false,
    }
}

fn label(value: Option<&Spanned<DeValue<'_>>>) -> Option<String> {
    match value.map(Spanned::get_ref) {
        Some(DeValue::String(s)) if !s.is_empty() => Some(s.to_string()),
        _ => None,
    }
}

/// Reads one OPC UA `[[device]]` table.
pub(super) fn read_device(
    d: &mut Diagnostics<'_>,
    index: usize,
    value: &Spanned<DeValue<'_>>,
) -> Option<OpcUaDeviceSection> {
    let mut r = TableReader::new(d, value, format!("device[{index}]"), DEVICE_FIELDS)?;
    let path =
        label(r.raw("id")).map_or_else(|| format!("device[{index}]"), |id| format!("device[{id}]"));
    r.set_path(path.clone());
    let policies: Vec<&str> = Policy::ALL.iter().map(|p| p.as_str()).collect();
    let modes: Vec<&str> = Mode::ALL.iter().map(|m| m.as_str()).collect();
    let _ = r.raw("protocol");
    let s = OpcUaDeviceSection {
        index,
        span: r.span(),
        path: path.clone(),
        id: r.req(d, "id"),
        asset: r.opt(d, "asset"),
        endpoint: r.req(d, "endpoint"),
        policy: r.keyword(
            d,
            "security_policy",
            "security policy",
            &policies,
            Policy::parse,
        ),
        mode: r.keyword(d, "security_mode", "security mode", &modes, Mode::parse),
        auth: r.keyword(d, "auth", "auth", &["anonymous", "username"], |s| {
            ["anonymous", "username"].contains(&s).then(|| s.to_owned())
        }),
        username: r.opt(d, "username"),
        password_file: r.opt(d, "password_file"),
        password_env: r.opt(d, "password_env"),
        trust: r.opt(d, "trust_server_certificate"),
        tunables: Tunables {
            poll_interval: r.duration(d, "poll_interval"),
            timeout: r.duration(d, "timeout"),
            reconnect_min: r.duration(d, "reconnect_min"),
            reconnect_max: r.duration(d, "reconnect_max"),
            ..Tunables::default()
        },
        tags: r
            .tables(d, "tag")
            .into_iter()
            .enumerate()
            .filter_map(|(i, v)| read_tag(d, &path, i, v))
            .collect(),
    };
    r.finish(d);
    Some(s)
}

fn read_tag(
    d: &mut Diagnostics<'_>,
    device_path: &str,
    index: usize,
    value: &Spanned<DeValue<'_>>,
) -> Option<TagSection> {
    let mut r = TableReader::new(d, value, format!("{device_path}.tag[{index}]"), TAG_FIELDS)?;
    let path = label(r.raw("name")).map_or_else(
        || format!("{device_path}.tag[{index}]"),
        |n| format!("{device_path}.tag[{n}]"),
    );
    r.set_path(path.clone());
    let deadband = match r.raw("deadband") {
        Some(v) => {
            TableReader::new(d, v, format!("{path}.deadband"), DEADBAND_FIELDS).map(|mut dr| {
                let s = DeadbandSection {
                    span: dr.span(),
                    kind: dr.keyword(d, "type", "deadband type", &["absolute", "percent"], |s| {
                        ["absolute", "percent"].contains(&s).then(|| s.to_owned())
                    }),
                    value: dr.req(d, "value"),
                };
                if s.kind.is_none() && dr.raw("type").is_none() {
                    dr.missing(d, "type");
                }
                dr.finish(d);
                s
            })
        }
        None => None,
    };
    let s = TagSection {
        span: r.span(),
        path,
        name: r.req(d, "name"),
        node_id: r.req(d, "node_id"),
        mode: r.keyword(d, "mode", "mode", &["subscribe", "poll"], |s| {
            ["subscribe", "poll"].contains(&s).then(|| s.to_owned())
        }),
        sampling_interval: r.duration(d, "sampling_interval"),
        queue_size: r.opt(d, "queue_size"),
        deadband,
        unit: r.opt(d, "unit"),
        description: r.opt(d, "description"),
    };
    r.finish(d);
    Some(s)
}

/// Checks one OPC UA device and builds its settings; `None` if it has problems.
pub(super) fn build_device(
    d: &mut Diagnostics<'_>,
    ctx: &DeviceContext,
    dev: OpcUaDeviceSection,
    seen: &mut Seen,
) -> Option<DeviceSettings> {
    let path = dev.path.clone();
    let at = |field: &str| format!("{path}.{field}");
    let id = seen.device_id(d, dev.id.as_ref(), &path);
    let asset = device_asset(d, ctx, dev.asset.as_ref(), &dev.span, &path, id.as_deref());
    if let Some(e) = &dev.endpoint {
        let url = e.get_ref();
        let rest = url.strip_prefix("opc.tcp://");
        if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
            d.error(
                &e.span(),
                at("endpoint"),
                format!("{url:?} is not an opc.tcp://host:port/ URL"),
            );
        }
    }
    let policy = dev.policy.as_ref().map_or(Policy::None, |p| *p.get_ref());
    let mode = dev.mode.as_ref().map_or(
        if policy == Policy::None {
            Mode::None
        } else {
            Mode::SignAndEncrypt
        },
        |m| *m.get_ref(),
    );
    if (policy == Policy::None) != (mode == Mode::None) {
        let span = match (&dev.mode, &dev.policy) {
            (Some(m), _) => m.span(),
            (None, Some(p)) => p.span(),
            (None, None) => dev.span.clone(),
        };
        d.error(
            &span,
            at("security_mode"),
            format!(
                "security_mode {} does not fit security_policy {} (None goes with None; the other policies need Sign or SignAndEncrypt)",
                mode.as_str(),
                policy.as_str()
            ),
        );
    }
    let auth = build_auth(d, &dev, &path);
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
    if dev.tags.is_empty() {
        d.error(
            &dev.span,
            at("tag"),
            "no tags configured (add [[device.tag]] tables)",
        );
    }
    let mut tags = Vec::new();
    let mut infos = Vec::new();
    let mut ok = true;
    for tag in &dev.tags {
        match build_tag(d, asset.as_ref(), tag, seen) {
            Some((t, info)) => {
                tags.push(t);
                infos.push(info);
            }
            None => ok = false,
        }
    }
    let endpoint = dev.endpoint?.into_inner();
    let auth = auth?;
    if !ok {
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
        source: DeviceSource::OpcUa(OpcUaSource {
            endpoint,
            security: Security { policy, mode },
            auth,
            trust_server_certificate: dev.trust.is_some_and(|t| *t.get_ref()),
            pki_dir: ctx.pki_dir.clone(),
            tags,
        }),
        tags: infos,
    })
}

fn build_auth(d: &mut Diagnostics<'_>, dev: &OpcUaDeviceSection, path: &str) -> Option<Auth> {
    let user = dev.auth.as_ref().is_some_and(|a| a.get_ref() == "username");
    let password = match (&dev.password_file, &dev.password_env) {
        (Some(_), Some(env)) => {
            d.error(
                &env.span(),
                format!("{path}.password_env"),
                "set either password_file or password_env, not both",
            );
            None
        }
        (Some(file), None) => match std::fs::read_to_string(file.get_ref()) {
            Ok(text) => Some(text.trim_end_matches(['\r', '\n']).to_owned()),
            Err(e) => {
                d.error(
                    &file.span(),
                    format!("{path}.password_file"),
                    format!("cannot read {}: {e}", file.get_ref()),
                );
                None
            }
        },
        (None, Some(env)) => match std::env::var(env.get_ref()) {
            Ok(v) => Some(v),
            Err(_) => {
                d.error(
                    &env.span(),
                    format!("{path}.password_env"),
                    format!("environment variable {} is not set", env.get_ref()),
                );
                None
            }
        },
        (None, None) => None,
    };
    if !user {
        for (v, field) in [
            (&dev.username, "username"),
            (&dev.password_file, "password_file"),
            (&dev.password_env, "password_env"),
        ] {
            if let Some(v) = v {
                d.error(
                    &v.span(),
                    format!("{path}.{field}"),
                    "only used with auth = \"username\"",
                );
            }
        }
        return Some(Auth::Anonymous);
    }
    let span = dev.auth.as_ref().map_or(dev.span.clone(), |a| a.span());
    let Some(username) = &dev.username else {
        d.error(
            &span,
            format!("{path}.username"),
            "auth = \"username\" needs a username",
        );
        return None;
    };
    if dev.password_file.is_none() && dev.password_env.is_none() {
        d.error(
            &span,
            format!("{path}.password_env"),
            "auth = \"username\" needs password_file or password_env",
        );
        return None;
    }
    Some(Auth::User {
        username: username.get_ref().clone(),
        password: password?,
    })
}

fn build_tag(
    d: &mut Diagnostics<'_>,
    asset: Option<&protocols::model::AssetPath>,
    tag: &TagSection,
    seen: &mut Seen,
) -> Option<(OpcUaTag, TagInfo)> {
    let at = |field: &str| format!("{}.{field}", tag.path);
    let id = seen.tag_id(d, asset, tag.name.as_ref(), &tag.path);
    let mut ok = true;
    if let Some(n) = &tag.node_id
        && n.get_ref().parse::<NodeId>().is_err()
    {
        d.error(
            &n.span(),
            at("node_id"),
            format!(
                "{:?} is not a node id (write e.g. \"ns=2;s=Motor1.Speed\" or \"ns=0;i=2258\")",
                n.get_ref()
            ),
        );
        ok = false;
    }
    let poll = tag.mode.as_ref().is_some_and(|m| m.get_ref() == "poll");
    if poll {
        for (span, field) in [
            (
                tag.sampling_interval.as_ref().map(|v| v.span()),
                "sampling_interval",
            ),
            (tag.queue_size.as_ref().map(|v| v.span()), "queue_size"),
            (tag.deadband.as_ref().map(|v| v.span.clone()), "deadband"),
        ] {
            if let Some(span) = span {
                d.error(&span, at(field), "only used with mode = \"subscribe\"");
                ok = false;
            }
        }
    }
    if let Some(q) = &tag.queue_size
        && *q.get_ref() == 0
    {
        d.error(&q.span(), at("queue_size"), "must be at least 1");
        ok = false;
    }
    let deadband = match &tag.deadband {
        None => None,
        Some(db) => {
            let kind = db.kind.as_ref().map(|k| k.get_ref().as_str());
            match (kind, &db.value) {
                (Some(kind), Some(v)) => {
                    let x = *v.get_ref();
                    let max = if kind == "percent" { 100.0 } else { f64::MAX };
                    if !(0.0..=max).contains(&x) {
                        d.error(
                            &v.span(),
                            at("deadband.value"),
                            if kind == "percent" {
                                format!(
                                    "must be between 0 and 100 (percent of the EURange), got {x}"
                                )
                            } else {
                                format!("must be 0 or more, got {x}")
                            },
                        );
                        ok = false;
                    }
                    Some(if kind == "percent" {
                        Deadband::Percent(x)
                    } else {
                        Deadband::Absolute(x)
                    })
                }
                _ => {
                    ok = false;
                    None
                }
            }
        }
    };
    let mode = if poll {
        TagMode::Poll
    } else {
        TagMode::Subscribe {
            sampling_interval: tag.sampling_interval.as_ref().map(|s| *s.get_ref()),
            queue_size: tag.queue_size.as_ref().map_or(1, |q| *q.get_ref()),
            deadband,
        }
    };
    let node_id = tag.node_id.as_ref()?.get_ref().clone();
    if !ok {
        return None;
    }
    let _ = &tag.span;
    Some((
        OpcUaTag {
            id: id?,
            node_id,
            mode,
        },
        TagInfo {
            unit: tag
                .unit
                .as_ref()
                .map(|u| u.get_ref().clone())
                .unwrap_or_default(),
            description: tag
                .description
                .as_ref()
                .map(|u| u.get_ref().clone())
                .unwrap_or_default(),
            write: None,
        },
    ))
}
