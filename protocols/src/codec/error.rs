//! Codec failures. Each variant says what was wrong with the payload, so a receiver can
//! count and log it once per source without guessing.

/// Why a message could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Zero-length (or all-whitespace) payload.
    #[error("empty payload")]
    Empty,
    /// Payload over [`super::MAX_PAYLOAD_BYTES`].
    #[error(
        "payload of {len} bytes exceeds the {} byte limit",
        super::MAX_PAYLOAD_BYTES
    )]
    TooLarge {
        /// Payload length.
        len: usize,
    },
    /// Neither the binary magic nor a JSON object.
    #[error(
        "unknown payload format (first bytes {head}); expected Sentia binary (magic 'SNT') or a JSON object"
    )]
    UnknownFormat {
        /// Hex of the first bytes.
        head: String,
    },
    /// Binary envelope with a version this build does not read.
    #[error(
        "unsupported binary format version {version} (this build reads version {})",
        super::VERSION
    )]
    UnsupportedVersion {
        /// The version byte found.
        version: u8,
    },
    /// Unknown message kind.
    #[error("unknown message kind '{kind}'")]
    UnknownKind {
        /// The kind byte or string found.
        kind: String,
    },
    /// The binary body did not decode.
    #[error("malformed binary body: {0}")]
    Binary(String),
    /// The JSON did not parse or has the wrong shape.
    #[error("malformed JSON: {0}")]
    Json(String),
    /// A field decoded but is invalid (bad identifier, bad quality code, trailing bytes...).
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Encoding a batch whose point does not belong to the batch's asset.
    #[error("tag '{tag}' does not belong to batch asset '{asset}'")]
    ForeignTag {
        /// The tag.
        tag: String,
        /// The batch's asset.
        asset: String,
    },
    /// JSON cannot carry NaN or infinity.
    #[error("tag '{tag}': non-finite float cannot be encoded as JSON")]
    NonFinite {
        /// The tag.
        tag: String,
    },
}

impl CodecError {
    /// A short, stable label for metrics (`decode_errors{reason=...}`).
    pub fn label(&self) -> &'static str {
        match self {
            CodecError::Empty => "empty",
            CodecError::TooLarge { .. } => "too_large",
            CodecError::UnknownFormat { .. } => "unknown_format",
            CodecError::UnsupportedVersion { .. } => "unsupported_version",
            CodecError::UnknownKind { .. } => "unknown_kind",
            CodecError::Binary(_) => "malformed_binary",
            CodecError::Json(_) => "malformed_json",
            CodecError::Invalid { .. } => "invalid_field",
            CodecError::ForeignTag { .. } => "foreign_tag",
            CodecError::NonFinite { .. } => "non_finite",
        }
    }
}
