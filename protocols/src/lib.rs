//! Sentia's shared vocabulary: the data model, the MQTT topic scheme and the payload codec.
//!
//! This is the leaf crate of the workspace. It does no file or network I/O of its own
//! (the optional `modbus` driver module excepted), and no driver types appear in its public
//! API: drivers convert their errors and status codes into [`model::Quality`] where they
//! hand data over.
//!
//! - [`model`]: tags, values, quality, points, batches, tag metadata.
//! - [`topic`]: the only place that formats or parses MQTT topics.
//! - [`codec`]: the versioned wire format (bincode envelope and JSON) for everything
//!   published over MQTT.
//! - `modbus` (feature `modbus`): request planner, register decoding and the Modbus TCP
//!   driver. The aggregator builds without it.
#![warn(missing_docs)]

pub mod codec;
#[cfg(feature = "modbus")]
pub mod modbus;
pub mod model;
pub mod topic;
