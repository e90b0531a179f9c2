//! Builds and encodes everything the agent publishes: data batches, the tag catalogue,
//! the presence status and command results, on the topics from `protocols::topic`.

use protocols::codec::{self, CodecError, Encoding, Message};
use protocols::model::{
    AgentId, AgentState, AgentStatus, Batch, DeviceStatus, SpoolStatus, TagCatalog, TagMeta,
    WriteResult, now_ns,
};
use protocols::topic::Topic;

use crate::poll::DeviceBatch;
use crate::settings::Settings;
use crate::spool::SpoolRecord;

/// Encodes the agent's messages.
#[derive(Debug, Clone)]
pub(crate) struct Messages {
    agent: AgentId,
    session: u64,
    encoding: Encoding,
    catalog: TagCatalog,
    /// `Topic::Meta` for this agent.
    pub(crate) meta_topic: String,
    /// `Topic::Status` for this agent.
    pub(crate) status_topic: String,
    /// `Topic::Command` for this agent (subscribed when writes are enabled).
    pub(crate) command_topic: String,
    /// `Topic::CommandResult` for this agent.
    pub(crate) result_topic: String,
}

impl Messages {
    pub(crate) fn new(settings: &Settings, session: u64) -> Self {
        let agent = settings.agent.id.clone();
        let catalog = TagCatalog {
            agent: agent.clone(),
            session,
            tags: settings.devices.iter().flat_map(|d| d.tag_meta()).collect(),
        };
        Self {
            meta_topic: Topic::Meta {
                agent: agent.clone(),
            }
            .to_string(),
            status_topic: Topic::Status {
                agent: agent.clone(),
            }
            .to_string(),
            command_topic: Topic::Command {
                agent: agent.clone(),
            }
            .to_string(),
            result_topic: Topic::CommandResult {
                agent: agent.clone(),
            }
            .to_string(),
            agent,
            session,
            encoding: settings.mqtt.encoding,
            catalog,
        }
    }

    /// Encodes one device's cycle as batch `seq` (live, `historical = false`), appended at
    /// `now_ns`.
    pub(crate) fn batch(
        &self,
        seq: u64,
        batch: DeviceBatch,
        now_ns: i64,
    ) -> Result<SpoolRecord, CodecError> {
        let topic = Topic::Data {
            agent: self.agent.clone(),
            asset: batch.asset.clone(),
        }
        .to_string();
        let points = u32::try_from(batch.points.len()).unwrap_or(u32::MAX);
        let message = Message::Batch(Batch {
            agent: self.agent.clone(),
            session: self.session,
            seq,
            asset: batch.asset,
            historical: false,
            points: batch.points,
        });
        Ok(SpoolRecord {
            seq,
            points,
            appended_ns: now_ns,
            topic,
            payload: codec::encode(&message, self.encoding)?,
        })
    }

    /// A spooled batch payload re-encoded with `historical = true` (sent from the backlog).
    pub(crate) fn historical(&self, payload: &[u8]) -> Result<Vec<u8>, CodecError> {
        match codec::decode(payload)? {
            Message::Batch(mut b) => {
                b.historical = true;
                codec::encode(&Message::Batch(b), self.encoding)
            }
            _ => Ok(payload.to_vec()),
        }
    }

    /// The tag catalogue.
    pub(crate) fn catalog(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode(&Message::Catalog(self.catalog.clone()), self.encoding)
    }

    /// Replaces the catalogue's tags (after a configuration reload).
    pub(crate) fn set_tags(&mut self, tags: Vec<TagMeta>) {
        self.catalog.tags = tags;
    }

    /// A command result (JSON, whatever the batch encoding: commands are JSON only).
    pub(crate) fn command_result(&self, result: &WriteResult) -> Result<Vec<u8>, CodecError> {
        codec::command::encode_result(result)
    }

    /// A presence message (`spool`: `None` in the Last Will, which is fixed at connect).
    pub(crate) fn status(
        &self,
        state: AgentState,
        devices: Vec<DeviceStatus>,
        spool: Option<SpoolStatus>,
    ) -> Result<Vec<u8>, CodecError> {
        codec::encode(
            &Message::Status(AgentStatus {
                agent: self.agent.clone(),
                session: self.session,
                state,
                ts_ns: now_ns(),
                devices,
                spool,
            }),
            self.encoding,
        )
    }
}
