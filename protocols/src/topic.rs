//! The MQTT topic scheme. This module is the only place that formats or parses topics.
//!
//! ```text
//! sentia/v1/data/{agent}/{site}/{area}/{line}/{asset}   point batches (QoS 1)
//! sentia/v1/meta/{agent}                                tag catalogue (retained)
//! sentia/v1/status/{agent}                              presence (retained, Last Will)
//! sentia/v1/cmd/{agent}                                 write commands to the agent (QoS 1)
//! sentia/v1/cmd-result/{agent}                          the agent's answers (QoS 1)
//! ```
//!
//! The agent id comes right after the message kind so a broker ACL can confine an agent to
//! `sentia/v1/+/{agent}/#`. Every level is a validated identifier (see [`crate::model`]),
//! so no level can contain `/`, `+`, `#` or `$`.

use std::fmt;

use crate::model::{AgentId, AssetPath, IdError};

/// First two levels of every Sentia topic.
pub const PREFIX: &str = "sentia/v1";
/// Message-kind level for point batches.
pub const KIND_DATA: &str = "data";
/// Message-kind level for tag catalogues.
pub const KIND_META: &str = "meta";
/// Message-kind level for presence.
pub const KIND_STATUS: &str = "status";

/// Message-kind level for commands sent to an agent.
pub const KIND_CMD: &str = "cmd";
/// Message-kind level for an agent's command results.
pub const KIND_CMD_RESULT: &str = "cmd-result";

/// Subscription filter for every point batch of every agent.
pub const FILTER_ALL_DATA: &str = "sentia/v1/data/+/+/+/+/+";
/// Subscription filter for every tag catalogue.
pub const FILTER_ALL_META: &str = "sentia/v1/meta/+";
/// Subscription filter for every presence message.
pub const FILTER_ALL_STATUS: &str = "sentia/v1/status/+";
/// Subscription filter for every agent's command results.
pub const FILTER_ALL_CMD_RESULTS: &str = "sentia/v1/cmd-result/+";

/// A parsed Sentia topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Point batches of one agent for one asset.
    Data {
        /// Publishing agent.
        agent: AgentId,
        /// Asset the batch belongs to.
        asset: AssetPath,
    },
    /// Tag catalogue of one agent.
    Meta {
        /// Publishing agent.
        agent: AgentId,
    },
    /// Presence of one agent.
    Status {
        /// The agent.
        agent: AgentId,
    },
    /// Commands (writes) for one agent.
    Command {
        /// The agent that executes them.
        agent: AgentId,
    },
    /// Results of one agent's commands.
    CommandResult {
        /// The agent that executed them.
        agent: AgentId,
    },
}

/// Why a topic string is not a Sentia topic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// The topic does not start with [`PREFIX`].
    #[error("topic '{0}' does not start with '{PREFIX}/'")]
    Prefix(String),
    /// Unknown message kind or wrong number of levels.
    #[error(
        "topic '{0}' is not a known Sentia topic (data/meta/status/cmd/cmd-result with the right number of levels)"
    )]
    Shape(String),
    /// A level is not a valid identifier.
    #[error("topic '{topic}': {source}")]
    Level {
        /// The topic.
        topic: String,
        /// The identifier problem.
        source: IdError,
    },
}

impl Topic {
    /// The agent a topic belongs to.
    pub fn agent(&self) -> &AgentId {
        match self {
            Topic::Data { agent, .. }
            | Topic::Meta { agent }
            | Topic::Status { agent }
            | Topic::Command { agent }
            | Topic::CommandResult { agent } => agent,
        }
    }

    /// Parses a topic string.
    pub fn parse(topic: &str) -> Result<Self, TopicError> {
        let rest = topic
            .strip_prefix(PREFIX)
            .and_then(|r| r.strip_prefix('/'))
            .ok_or_else(|| TopicError::Prefix(topic.to_owned()))?;
        let level = |source| TopicError::Level {
            topic: topic.to_owned(),
            source,
        };
        let mut parts = rest.splitn(3, '/');
        let kind = parts.next().unwrap_or_default();
        let agent = parts
            .next()
            .ok_or_else(|| TopicError::Shape(topic.to_owned()))?;
        let tail = parts.next();
        let agent = AgentId::new(agent).map_err(level)?;
        match (kind, tail) {
            (KIND_DATA, Some(asset)) => {
                let asset = AssetPath::new(asset).map_err(level)?;
                Ok(Topic::Data { agent, asset })
            }
            (KIND_META, None) => Ok(Topic::Meta { agent }),
            (KIND_STATUS, None) => Ok(Topic::Status { agent }),
            (KIND_CMD, None) => Ok(Topic::Command { agent }),
            (KIND_CMD_RESULT, None) => Ok(Topic::CommandResult { agent }),
            _ => Err(TopicError::Shape(topic.to_owned())),
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topic::Data { agent, asset } => write!(f, "{PREFIX}/{KIND_DATA}/{agent}/{asset}"),
            Topic::Meta { agent } => write!(f, "{PREFIX}/{KIND_META}/{agent}"),
            Topic::Status { agent } => write!(f, "{PREFIX}/{KIND_STATUS}/{agent}"),
            Topic::Command { agent } => write!(f, "{PREFIX}/{KIND_CMD}/{agent}"),
            Topic::CommandResult { agent } => write!(f, "{PREFIX}/{KIND_CMD_RESULT}/{agent}"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_and_parses_each_kind() {
        let agent = AgentId::new("edge-01").unwrap();
        let asset = AssetPath::new("demo/hall-1/line-1/motor-01").unwrap();
        let cases = [
            (
                Topic::Data {
                    agent: agent.clone(),
                    asset,
                },
                "sentia/v1/data/edge-01/demo/hall-1/line-1/motor-01",
            ),
            (
                Topic::Meta {
                    agent: agent.clone(),
                },
                "sentia/v1/meta/edge-01",
            ),
            (
                Topic::Status {
                    agent: agent.clone(),
                },
                "sentia/v1/status/edge-01",
            ),
            (
                Topic::Command {
                    agent: agent.clone(),
                },
                "sentia/v1/cmd/edge-01",
            ),
            (
                Topic::CommandResult { agent },
                "sentia/v1/cmd-result/edge-01",
            ),
        ];
        for (topic, text) in cases {
            assert_eq!(topic.to_string(), text);
            assert_eq!(Topic::parse(text).unwrap(), topic);
        }
    }

    #[test]
    fn rejects_foreign_and_malformed_topics() {
        assert!(matches!(
            Topic::parse("other/v1/meta/a"),
            Err(TopicError::Prefix(_))
        ));
        assert!(matches!(
            Topic::parse("sentia/v1"),
            Err(TopicError::Prefix(_))
        ));
        assert!(matches!(
            Topic::parse("sentia/v1/meta"),
            Err(TopicError::Shape(_))
        ));
        assert!(matches!(
            Topic::parse("sentia/v1/meta/a/b"),
            Err(TopicError::Shape(_))
        ));
        assert!(matches!(
            Topic::parse("sentia/v1/blob/a"),
            Err(TopicError::Shape(_))
        ));
        assert!(matches!(
            Topic::parse("sentia/v1/data/a/b/c/d"),
            Err(TopicError::Level { .. })
        ));
        assert!(matches!(
            Topic::parse("sentia/v1/data/a/b/c/d/e/f"),
            Err(TopicError::Level { .. })
        ));
        assert!(matches!(
            Topic::parse("sentia/v1/cmd/a/b"),
            Err(TopicError::Shape(_))
        ));
        assert!(matches!(
            Topic::parse("sentia/v1/cmd-result"),
            Err(TopicError::Shape(_))
        ));
        assert!(matches!(
            Topic::parse("sentia/v1/status/a+"),
            Err(TopicError::Level { .. })
        ));
    }

    #[test]
    fn filters_match_the_shapes_they_name() {
        let data = "sentia/v1/data/edge-01/demo/hall-1/line-1/motor-01";
        assert_eq!(FILTER_ALL_DATA.split('/').count(), data.split('/').count());
        assert!(FILTER_ALL_META.starts_with(PREFIX) && FILTER_ALL_STATUS.starts_with(PREFIX));
        let result = Topic::CommandResult {
            agent: AgentId::new("edge-01").unwrap(),
        }
        .to_string();
        assert_eq!(
            FILTER_ALL_CMD_RESULTS.trim_end_matches('+'),
            result.trim_end_matches("edge-01")
        );
    }

    fn segment() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_.:-]{1,20}"
    }

    proptest! {
        #[test]
        fn data_topics_round_trip(a in segment(), s in segment(), ar in segment(), l in segment(), n in segment()) {
            let topic = Topic::Data {
                agent: AgentId::new(&a).unwrap(),
                asset: AssetPath::from_parts(&s, &ar, &l, &n).unwrap(),
            };
            prop_assert_eq!(Topic::parse(&topic.to_string()).unwrap(), topic);
        }

        #[test]
        fn command_topics_round_trip(a in segment()) {
            let agent = AgentId::new(&a).unwrap();
            for topic in [Topic::Command { agent: agent.clone() }, Topic::CommandResult { agent }] {
                prop_assert_eq!(Topic::parse(&topic.to_string()).unwrap(), topic);
            }
        }

        #[test]
        fn parse_never_panics(t in ".{0,80}") {
            let _ = Topic::parse(&t);
        }
    }
}
