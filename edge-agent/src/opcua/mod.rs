//! OPC UA devices (`protocol = "opcua"`), on the async-opcua client.
//!
//! - `settings`: the validated device settings ([`OpcUaSource`], tags, security, auth).
//! - `pki`: the client certificate (generated once, reused) and the trust store with its
//!   `rejected/` folder.
//! - `session`: connect (endpoint matching the configured security), the event loop in a
//!   task that reports connection loss, and the server's operation limits.
//! - `subscribe`: subscription and monitored items (sampling interval, queue size,
//!   deadband), created in batches of MaxMonitoredItemsPerCall.
//! - `read`: polled reads in batches of MaxNodesPerRead.
//! - `status`: StatusCode to quality, Variant to value, source timestamps.
//! - `device`: [`OpcUaPoller`], the device task (reconnect with backoff, subscriptions
//!   recreated, bad points while down).
//! - `browse`: the `edge-agent opcua browse` command.

pub mod browse;
mod device;
mod pki;
mod read;
mod session;
mod settings;
mod status;
mod subscribe;

pub use device::OpcUaPoller;
pub use pki::APPLICATION_URI;
pub use settings::{Auth, Deadband, Mode, OpcUaSource, OpcUaTag, Policy, Security, TagMode};
