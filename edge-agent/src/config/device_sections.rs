//! Reads `[[device]]` and `[[device.tag]]` tables. Paths name a device by its id and a
//! tag by its name as soon as those are readable, by index otherwise.

use protocols::modbus::{ByteOrder, DataType, Parity, RegisterKind, WordOrder};
use toml::Spanned;
use toml::de::DeValue;

use super::diagnostic::Diagnostics;
use super::reader::{At, Span, TableReader};
use super::sections::{Tunables, read_tunables};

const DEVICE_FIELDS: &[&str] = &[
    "id",
    "asset",
    "protocol",
    "host",
    "port",
    "unit_id",
    "address_base",
    "share_connection",
    "baud_rate",
    "parity",
    "data_bits",
    "stop_bits",
    "frame_gap",
    "hole_retry",
    "breaker_timeouts",
    "tag",
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
const TAG_FIELDS: &[&str] = &[
    "name",
    "register",
    "address",
    "type",
    "order",
    "bit",
    "length",
    "byte_order",
    "scale",
    "offset",
    "unit",
    "description",
    "writable",
    "min",
    "max",
];

pub(super) struct DeviceSection {
    pub(super) span: Span,
    /// `device[<id>]` when the id is known, else `device[<index>]`.
    pub(super) path: String,
    pub(super) id: Option<At<String>>,
    pub(super) asset: Option<At<String>>,
    pub(super) protocol: Option<At<String>>,
    pub(super) host: Option<At<String>>,
    /// A TCP port number, or a serial device path.
    pub(super) port: Option<At<PortField>>,
    pub(super) unit_id: Option<At<u8>>,
    pub(super) address_base: Option<At<u16>>,
    pub(super) share_connection: Option<At<bool>>,
    pub(super) baud_rate: Option<At<u32>>,
    pub(super) parity: Option<At<Parity>>,
    pub(super) data_bits: Option<At<u8>>,
    pub(super) stop_bits: Option<At<u8>>,
    pub(super) frame_gap: Option<At<std::time::Duration>>,
    pub(super) hole_retry: Option<At<std::time::Duration>>,
    pub(super) breaker_timeouts: Option<At<u32>>,
    pub(super) tunables: Tunables,
    pub(super) tags: Vec<TagSection>,
}

pub(super) struct TagSection {
    pub(super) span: Span,
    /// `device[..].tag[<name>]` when the name is known, else `tag[<index>]`.
    pub(super) path: String,
    pub(super) name: Option<At<String>>,
    pub(super) register: Option<At<RegisterKind>>,
    pub(super) address: Option<At<u16>>,
    pub(super) data_type: Option<At<DataType>>,
    pub(super) order: Option<At<WordOrder>>,
    pub(super) bit: Option<At<u8>>,
    pub(super) length: Option<At<u16>>,
    pub(super) byte_order: Option<At<ByteOrder>>,
    pub(super) scale: Option<At<f64>>,
    pub(super) offset: Option<At<f64>>,
    pub(super) unit: Option<At<String>>,
    pub(super) description: Option<At<String>>,
    pub(super) writable: Option<At<bool>>,
    pub(super) min: Option<At<f64>>,
    pub(super) max: Option<At<f64>>,
}

/// `port`: a TCP port for the TCP protocols, a serial device path for `modbus-rtu`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PortField {
    Number(u16),
    Path(String),
}

/// A string id usable in a path (`device[<id>]`), if `value` is a plain string.
fn label(value: Option<&Spanned<DeValue<'_>>>) -> Option<String> {
    match value.map(Spanned::get_ref) {
        Some(DeValue::String(s)) if !s.is_empty() => Some(s.to_string()),
        _ => None,
    }
}

pub(super) fn read_device(
    d: &mut Diagnostics<'_>,
    index: usize,
    value: &Spanned<DeValue<'_>>,
) -> Option<DeviceSection> {
    let mut r = TableReader::new(d, value, format!("device[{index}]"), DEVICE_FIELDS)?;
    let path = match label(r.raw("id")) {
        Some(id) => format!("device[{id}]"),
        None => format!("device[{index}]"),
    };
    r.set_path(path.clone());
    let id = r.req(d, "id");
    let asset = r.opt(d, "asset");
    let protocol = r.req(d, "protocol");
    let host = r.opt(d, "host");
    let port = match r.raw("port").map(|v| (v.span(), v.get_ref())) {
        Some((span, DeValue::String(path))) => {
            Some(Spanned::new(span, PortField::Path(path.to_string())))
        }
        Some(_) => r
            .opt::<u16>(d, "port")
            .map(|p| Spanned::new(p.span(), PortField::Number(*p.get_ref()))),
        None => {
            r.missing(d, "port");
            None
        }
    };
    let unit_id = r.req(d, "unit_id");
    let address_base = r.opt(d, "address_base");
    let share_connection = r.opt(d, "share_connection");
    let baud_rate = r.opt(d, "baud_rate");
    let parities: Vec<&str> = Parity::ALL.iter().map(|p| p.as_str()).collect();
    let parity = r.keyword(d, "parity", "parity", &parities, Parity::parse);
    let data_bits = r.opt(d, "data_bits");
    let stop_bits = r.opt(d, "stop_bits");
    let frame_gap = r.duration(d, "frame_gap");
    let hole_retry = r.duration(d, "hole_retry");
    let breaker_timeouts = r.opt(d, "breaker_timeouts");
    let tunables = read_tunables(d, &mut r);
    let tag_values = r.tables(d, "tag");
    let tags = tag_values
        .into_iter()
        .enumerate()
        .filter_map(|(i, v)| read_tag(d, &path, i, v))
        .collect();
    let span = r.span();
    r.finish(d);
    Some(DeviceSection {
        span,
        path,
        id,
        asset,
        protocol,
        host,
        port,
        unit_id,
        address_base,
        share_connection,
        baud_rate,
        parity,
        data_bits,
        stop_bits,
        frame_gap,
        hole_retry,
        breaker_timeouts,
        tunables,
        tags,
    })
}

fn read_tag(
    d: &mut Diagnostics<'_>,
    device_path: &str,
    index: usize,
    value: &Spanned<DeValue<'_>>,
) -> Option<TagSection> {
    let mut r = TableReader::new(d, value, format!("{device_path}.tag[{index}]"), TAG_FIELDS)?;
    let path = match label(r.raw("name")) {
        Some(name) => format!("{device_path}.tag[{name}]"),
        None => format!("{device_path}.tag[{index}]"),
    };
    r.set_path(path.clone());
    let kinds: Vec<&str> = RegisterKind::ALL.iter().map(|k| k.as_str()).collect();
    let types: Vec<&str> = DataType::ALL.iter().map(|t| t.as_str()).collect();
    let mut orders: Vec<&str> = WordOrder::ALL.iter().map(|o| o.as_str()).collect();
    orders.extend(WordOrder::ALL.iter().map(|o| o.as_str_64()));
    let s = TagSection {
        span: r.span(),
        path,
        name: r.req(d, "name"),
        register: required(d, &mut r, "register", |d, r| {
            r.keyword(d, "register", "register kind", &kinds, RegisterKind::parse)
        }),
        address: r.req(d, "address"),
        data_type: required(d, &mut r, "type", |d, r| {
            r.keyword(d, "type", "type", &types, DataType::parse)
        }),
        order: r.keyword(d, "order", "order", &orders, WordOrder::parse),
        bit: r.opt(d, "bit"),
        length: r.opt(d, "length"),
        byte_order: r.keyword(
            d,
            "byte_order",
            "byte order",
            &["AB", "BA"],
            ByteOrder::parse,
        ),
        scale: r.opt(d, "scale"),
        offset: r.opt(d, "offset"),
        unit: r.opt(d, "unit"),
        description: r.opt(d, "description"),
        writable: r.opt(d, "writable"),
        min: r.opt(d, "min"),
        max: r.opt(d, "max"),
    };
    r.finish(d);
    Some(s)
}

/// Reads `key` with `read`, recording a problem when it is absent.
fn required<'t, 'i, T>(
    d: &mut Diagnostics<'_>,
    r: &mut TableReader<'t, 'i>,
    key: &str,
    read: impl FnOnce(&mut Diagnostics<'_>, &mut TableReader<'t, 'i>) -> Option<At<T>>,
) -> Option<At<T>> {
    if r.raw(key).is_none() {
        r.missing(d, key);
        return None;
    }
    read(d, r)
}
