//! The binary bodies: serde wire structs encoded with bincode 2.
//!
//! Field order is the format: never reorder or insert fields of a kind without bumping its
//! [`super::body_version`] and keeping a decoder for the old layout. Points carry only the
//! tag's own name; the batch carries the asset, and the full tag id is rebuilt (and
//! validated) on decode.
//!
//! Layouts: batch v1 ([`WireBatch`]), catalogue v1 ([`WireCatalog`]), status v1
//! ([`WireStatusV1`], decode only) and v2 ([`WireStatus`]: v1 plus the spool figures).

use bincode::config::{Config, standard};
use serde::{Deserialize, Serialize};

use super::{CodecError, Message, MessageKind};
use crate::model::{
    AgentId, AgentState, AgentStatus, AssetPath, Batch, DeviceState, DeviceStatus, Point, Quality,
    QualityLevel, SpoolStatus, TagCatalog, TagId, TagMeta, Value,
};

/// The only place bincode's settings are chosen.
fn config() -> impl Config {
    standard().with_limit::<{ super::MAX_PAYLOAD_BYTES }>()
}

#[derive(Serialize, Deserialize)]
struct WireBatch {
    agent: String,
    session: u64,
    seq: u64,
    asset: String,
    historical: bool,
    points: Vec<WirePoint>,
}

#[derive(Serialize, Deserialize)]
struct WirePoint {
    name: String,
    ts_ns: i64,
    value: Option<WireValue>,
    quality: u8,
    reason: Option<String>,
}

#[derive(Serialize, Deserialize)]
enum WireValue {
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Text(String),
}

#[derive(Serialize, Deserialize)]
struct WireCatalog {
    agent: String,
    session: u64,
    tags: Vec<WireTagMeta>,
}

/// One tag of the catalogue, in this order (binary) and with these names (JSON, which
/// shares the struct; a third-party JSON producer may omit everything but `id`).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireTagMeta {
    id: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    data_type: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    poll_interval_ms: u32,
    #[serde(default)]
    description: String,
}

impl From<&TagMeta> for WireTagMeta {
    fn from(t: &TagMeta) -> Self {
        Self {
            id: t.id.to_string(),
            unit: t.unit.clone(),
            data_type: t.data_type.clone(),
            source: t.source.clone(),
            poll_interval_ms: t.poll_interval_ms,
            description: t.description.clone(),
        }
    }
}

impl WireTagMeta {
    /// The model tag, its id validated.
    pub(super) fn into_meta(self) -> Result<TagMeta, CodecError> {
        Ok(TagMeta {
            id: TagId::new(&self.id).map_err(invalid("tag"))?,
            unit: self.unit,
            data_type: self.data_type,
            source: self.source,
            poll_interval_ms: self.poll_interval_ms,
            description: self.description,
        })
    }
}

/// Status body version 1.
#[derive(Serialize, Deserialize)]
struct WireStatusV1 {
    agent: String,
    session: u64,
    online: bool,
    ts_ns: i64,
    devices: Vec<(String, bool)>,
}

/// Status body version 2: version 1, then the spool figures.
#[derive(Serialize, Deserialize)]
struct WireStatus {
    agent: String,
    session: u64,
    online: bool,
    ts_ns: i64,
    devices: Vec<(String, bool)>,
    spool: Option<WireSpool>,
}

/// The spool figures of status v2, in this order (binary) and with these names (JSON,
/// which shares the struct).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireSpool {
    depth_batches: u64,
    depth_bytes: u64,
    dropped_batches: u64,
    dropped_points: u64,
    dropped_unconfirmed_batches: u64,
    dropped_unconfirmed_points: u64,
}

pub(super) fn encode_body(msg: &Message, out: &mut Vec<u8>) -> Result<(), CodecError> {
    let res = match msg {
        Message::Batch(b) => {
            bincode::serde::encode_into_std_write(batch_to_wire(b)?, out, config())
        }
        Message::Catalog(c) => {
            bincode::serde::encode_into_std_write(catalog_to_wire(c), out, config())
        }
        Message::Status(s) => {
            bincode::serde::encode_into_std_write(status_to_wire(s), out, config())
        }
    };
    res.map(drop).map_err(|e| CodecError::Binary(e.to_string()))
}

/// Decodes a body of `kind` in layout `version` (checked supported by the caller).
pub(super) fn decode_body(
    kind: MessageKind,
    version: u8,
    body: &[u8],
) -> Result<Message, CodecError> {
    match (kind, version) {
        (MessageKind::Batch, _) => batch_from_wire(decode_all(body)?).map(Message::Batch),
        (MessageKind::Catalog, _) => catalog_from_wire(decode_all(body)?).map(Message::Catalog),
        (MessageKind::Status, 1) => {
            let v1: WireStatusV1 = decode_all(body)?;
            status_from_wire(WireStatus {
                agent: v1.agent,
                session: v1.session,
                online: v1.online,
                ts_ns: v1.ts_ns,
                devices: v1.devices,
                spool: None,
            })
            .map(Message::Status)
        }
        (MessageKind::Status, _) => status_from_wire(decode_all(body)?).map(Message::Status),
    }
}

fn decode_all<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, CodecError> {
    let (v, used) = bincode::serde::decode_from_slice(body, config())
        .map_err(|e| CodecError::Binary(e.to_string()))?;
    if used != body.len() {
        return Err(CodecError::Invalid {
            field: "payload",
            reason: format!("{} trailing bytes after the message", body.len() - used),
        });
    }
    Ok(v)
}

fn invalid(field: &'static str) -> impl Fn(crate::model::IdError) -> CodecError {
    move |e| CodecError::Invalid {
        field,
        reason: e.to_string(),
    }
}

fn batch_to_wire(b: &Batch) -> Result<WireBatch, CodecError> {
    let points = b
        .points
        .iter()
        .map(|p| {
            if !p.tag.belongs_to(&b.asset) {
                return Err(CodecError::ForeignTag {
                    tag: p.tag.to_string(),
                    asset: b.asset.to_string(),
                });
            }
            Ok(WirePoint {
                name: p.tag.name().to_owned(),
                ts_ns: p.ts_ns,
                value: p.value.as_ref().map(value_to_wire),
                quality: p.quality.level().code(),
                reason: p.quality.reason().map(str::to_owned),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(WireBatch {
        agent: b.agent.to_string(),
        session: b.session,
        seq: b.seq,
        asset: b.asset.to_string(),
        historical: b.historical,
        points,
    })
}

fn batch_from_wire(w: WireBatch) -> Result<Batch, CodecError> {
    let asset = AssetPath::new(&w.asset).map_err(invalid("asset"))?;
    let points = w
        .points
        .into_iter()
        .map(|p| {
            let level = QualityLevel::from_code(p.quality).ok_or_else(|| CodecError::Invalid {
                field: "quality",
                reason: format!("unknown quality code {}", p.quality),
            })?;
            Ok(Point {
                tag: TagId::from_parts(&asset, &p.name).map_err(invalid("tag"))?,
                ts_ns: p.ts_ns,
                value: p.value.map(value_from_wire),
                quality: Quality::from_parts(level, p.reason),
            })
        })
        .collect::<Result<_, CodecError>>()?;
    Ok(Batch {
        agent: AgentId::new(&w.agent).map_err(invalid("agent"))?,
        session: w.session,
        seq: w.seq,
        asset,
        historical: w.historical,
        points,
    })
}

fn value_to_wire(v: &Value) -> WireValue {
    match v {
        Value::Bool(b) => WireValue::Bool(*b),
        Value::Int(i) => WireValue::Int(*i),
        Value::UInt(u) => WireValue::UInt(*u),
        Value::Float(f) => WireValue::Float(*f),
        Value::Text(s) => WireValue::Text(s.clone()),
    }
}

fn value_from_wire(v: WireValue) -> Value {
    match v {
        WireValue::Bool(b) => Value::Bool(b),
        WireValue::Int(i) => Value::Int(i),
        WireValue::UInt(u) => Value::UInt(u),
        WireValue::Float(f) => Value::Float(f),
        WireValue::Text(s) => Value::Text(s),
    }
}

fn catalog_to_wire(c: &TagCatalog) -> WireCatalog {
    WireCatalog {
        agent: c.agent.to_string(),
        session: c.session,
        tags: c.tags.iter().map(WireTagMeta::from).collect(),
    }
}

fn catalog_from_wire(w: WireCatalog) -> Result<TagCatalog, CodecError> {
    let tags = w
        .tags
        .into_iter()
        .map(WireTagMeta::into_meta)
        .collect::<Result<_, CodecError>>()?;
    Ok(TagCatalog {
        agent: AgentId::new(&w.agent).map_err(invalid("agent"))?,
        session: w.session,
        tags,
    })
}

fn status_to_wire(s: &AgentStatus) -> WireStatus {
    WireStatus {
        agent: s.agent.to_string(),
        session: s.session,
        online: s.state == AgentState::Online,
        ts_ns: s.ts_ns,
        devices: s
            .devices
            .iter()
            .map(|d| (d.id.clone(), d.state == DeviceState::Connected))
            .collect(),
        spool: s.spool.map(WireSpool::from),
    }
}

impl From<SpoolStatus> for WireSpool {
    fn from(p: SpoolStatus) -> Self {
        Self {
            depth_batches: p.depth_batches,
            depth_bytes: p.depth_bytes,
            dropped_batches: p.dropped_batches,
            dropped_points: p.dropped_points,
            dropped_unconfirmed_batches: p.dropped_unconfirmed_batches,
            dropped_unconfirmed_points: p.dropped_unconfirmed_points,
        }
    }
}

impl From<WireSpool> for SpoolStatus {
    fn from(p: WireSpool) -> Self {
        Self {
            depth_batches: p.depth_batches,
            depth_bytes: p.depth_bytes,
            dropped_batches: p.dropped_batches,
            dropped_points: p.dropped_points,
            dropped_unconfirmed_batches: p.dropped_unconfirmed_batches,
            dropped_unconfirmed_points: p.dropped_unconfirmed_points,
        }
    }
}

fn status_from_wire(w: WireStatus) -> Result<AgentStatus, CodecError> {
    Ok(AgentStatus {
        agent: AgentId::new(&w.agent).map_err(invalid("agent"))?,
        session: w.session,
        state: if w.online {
            AgentState::Online
        } else {
            AgentState::Offline
        },
        ts_ns: w.ts_ns,
        devices: w
            .devices
            .into_iter()
            .map(|(id, up)| DeviceStatus {
                id,
                state: if up {
                    DeviceState::Connected
                } else {
                    DeviceState::Disconnected
                },
            })
            .collect(),
        spool: w.spool.map(SpoolStatus::from),
    })
}
