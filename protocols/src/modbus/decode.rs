//! Turning a read's bits or registers into [`Point`]s.
//!
//! Conversion rule (the end-to-end tests rely on it):
//!
//! - `bool` becomes [`Value::Bool`].
//! - Integer types with scale 1 and offset 0 become [`Value::UInt`] (u16, u32, u64) or
//!   [`Value::Int`] (i16, i32, i64); otherwise [`Value::Float`]`(raw as f64 * scale + offset)`.
//! - `f32`/`f64` become [`Value::Float`]`(raw as f64 * scale + offset)`; with scale 1 and
//!   offset 0 no arithmetic is done, so the value is exactly `raw as f64`.
//! - A NaN or infinite result becomes a bad point ("non-finite value"), since it cannot be
//!   trusted and the JSON encoding cannot carry it.

use crate::model::{Point, TimestampNs, Value};

use super::{DataType, ReadRequest, RegisterTag};

/// What one read returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadData {
    /// Coils or discrete inputs (FC1/FC2).
    Bits(Vec<bool>),
    /// Holding or input registers (FC3/FC4).
    Registers(Vec<u16>),
}

/// Why a tag's value could not be decoded from a response.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// The response is shorter than the request asked for.
    #[error("short response: needed {needed} values, got {got}")]
    Short {
        /// Values needed to reach the end of the tag.
        needed: usize,
        /// Values received.
        got: usize,
    },
    /// Bits where registers were expected, or the other way round.
    #[error("response holds {got} but the tag needs {needed}")]
    WrongShape {
        /// `bits` or `registers`.
        needed: &'static str,
        /// `bits` or `registers`.
        got: &'static str,
    },
    /// NaN or infinity.
    #[error("non-finite value ({0})")]
    NonFinite(f64),
    /// A string's bytes are not UTF-8.
    #[error("string is not valid UTF-8 (bytes {0:02X?})")]
    InvalidUtf8(Vec<u8>),
}

/// Decodes `tag` from the registers of its own range (`words.len() >= tag.width()`).
pub fn decode_registers(tag: &RegisterTag, words: &[u16]) -> Result<Value, DecodeError> {
    let width = usize::from(tag.width());
    let words = words.get(..width).ok_or(DecodeError::Short {
        needed: width,
        got: words.len(),
    })?;
    let bytes = tag.order().to_be_bytes(words);
    let raw = match tag.data_type() {
        DataType::Bool => {
            let Some(bit) = tag.bit() else {
                return Err(DecodeError::WrongShape {
                    needed: "bits",
                    got: "registers",
                });
            };
            return Ok(Value::Bool(words[0] >> bit & 1 == 1));
        }
        DataType::String => return decode_string(tag, words),
        DataType::U16 => Raw::U(u64::from(u16::from_be_bytes(array(&bytes)))),
        DataType::I16 => Raw::I(i64::from(i16::from_be_bytes(array(&bytes)))),
        DataType::U32 => Raw::U(u64::from(u32::from_be_bytes(array(&bytes)))),
        DataType::I32 => Raw::I(i64::from(i32::from_be_bytes(array(&bytes)))),
        DataType::F32 => Raw::F(f64::from(f32::from_be_bytes(array(&bytes)))),
        DataType::U64 => Raw::U(u64::from_be_bytes(array(&bytes))),
        DataType::I64 => Raw::I(i64::from_be_bytes(array(&bytes))),
        DataType::F64 => Raw::F(f64::from_be_bytes(array(&bytes))),
    };
    scale(tag, raw)
}

fn decode_string(tag: &RegisterTag, words: &[u16]) -> Result<Value, DecodeError> {
    let mut bytes = tag.byte_order().bytes(words);
    bytes.truncate(usize::from(tag.length()));
    while matches!(bytes.last(), Some(0 | b' ')) {
        bytes.pop();
    }
    String::from_utf8(bytes)
        .map(Value::Text)
        .map_err(|e| DecodeError::InvalidUtf8(e.into_bytes()))
}

/// The first `N` bytes (`bytes` holds exactly the type's width, checked above).
fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    bytes
        .get(..N)
        .and_then(|b| b.try_into().ok())
        .unwrap_or([0; N])
}

enum Raw {
    U(u64),
    I(i64),
    F(f64),
}

fn scale(tag: &RegisterTag, raw: Raw) -> Result<Value, DecodeError> {
    let unscaled = tag.is_unscaled();
    let value = match raw {
        Raw::U(u) if unscaled => return Ok(Value::UInt(u)),
        Raw::I(i) if unscaled => return Ok(Value::Int(i)),
        Raw::F(f) if unscaled => f,
        // Precision loss above 2^53 is inherent to scaling into a float.
        Raw::U(u) => u as f64 * tag.scale() + tag.offset(),
        Raw::I(i) => i as f64 * tag.scale() + tag.offset(),
        Raw::F(f) => f * tag.scale() + tag.offset(),
    };
    if value.is_finite() {
        Ok(Value::Float(value))
    } else {
        Err(DecodeError::NonFinite(value))
    }
}

/// Points for every tag `request` covers, from the data it returned. `tags` is the list the
/// request was planned from.
pub fn decode_response(
    tags: &[RegisterTag],
    request: &ReadRequest,
    data: &ReadData,
    ts_ns: TimestampNs,
) -> Vec<Point> {
    request
        .tags
        .iter()
        .filter_map(|planned| {
            let tag = tags.get(planned.index)?;
            let at = usize::from(planned.offset);
            let value = match data {
                ReadData::Bits(bits) if tag.kind().is_bit() => bits
                    .get(at)
                    .map(|&b| Value::Bool(b))
                    .ok_or(DecodeError::Short {
                        needed: at + 1,
                        got: bits.len(),
                    }),
                ReadData::Registers(words) if !tag.kind().is_bit() => {
                    decode_registers(tag, words.get(at..).unwrap_or_default()).map_err(
                        |e| match e {
                            DecodeError::Short { needed, .. } => DecodeError::Short {
                                needed: at + needed,
                                got: words.len(),
                            },
                            other => other,
                        },
                    )
                }
                ReadData::Bits(_) => Err(DecodeError::WrongShape {
                    needed: "registers",
                    got: "bits",
                }),
                ReadData::Registers(_) => Err(DecodeError::WrongShape {
                    needed: "bits",
                    got: "registers",
                }),
            };
            Some(match value {
                Ok(v) => Point::good(tag.id().clone(), ts_ns, v),
                Err(e) => Point::bad(tag.id().clone(), ts_ns, e.to_string()),
            })
        })
        .collect()
}

/// Bad points, all with `reason`, for every tag `request` covers.
pub fn bad_points(
    tags: &[RegisterTag],
    request: &ReadRequest,
    ts_ns: TimestampNs,
    reason: &str,
) -> Vec<Point> {
    request
        .tags
        .iter()
        .filter_map(|planned| tags.get(planned.index))
        .map(|tag| Point::bad(tag.id().clone(), ts_ns, reason))
        .collect()
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
