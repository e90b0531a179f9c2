//! One sample of one tag.

use super::{Quality, TagId, TimestampNs, Value};

/// One sample: which tag, when it was sampled at the source, what, and how trustworthy.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The tag sampled.
    pub tag: TagId,
    /// Source timestamp: when the value was sampled (ns since the Unix epoch).
    pub ts_ns: TimestampNs,
    /// The value; `None` when the quality is bad and there is nothing to report.
    pub value: Option<Value>,
    /// How far the value can be trusted.
    pub quality: Quality,
}

impl Point {
    /// A good sample.
    pub fn good(tag: TagId, ts_ns: TimestampNs, value: Value) -> Self {
        Self {
            tag,
            ts_ns,
            value: Some(value),
            quality: Quality::Good,
        }
    }

    /// A bad sample with no value and the reason why.
    pub fn bad(tag: TagId, ts_ns: TimestampNs, reason: impl Into<String>) -> Self {
        Self {
            tag,
            ts_ns,
            value: None,
            quality: Quality::Bad(reason.into()),
        }
    }
}
