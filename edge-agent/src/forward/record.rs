//! A batch ready to publish: its sequence number, topic and encoded payload.

/// An encoded batch. Kept until the broker acknowledges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// The batch's sequence number in this session.
    pub(crate) seq: u64,
    /// The data topic (from `protocols::topic`).
    pub(crate) topic: String,
    /// The encoded batch.
    pub(crate) payload: Vec<u8>,
    /// Whether it was already handed to the MQTT client once (a re-send after reconnect).
    pub(crate) resend: bool,
}
