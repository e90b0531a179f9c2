//! The payload codec: how every Sentia MQTT message is put on the wire.
//!
//! Two encodings of the same messages:
//!
//! - **Binary** (default): a 5-byte envelope, then the message encoded with bincode 2
//!   (`standard` config: little-endian, varint integers, 16 MiB decode limit).
//!   ```text
//!   offset 0  3 bytes  magic  b"SNT"
//!   offset 3  1 byte   body version of this kind (see below)
//!   offset 4  1 byte   message kind: 1 batch, 2 tag catalogue, 3 agent status
//!   offset 5  ...      bincode body (see `binary.rs` for the field order)
//!   ```
//!   Versions are per kind ([`body_version`]): batch 1, catalogue 1, status 2 (version 2
//!   added the spool figures). A sender writes the newest version of each kind; a receiver
//!   reads every version from 1 to the newest it knows and refuses a newer one with
//!   [`CodecError::UnsupportedVersion`], so an old aggregator keeps reading batches from a
//!   newer agent. Golden fixtures in `protocols/tests/fixtures/` pin the bytes: if one
//!   changes, that kind's layout changed and its version must be bumped.
//! - **JSON** (interop, debugging): one object with `"v"` (the same per-kind version) and
//!   `"kind"` (see `json.rs`).
//!
//! Commands to an agent and their results have their own, JSON-only wire form in
//! [`command`].
//!
//! [`decode`] detects the encoding from the first byte, so receivers accept both.
//! Model types stay unserializable; the wire structs here convert to and from them, and
//! bincode's settings are built in exactly one function.

mod binary;
pub mod command;
mod error;
mod json;

pub use error::CodecError;

use crate::model::{AgentStatus, Batch, TagCatalog};

/// Envelope magic for the binary encoding.
pub const MAGIC: [u8; 3] = *b"SNT";
/// Newest body version of any kind (see [`body_version`]).
pub const VERSION: u8 = 2;
/// Largest payload [`decode`] accepts, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;

/// Any message an agent publishes.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Point batch (data topic).
    Batch(Batch),
    /// Tag catalogue (meta topic).
    Catalog(TagCatalog),
    /// Presence (status topic).
    Status(AgentStatus),
}

/// Message kind byte in the binary envelope, and `"kind"` in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A [`Batch`].
    Batch = 1,
    /// A [`TagCatalog`].
    Catalog = 2,
    /// An [`AgentStatus`].
    Status = 3,
}

impl MessageKind {
    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::Batch),
            2 => Some(Self::Catalog),
            3 => Some(Self::Status),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Batch => "batch",
            Self::Catalog => "catalog",
            Self::Status => "status",
        }
    }
}

/// The newest body version of `kind`, written by [`encode`] (binary and JSON).
pub fn body_version(kind: MessageKind) -> u8 {
    match kind {
        MessageKind::Batch | MessageKind::Catalog => 1,
        MessageKind::Status => 2,
    }
}

/// Whether `version` of `kind` can be decoded here.
fn supported(kind: MessageKind, version: u8) -> bool {
    (1..=body_version(kind)).contains(&version)
}

impl Message {
    /// This message's kind.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Batch(_) => MessageKind::Batch,
            Message::Catalog(_) => MessageKind::Catalog,
            Message::Status(_) => MessageKind::Status,
        }
    }
}

/// Payload encoding choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// Versioned bincode envelope (compact; the default).
    #[default]
    Binary,
    /// JSON object (interop, debugging).
    Json,
}

impl Encoding {
    /// Parses `binary` or `json`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "binary" => Some(Self::Binary),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

/// Encodes a message.
pub fn encode(msg: &Message, encoding: Encoding) -> Result<Vec<u8>, CodecError> {
    match encoding {
        Encoding::Binary => {
            let mut out = Vec::with_capacity(256);
            out.extend_from_slice(&MAGIC);
            out.push(body_version(msg.kind()));
            out.push(msg.kind() as u8);
            binary::encode_body(msg, &mut out)?;
            Ok(out)
        }
        Encoding::Json => json::encode(msg),
    }
}

/// Decodes a payload in either encoding, validating every identifier in it.
pub fn decode(payload: &[u8]) -> Result<Message, CodecError> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(CodecError::TooLarge { len: payload.len() });
    }
    let Some(&first) = payload.iter().find(|b| !b.is_ascii_whitespace()) else {
        return Err(CodecError::Empty);
    };
    if first == b'{' {
        return json::decode(payload);
    }
    if payload.len() < 5 || payload[..3] != MAGIC {
        let head = payload
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        return Err(CodecError::UnknownFormat { head });
    }
    let version = payload[3];
    let kind = MessageKind::from_byte(payload[4]).ok_or(CodecError::UnknownKind {
        kind: payload[4].to_string(),
    })?;
    if !supported(kind, version) {
        return Err(CodecError::UnsupportedVersion { version });
    }
    binary::decode_body(kind, version, &payload[5..])
}
