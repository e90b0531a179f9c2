//! JSON encoding of the same messages, for interop and debugging.
//!
//! ```json
//! {"v":1,"kind":"batch","agent":"edge-01","session":1,"seq":7,"asset":"demo/hall-1/line-1/motor-01",
//!  "historical":false,"points":[
//!   {"tag":"speed","ts_ns":1700000000000000000,"value":1480,"type":"uint","quality":"good"},
//!   {"tag":"current","ts_ns":1700000000000000000,"value":null,"quality":"bad","reason":"timeout"}]}
//! ```
//! `"type"` (`bool`, `int`, `uint`, `float`, `text`) keeps the value's exact variant; a
//! third-party producer may omit it, and the type is then inferred from the JSON value.
//! NaN and infinities cannot be encoded (JSON has no such numbers).
//!
//! `"v"` is the kind's body version ([`super::body_version`]): a status message is
//! `"v":2` and may carry `"spool":{"depth_batches","depth_bytes","dropped_batches",
//! "dropped_points","dropped_unconfirmed_batches","dropped_unconfirmed_points"}`; `"v":1` statuses (without it) are still read.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::binary::{WireSpool, WireTagMeta};
use super::{CodecError, Message, MessageKind};
use crate::model::{
    AgentId, AgentState, AgentStatus, AssetPath, Batch, DeviceState, DeviceStatus, Point, Quality,
    QualityLevel, SpoolStatus, TagCatalog, TagId, Value,
};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonEnvelope {
    v: u8,
    kind: String,
    agent: String,
    session: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    asset: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    historical: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    points: Option<Vec<JsonPoint>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<WireTagMeta>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ts_ns: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    devices: Option<Vec<JsonDevice>>,
    /// Status version 2 only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spool: Option<WireSpool>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonPoint {
    tag: String,
    ts_ns: i64,
    value: Json,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    ty: Option<String>,
    quality: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonDevice {
    id: String,
    connected: bool,
}

const ONLINE: &str = "online";
const OFFLINE: &str = "offline";

fn envelope(kind: MessageKind, agent: &AgentId, session: u64) -> JsonEnvelope {
    JsonEnvelope {
        v: super::body_version(kind),
        kind: kind.as_str().to_owned(),
        agent: agent.to_string(),
        session,
        seq: None,
        asset: None,
        historical: false,
        points: None,
        tags: None,
        state: None,
        ts_ns: None,
        devices: None,
        spool: None,
    }
}

pub(super) fn encode(msg: &Message) -> Result<Vec<u8>, CodecError> {
    let env = match msg {
        Message::Batch(b) => {
            let mut env = envelope(MessageKind::Batch, &b.agent, b.session);
            env.seq = Some(b.seq);
            env.asset = Some(b.asset.to_string());
            env.historical = b.historical;
            env.points = Some(
                b.points
                    .iter()
                    .map(|p| point_to_json(p, &b.asset))
                    .collect::<Result<_, _>>()?,
            );
            env
        }
        Message::Catalog(c) => {
            let mut env = envelope(MessageKind::Catalog, &c.agent, c.session);
            env.tags = Some(c.tags.iter().map(WireTagMeta::from).collect());
            env
        }
        Message::Status(s) => {
            let mut env = envelope(MessageKind::Status, &s.agent, s.session);
            env.state = Some(
                if s.state == AgentState::Online {
                    ONLINE
                } else {
                    OFFLINE
                }
                .to_owned(),
            );
            env.ts_ns = Some(s.ts_ns);
            env.devices = Some(
                s.devices
                    .iter()
                    .map(|d| JsonDevice {
                        id: d.id.clone(),
                        connected: d.state == DeviceState::Connected,
                    })
                    .collect(),
            );
            env.spool = s.spool.map(WireSpool::from);
            env
        }
    };
    serde_json::to_vec(&env).map_err(|e| CodecError::Json(e.to_string()))
}

fn point_to_json(p: &Point, asset: &AssetPath) -> Result<JsonPoint, CodecError> {
    if !p.tag.belongs_to(asset) {
        return Err(CodecError::ForeignTag {
            tag: p.tag.to_string(),
            asset: asset.to_string(),
        });
    }
    let value = match &p.value {
        None => Json::Null,
        Some(Value::Bool(b)) => Json::from(*b),
        Some(Value::Int(i)) => Json::from(*i),
        Some(Value::UInt(u)) => Json::from(*u),
        Some(Value::Float(f)) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .ok_or_else(|| CodecError::NonFinite {
                tag: p.tag.to_string(),
            })?,
        Some(Value::Text(s)) => Json::from(s.as_str()),
    };
    Ok(JsonPoint {
        tag: p.tag.name().to_owned(),
        ts_ns: p.ts_ns,
        value,
        ty: p.value.as_ref().map(|v| v.kind().to_owned()),
        quality: p.quality.level().as_str().to_owned(),
        reason: p.quality.reason().map(str::to_owned),
    })
}

fn missing(field: &'static str) -> CodecError {
    CodecError::Invalid {
        field,
        reason: "missing".to_owned(),
    }
}

fn invalid(field: &'static str) -> impl Fn(crate::model::IdError) -> CodecError {
    move |e| CodecError::Invalid {
        field,
        reason: e.to_string(),
    }
}

pub(super) fn decode(payload: &[u8]) -> Result<Message, CodecError> {
    let env: JsonEnvelope =
        serde_json::from_slice(payload).map_err(|e| CodecError::Json(e.to_string()))?;
    let kind = match env.kind.as_str() {
        "batch" => MessageKind::Batch,
        "catalog" => MessageKind::Catalog,
        "status" => MessageKind::Status,
        other => {
            return Err(CodecError::UnknownKind {
                kind: other.to_owned(),
            });
        }
    };
    if !super::supported(kind, env.v) {
        return Err(CodecError::UnsupportedVersion { version: env.v });
    }
    if env.spool.is_some() && (kind != MessageKind::Status || env.v < 2) {
        return Err(CodecError::Invalid {
            field: "spool",
            reason: format!("not part of a version {} {}", env.v, env.kind),
        });
    }
    let agent = AgentId::new(&env.agent).map_err(invalid("agent"))?;
    match env.kind.as_str() {
        "batch" => {
            let asset = AssetPath::new(env.asset.as_deref().ok_or_else(|| missing("asset"))?)
                .map_err(invalid("asset"))?;
            let points = env
                .points
                .ok_or_else(|| missing("points"))?
                .into_iter()
                .map(|p| point_from_json(p, &asset))
                .collect::<Result<_, _>>()?;
            Ok(Message::Batch(Batch {
                agent,
                session: env.session,
                seq: env.seq.ok_or_else(|| missing("seq"))?,
                asset,
                historical: env.historical,
                points,
            }))
        }
        "catalog" => {
            let tags = env
                .tags
                .ok_or_else(|| missing("tags"))?
                .into_iter()
                .map(WireTagMeta::into_meta)
                .collect::<Result<_, CodecError>>()?;
            Ok(Message::Catalog(TagCatalog {
                agent,
                session: env.session,
                tags,
            }))
        }
        "status" => {
            let state = match env.state.as_deref() {
                Some(ONLINE) => AgentState::Online,
                Some(OFFLINE) => AgentState::Offline,
                other => {
                    return Err(CodecError::Invalid {
                        field: "state",
                        reason: format!("{other:?}"),
                    });
                }
            };
            let devices = env
                .devices
                .unwrap_or_default()
                .into_iter()
                .map(|d| DeviceStatus {
                    id: d.id,
                    state: if d.connected {
                        DeviceState::Connected
                    } else {
                        DeviceState::Disconnected
                    },
                })
                .collect();
            Ok(Message::Status(AgentStatus {
                agent,
                session: env.session,
                state,
                ts_ns: env.ts_ns.ok_or_else(|| missing("ts_ns"))?,
                devices,
                spool: env.spool.map(SpoolStatus::from),
            }))
        }
        other => Err(CodecError::UnknownKind {
            kind: other.to_owned(),
        }),
    }
}

fn point_from_json(p: JsonPoint, asset: &AssetPath) -> Result<Point, CodecError> {
    let level = QualityLevel::parse(&p.quality).ok_or_else(|| CodecError::Invalid {
        field: "quality",
        reason: format!("'{}'", p.quality),
    })?;
    let bad_value = || CodecError::Invalid {
        field: "value",
        reason: format!("tag '{}': {} does not fit type {:?}", p.tag, p.value, p.ty),
    };
    let value = match (&p.value, p.ty.as_deref()) {
        (Json::Null, _) => None,
        (Json::Bool(b), None | Some("bool")) => Some(Value::Bool(*b)),
        (Json::String(s), None | Some("text")) => Some(Value::Text(s.clone())),
        (Json::Number(n), Some("int")) => Some(Value::Int(n.as_i64().ok_or_else(bad_value)?)),
        (Json::Number(n), Some("uint")) => Some(Value::UInt(n.as_u64().ok_or_else(bad_value)?)),
        (Json::Number(n), Some("float")) => Some(Value::Float(n.as_f64().ok_or_else(bad_value)?)),
        (Json::Number(n), None) => Some(if let Some(i) = n.as_i64() {
            Value::Int(i)
        } else if let Some(u) = n.as_u64() {
            Value::UInt(u)
        } else {
            Value::Float(n.as_f64().ok_or_else(bad_value)?)
        }),
        _ => return Err(bad_value()),
    };
    Ok(Point {
        tag: TagId::from_parts(asset, &p.tag).map_err(invalid("tag"))?,
        ts_ns: p.ts_ns,
        value,
        quality: Quality::from_parts(level, p.reason),
    })
}
