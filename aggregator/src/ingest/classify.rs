//! Turns one MQTT publish into a typed message, or a counted rejection (I/O-free).
//!
//! The topic is parsed with `protocols::topic::Topic::parse` and the payload decoded with
//! `protocols::codec::decode`; then the message kind must fit the topic (batch on a data
//! topic, catalogue on meta, status on status) and the agent (and for batches the asset)
//! named inside must equal the topic's. Rejections carry a low-cardinality `reason` label.

use protocols::codec::{self, Message};
use protocols::model::{AgentStatus, Batch, TagCatalog};
use protocols::topic::Topic;

/// Reason label: the topic is not a Sentia topic.
pub(crate) const REASON_BAD_TOPIC: &str = "bad_topic";
/// Reason label: the message does not belong on its topic.
pub(crate) const REASON_TOPIC_MISMATCH: &str = "topic_mismatch";

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
    use protocols::model::{AgentId, AgentState, AssetPath, Point, TagId, Value};

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
}
