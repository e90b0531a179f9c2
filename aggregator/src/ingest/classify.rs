//! Turns one MQTT publish into a typed message, or a counted rejection (I/O-free).
//!
//! The topic is parsed with `protocols::topic::Topic::parse` and the payload decoded with
//! `protocols::codec::decode`; then the message kind must fit the topic (batch on a data
//! topic, catalogue on meta, status on status) and the agent (and for batches the asset)
//! named inside must equal the topic's. Rejections carry a low-cardinality `reason` label.
//!
//! Text containing a NUL character is rejected too ([`REASON_NUL_IN_TEXT`]): the codec
//! accepts it, but PostgreSQL refuses NUL in `text` columns (SQLSTATE 22021), so such a
//! message could never be stored. Identifiers cannot hold NUL (the model validates them);
//! point reasons and text values, catalogue fields and device ids are checked here.

use protocols::codec::{self, Message};
use protocols::model::{AgentStatus, Batch, TagCatalog, Value};
use protocols::topic::Topic;

/// Reason label: the topic is not a Sentia topic.
pub(crate) const REASON_BAD_TOPIC: &str = "bad_topic";
/// Reason label: the message does not belong on its topic.
pub(crate) const REASON_TOPIC_MISMATCH: &str = "topic_mismatch";

/// Reason label: a text field contains a NUL character.
pub(crate) const REASON_NUL_IN_TEXT: &str = "nul_in_text";

/// An accepted message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Inbound {
    Batch(Batch),
    Catalog(TagCatalog),
    Status(AgentStatus),
}

/// Why a message was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejected {
    /// Metric label: a `CodecError::label`, [`REASON_BAD_TOPIC`] or [`REASON_TOPIC_MISMATCH`].
    pub(crate) reason: &'static str,
    /// Human-readable detail for the log.
    pub(crate) detail: String,
}

pub(crate) fn classify(topic: &str, payload: &[u8]) -> Result<Inbound, Rejected> {
    let inbound = classify_kind(topic, payload)?;
    if let Some(field) = nul_field(&inbound) {
        return Err(Rejected {
            reason: REASON_NUL_IN_TEXT,
            detail: format!("{field} contains a NUL character"),
        });
    }
    Ok(inbound)
}

/// The first text field holding a NUL character, named for the log.
fn nul_field(inbound: &Inbound) -> Option<String> {
    let nul = |s: &str| s.contains('\0');
    match inbound {
        Inbound::Batch(b) => b.points.iter().find_map(|p| {
            if p.quality.reason().is_some_and(nul) {
                Some(format!("the quality reason of a point of '{}'", p.tag))
            } else if let Some(Value::Text(t)) = &p.value
                && nul(t)
            {
                Some(format!("the text value of a point of '{}'", p.tag))
            } else {
                None
            }
        }),
        Inbound::Catalog(c) => c.tags.iter().find_map(|m| {
            [
                ("unit", &m.unit),
                ("data_type", &m.data_type),
                ("source", &m.source),
                ("description", &m.description),
            ]
            .into_iter()
            .find(|(_, v)| nul(v))
            .map(|(field, _)| format!("the {field} of catalogue entry '{}'", m.id))
        }),
        Inbound::Status(s) => s
            .devices
            .iter()
            .any(|d| nul(&d.id))
            .then(|| "a device id".to_owned()),
    }
}

fn classify_kind(topic: &str, payload: &[u8]) -> Result<Inbound, Rejected> {
    let parsed = Topic::parse(topic).map_err(|e| Rejected {
        reason: REASON_BAD_TOPIC,
        detail: e.to_string(),
    })?;
    let message = codec::decode(payload).map_err(|e| Rejected {
        reason: e.label(),
        detail: e.to_string(),
    })?;
    let mismatch = |detail: String| Rejected {
        reason: REASON_TOPIC_MISMATCH,
        detail,
    };
    match (parsed, message) {
        (Topic::Data { agent, asset }, Message::Batch(b)) => {
            if b.agent != agent || b.asset != asset {
                return Err(mismatch(format!(
                    "batch from agent '{}' for asset '{}' on the topic of agent '{agent}', asset '{asset}'",
                    b.agent, b.asset
                )));
            }
            Ok(Inbound::Batch(b))
        }
        (Topic::Meta { agent }, Message::Catalog(c)) => {
            if c.agent != agent {
                return Err(mismatch(format!(
                    "catalogue of agent '{}' on the topic of agent '{agent}'",
                    c.agent
                )));
            }
            Ok(Inbound::Catalog(c))
        }
        (Topic::Status { agent }, Message::Status(s)) => {
            if s.agent != agent {
                return Err(mismatch(format!(
                    "status of agent '{}' on the topic of agent '{agent}'",
                    s.agent
                )));
            }
            Ok(Inbound::Status(s))
        }
        (_, m) => Err(mismatch(format!(
            "a {:?} message does not belong on this topic",
            m.kind()
        ))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use protocols::codec::{Encoding, encode};
    use protocols::model::{
        AgentId, AgentState, AssetPath, DeviceState, DeviceStatus, Point, Quality, TagId, TagMeta,
    };

    use super::*;

    const DATA: &str = "sentia/v1/data/edge-01/demo/hall-1/line-1/motor-01";

    fn batch(agent: &str, asset: &str) -> Message {
        let asset = AssetPath::new(asset).unwrap();
        Message::Batch(Batch {
            agent: AgentId::new(agent).unwrap(),
            session: 1,
            seq: 0,
            points: vec![Point::good(
                TagId::from_parts(&asset, "speed").unwrap(),
                1,
                Value::UInt(3),
            )],
            asset,
            historical: false,
        })
    }

    #[test]
    fn accepts_matching_messages_in_both_encodings() {
        for enc in [Encoding::Binary, Encoding::Json] {
            let payload = encode(&batch("edge-01", "demo/hall-1/line-1/motor-01"), enc).unwrap();
            assert!(matches!(classify(DATA, &payload), Ok(Inbound::Batch(_))));
        }
        let status = Message::Status(AgentStatus {
            agent: AgentId::new("edge-01").unwrap(),
            session: 1,
            state: AgentState::Online,
            ts_ns: 5,
            devices: vec![],
            spool: None,
        });
        let payload = encode(&status, Encoding::Json).unwrap();
        assert!(matches!(
            classify("sentia/v1/status/edge-01", &payload),
            Ok(Inbound::Status(_))
        ));
    }

    #[test]
    fn rejects_with_reason_labels() {
        let reason = |topic: &str, payload: &[u8]| classify(topic, payload).unwrap_err().reason;
        let other_asset = encode(
            &batch("edge-01", "demo/hall-1/line-1/pump-01"),
            Encoding::Binary,
        )
        .unwrap();
        assert_eq!(reason(DATA, &other_asset), "topic_mismatch");
        let other_agent = encode(
            &batch("edge-02", "demo/hall-1/line-1/motor-01"),
            Encoding::Binary,
        )
        .unwrap();
        assert_eq!(reason(DATA, &other_agent), "topic_mismatch");
        let good = encode(
            &batch("edge-01", "demo/hall-1/line-1/motor-01"),
            Encoding::Binary,
        )
        .unwrap();
        assert_eq!(reason("sentia/v1/meta/edge-01", &good), "topic_mismatch");
        assert_eq!(reason("sentia/v1/data/x", &good), "bad_topic");
        assert_eq!(reason(DATA, b"{not json"), "malformed_json");
        assert_eq!(reason(DATA, b"\x00\x01garbage"), "unknown_format");
        assert_eq!(reason(DATA, b""), "empty");
    }

    #[test]
    fn rejects_nul_in_any_text_field() {
        let asset = AssetPath::new("demo/hall-1/line-1/motor-01").unwrap();
        let tag = TagId::from_parts(&asset, "speed").unwrap();
        let with_point = |point: Point| {
            let Message::Batch(mut b) = batch("edge-01", "demo/hall-1/line-1/motor-01") else {
                unreachable!()
            };
            b.points.push(point);
            Message::Batch(b)
        };
        let meta = |unit: &str, description: &str| TagMeta {
            id: tag.clone(),
            unit: unit.into(),
            data_type: "u16".into(),
            source: "modbus".into(),
            poll_interval_ms: 1000,
            description: description.into(),
        };
        let catalog = |m: TagMeta| {
            Message::Catalog(TagCatalog {
                agent: AgentId::new("edge-01").unwrap(),
                session: 1,
                tags: vec![m],
            })
        };
        let status = |device: &str| {
            Message::Status(AgentStatus {
                agent: AgentId::new("edge-01").unwrap(),
                session: 1,
                state: AgentState::Online,
                ts_ns: 5,
                devices: vec![DeviceStatus {
                    id: device.into(),
                    state: DeviceState::Connected,
                }],
                spool: None,
            })
        };
        let bad_reason = Point {
            tag: tag.clone(),
            ts_ns: 2,
            value: None,
            quality: Quality::Bad("time\0out".into()),
        };
        let bad_text = Point::good(tag.clone(), 3, Value::Text("A\0uto".into()));
        let cases = [
            (DATA, with_point(bad_reason)),
            (DATA, with_point(bad_text)),
            ("sentia/v1/meta/edge-01", catalog(meta("r\0pm", ""))),
            ("sentia/v1/meta/edge-01", catalog(meta("rpm", "\0"))),
            ("sentia/v1/status/edge-01", status("plc\0-1")),
        ];
        for (topic, msg) in cases {
            for enc in [Encoding::Binary, Encoding::Json] {
                let payload = encode(&msg, enc).unwrap();
                let got = classify(topic, &payload);
                assert_eq!(
                    got.as_ref().map_err(|r| r.reason),
                    Err("nul_in_text"),
                    "{msg:?} {enc:?}: {got:?}"
                );
            }
        }
        let fine = with_point(Point::good(tag.clone(), 3, Value::Text("Auto".into())));
        assert!(classify(DATA, &encode(&fine, Encoding::Json).unwrap()).is_ok());
        assert!(
            classify(
                "sentia/v1/meta/edge-01",
                &encode(&catalog(meta("rpm", "x")), Encoding::Json).unwrap()
            )
            .is_ok()
        );
    }
}
