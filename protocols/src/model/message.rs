//! What an agent publishes: point batches, its tag catalogue and its presence status.

use super::{AgentId, AssetPath, Point, TagId, TimestampNs};

/// A batch of points from one agent, for one asset, in publish order.
///
/// `session` identifies one run of the agent (its start time in ns); `seq` counts batches
/// within that session from 0 without gaps, so a receiver can detect loss and duplicates.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The publishing agent.
    pub agent: AgentId,
    /// The agent run that produced this batch.
    pub session: u64,
    /// Per-agent, per-session sequence number.
    pub seq: u64,
    /// The asset every point belongs to.
    pub asset: AssetPath,
    /// Set when the batch is replayed from the agent's backlog rather than live.
    pub historical: bool,
    /// The samples. Every `point.tag` belongs to `asset`.
    pub points: Vec<Point>,
}

/// Static description of one tag, published by the agent so consumers know units and sources.
#[derive(Debug, Clone, PartialEq)]
pub struct TagMeta {
    /// The tag.
    pub id: TagId,
    /// Engineering unit (may be empty).
    pub unit: String,
    /// Source data type as configured (e.g. `f32`, `u16`, `bool`).
    pub data_type: String,
    /// Where the value comes from, as a URL-like string (e.g. `modbus-tcp://127.0.0.1:502/1/input/0`).
    pub source: String,
    /// How often the tag is sampled, in milliseconds.
    pub poll_interval_ms: u32,
    /// Free text from the configuration.
    pub description: String,
}

/// An agent's full tag list, published retained on its meta topic at every connect.
#[derive(Debug, Clone, PartialEq)]
pub struct TagCatalog {
    /// The publishing agent.
    pub agent: AgentId,
    /// The agent run that published it.
    pub session: u64,
    /// Every configured tag.
    pub tags: Vec<TagMeta>,
}

/// Whether an agent is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentState {
    /// Connected and publishing.
    Online,
    /// Shut down cleanly, or declared dead by the broker (Last Will).
    Offline,
}

/// A device's connection state, as the agent sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceState {
    /// Polling normally.
    Connected,
    /// Not reachable; its tags are published with bad quality.
    Disconnected,
}

/// One device in an [`AgentStatus`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceStatus {
    /// The device id from the agent's configuration.
    pub id: String,
    /// Connection state.
    pub state: DeviceState,
}

/// Presence message, published retained on the agent's status topic (and as its Last Will).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStatus {
    /// The agent.
    pub agent: AgentId,
    /// The agent run.
    pub session: u64,
    /// Online or offline.
    pub state: AgentState,
    /// When the status was produced.
    pub ts_ns: TimestampNs,
    /// Per-device connection state (empty in a Last Will).
    pub devices: Vec<DeviceStatus>,
    /// Store-and-forward figures (`None` in a Last Will, and from agents before status
    /// version 2).
    pub spool: Option<SpoolStatus>,
}

/// The agent's spool in an [`AgentStatus`]: what waits for the broker, and what was lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolStatus {
    /// Batches on disk not yet acknowledged by the broker.
    pub depth_batches: u64,
    /// Bytes of those batches on disk.
    pub depth_bytes: u64,
    /// Batches dropped since the agent started (spool full or too old, or the in-memory
    /// hand-off full).
    pub dropped_batches: u64,
    /// Points in those batches.
    pub dropped_points: u64,
    /// Of the dropped batches, those that had been published without a PUBACK before a
    /// connection broke: the broker may have received them, so they are not necessarily
    /// lost (at-least-once delivery cannot tell).
    pub dropped_unconfirmed_batches: u64,
    /// Points in those batches.
    pub dropped_unconfirmed_points: u64,
}
