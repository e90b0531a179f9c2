//! Write commands: from the MQTT command topic to a device and back, with validation,
//! deduplication and an audit trail.
//!
//! ```text
//!  broker ──sentia/v1/cmd/{agent} (QoS 1)──▶ forwarder ──payload──▶ CommandDispatcher
//!                                                                   │ decode, dedupe (recent.rs),
//!                                                                   │ validate (targets.rs)
//!                                               WriteRouter ◀───────┘ (router.rs)
//!                                                  │ WriteJob, bounded inbox per device
//!                                                  ▼
//!                                  device task: read old, write (FC5/6/15/16), read new
//!                                                  │ WriteOutcome (oneshot)
//!                                                  ▼
//!  broker ◀──sentia/v1/cmd-result/{agent}── forwarder ◀──WriteResult── dispatcher ──▶ audit.rs
//! ```
//!
//! Writes are off unless a tag is configured `writable = true`. The device task executes a
//! write between two poll cycles over its own connection, so a write never interleaves
//! with a read of the same device.

mod dispatch;
mod execute;
mod recent;
mod router;
mod targets;

pub use dispatch::{COMMAND_CHANNEL_CAPACITY, COMMAND_TIMEOUT, CommandDispatcher, MAX_IN_PROGRESS};
pub use execute::execute;
pub use recent::{RECENT_CAPACITY, RecentCommands, Seen};
pub use router::{
    RouteError, WRITE_INBOX_CAPACITY, WriteInbox, WriteJob, WriteOutcome, WriteRouter,
};
pub use targets::{Accepted, Target, WriteTargets};
