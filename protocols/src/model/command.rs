//! Commands an agent executes on request, and their results: for now, writing one value to
//! one tag.
//!
//! A [`WriteCommand`] arrives on `Topic::Command` for the agent; the agent answers every
//! command it can identify (one with an id) with exactly one [`WriteResult`] on
//! `Topic::CommandResult`. The wire form (JSON) lives in `crate::codec::command`.

use super::{TagId, TimestampNs, Value};

/// Longest command id accepted, in bytes.
pub const MAX_COMMAND_ID_LEN: usize = 128;
/// Longest `user` and `comment` accepted, in bytes.
pub const MAX_COMMAND_TEXT_LEN: usize = 1024;

/// A request to write `value` (engineering units) to `tag`.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteCommand {
    /// Chosen by the sender, unique per command; a redelivered command keeps its id, and the
    /// agent answers a repeated id with the first result instead of writing again.
    pub id: String,
    /// The tag to write.
    pub tag: TagId,
    /// The value, in the tag's engineering units (scale and offset applied).
    pub value: Value,
    /// Who asked (recorded in the audit log).
    pub user: String,
    /// Why (recorded in the audit log).
    pub comment: Option<String>,
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteStatus {
    /// Written; `new` holds the value read back.
    Ok,
    /// Refused before anything was sent to the device (unknown or read-only tag, wrong
    /// type, outside the limits, malformed command). Nothing was written.
    Rejected,
    /// Accepted but the device did not complete it (exception, timeout, disconnected).
    /// The device may or may not hold the new value; `new` says what was read back, if
    /// anything.
    Failed,
}

impl WriteStatus {
    /// `ok`, `rejected` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        }
    }

    /// Parses [`WriteStatus::as_str`] output.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Ok, Self::Rejected, Self::Failed]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// The answer to one [`WriteCommand`].
#[derive(Debug, Clone, PartialEq)]
pub struct WriteResult {
    /// The command's id.
    pub id: String,
    /// The tag as given in the command (it may not be a valid tag id when rejected).
    pub tag: String,
    /// How it ended.
    pub status: WriteStatus,
    /// Why it was rejected or failed (`None` when ok).
    pub error: Option<String>,
    /// The value read before writing, if it was read.
    pub old: Option<Value>,
    /// The value read back after writing, if it was read.
    pub new: Option<Value>,
    /// When the result was produced.
    pub ts_ns: TimestampNs,
}
