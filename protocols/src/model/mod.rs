//! Plain data: what a sample is, where it comes from and how trustworthy it is.
//!
//! Nothing here is serializable on purpose: wire and disk forms live in [`crate::codec`],
//! which converts to and from these types. Identifiers are validated on construction, so
//! a [`TagId`] or [`AssetPath`] in hand is always well formed.

mod command;
mod ids;
mod message;
mod point;
mod quality;
mod value;

pub use command::{
    MAX_COMMAND_ID_LEN, MAX_COMMAND_TEXT_LEN, WriteCommand, WriteResult, WriteStatus,
};
pub use ids::{AgentId, AssetPath, IdError, MAX_SEGMENT_LEN, TagId};
pub use message::{
    AgentState, AgentStatus, Batch, DeviceState, DeviceStatus, SpoolStatus, TagCatalog, TagMeta,
};
pub use point::Point;
pub use quality::{Quality, QualityLevel};
pub use value::Value;

/// Nanoseconds since the Unix epoch, UTC. All source and receive timestamps use this unit.
pub type TimestampNs = i64;

/// The current wall-clock time as [`TimestampNs`].
pub fn now_ns() -> TimestampNs {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}
