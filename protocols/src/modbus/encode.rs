//! Turning a [`Value`] in engineering units into the bit or registers a write puts on the
//! wire: the inverse of `decode`.
//!
//! Conversion rule (the inverse of the one in `decode`):
//!
//! - `bool` tags take [`Value::Bool`] only. A coil becomes [`Encoded::Bit`]; a bit of a
//!   holding register becomes [`Encoded::RegisterBit`], which the writer turns into a
//!   read-modify-write of the whole register (see `write.rs`).
//! - `string` tags take [`Value::Text`] only, at most `length` bytes of UTF-8 without NUL
//!   characters; the rest of the field is filled with NUL bytes (which decoding trims, as it
//!   trims trailing spaces), two bytes per register in the tag's byte order (`AB`/`BA`).
//! - Numeric tags take [`Value::Int`], [`Value::UInt`] or [`Value::Float`]; never `Bool` or
//!   `Text` (no silent 0/1 or parsing).
//! - The raw value is `(value - offset) / scale`. With scale 1 and offset 0 no arithmetic is
//!   done, so integers are written exactly (also above 2^53).
//! - Integer types: an unscaled tag takes only whole numbers (`1500` or `1500.0`; `1500.5` is
//!   rejected, never rounded). A scaled tag's raw value is rounded to the nearest integer,
//!   halves away from zero (`f64::round`), so reading the value back may differ from the
//!   request by at most `scale / 2` (the resolution the device stores). Either way the raw
//!   value must fit the type (`u16` 0..=65535, `i16` -32768..=32767, ...), otherwise the
//!   write is refused.
//! - `f32`: the raw value is rounded to the nearest `f32` (IEEE round-to-nearest-even); it
//!   must be finite and within the `f32` range. `f64` is exact.
//! - NaN and infinities are refused for every type.
//!
//! Registers come out in wire order for the tag's [`WordOrder`], first register first, so
//! `decode_registers(tag, &encode_registers(tag, v)?)` gives `v` back for every unscaled
//! value the type can hold (property-tested below).

use crate::model::Value;

use super::{ByteOrder, DataType, RegisterTag, WordOrder};

/// What a write puts on the wire for one tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoded {
    /// One coil.
    Bit(bool),
    /// One bit of a holding register (0 = least significant).
    RegisterBit {
        /// The bit.
        bit: u8,
        /// Its new state.
        value: bool,
    },
    /// The tag's registers, in wire order.
    Registers(Vec<u16>),
}

/// Why a value cannot be written to a tag.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EncodeError {
    /// The value's kind does not fit the tag's type (e.g. text for a `u16`).
    #[error("type mismatch: tag is {data_type}, value is {value_kind}")]
    WrongType {
        /// The tag's type.
        data_type: DataType,
        /// `bool`, `int`, `uint`, `float` or `text`.
        value_kind: &'static str,
    },
    /// NaN or infinity.
    #[error("value is not a finite number")]
    NonFinite,
    /// A fractional value for an unscaled integer tag.
    #[error("tag is {data_type} (unscaled) and takes whole numbers only, got {value}")]
    NotWhole {
        /// The tag's type.
        data_type: DataType,
        /// The value given.
        value: f64,
    },
    /// A string longer than the tag's field, or with a NUL character.
    #[error("string of {len} bytes does not fit the tag's {length}-byte field{nul}")]
    StringFit {
        /// Bytes of the value (UTF-8).
        len: usize,
        /// The tag's length.
        length: u16,
        /// `" (or contains NUL)"` when that is the problem.
        nul: &'static str,
    },
    /// The raw value does not fit the type.
    #[error("raw value {raw} is outside the range of {data_type} ({min}..={max})")]
    OutOfRange {
        /// The tag's type.
        data_type: DataType,
        /// The raw value (after undoing scale and offset), as text.
        raw: String,
        /// Smallest raw value of the type.
        min: String,
        /// Largest raw value of the type.
        max: String,
    },
}

/// Encodes `value` for `tag`: a bit for coils, the registers (wire order) otherwise.
pub fn encode_value(tag: &RegisterTag, value: &Value) -> Result<Encoded, EncodeError> {
    if tag.data_type() == DataType::Bool {
        return match (value, tag.bit()) {
            (Value::Bool(b), None) => Ok(Encoded::Bit(*b)),
            (Value::Bool(b), Some(bit)) => Ok(Encoded::RegisterBit { bit, value: *b }),
            (other, _) => Err(wrong_type(DataType::Bool, other)),
        };
    }
    encode_registers(tag, value).map(Encoded::Registers)
}

/// Encodes `value` into `tag`'s registers, in wire order.
pub fn encode_registers(tag: &RegisterTag, value: &Value) -> Result<Vec<u16>, EncodeError> {
    let ty = tag.data_type();
    if ty == DataType::String {
        return encode_string(tag, value);
    }
    let raw = raw_value(tag, value)?;
    let bytes: Vec<u8> = match ty {
        DataType::Bool | DataType::String => return Err(wrong_type(ty, value)),
        DataType::U16 => (int_in(ty, &raw, 0, i128::from(u16::MAX))? as u16)
            .to_be_bytes()
            .to_vec(),
        DataType::I16 => (int_in(ty, &raw, i128::from(i16::MIN), i128::from(i16::MAX))? as i16)
            .to_be_bytes()
            .to_vec(),
        DataType::U32 => (int_in(ty, &raw, 0, i128::from(u32::MAX))? as u32)
            .to_be_bytes()
            .to_vec(),
        DataType::I32 => (int_in(ty, &raw, i128::from(i32::MIN), i128::from(i32::MAX))? as i32)
            .to_be_bytes()
            .to_vec(),
        DataType::U64 => (int_in(ty, &raw, 0, i128::from(u64::MAX))? as u64)
            .to_be_bytes()
            .to_vec(),
        DataType::I64 => (int_in(ty, &raw, i128::from(i64::MIN), i128::from(i64::MAX))? as i64)
            .to_be_bytes()
            .to_vec(),
        DataType::F32 => {
            let f = raw.as_f64();
            if f.abs() > f64::from(f32::MAX) {
                return Err(EncodeError::OutOfRange {
                    data_type: ty,
                    raw: f.to_string(),
                    min: f32::MIN.to_string(),
                    max: f32::MAX.to_string(),
                });
            }
            (f as f32).to_be_bytes().to_vec()
        }
        DataType::F64 => raw.as_f64().to_be_bytes().to_vec(),
    };
    Ok(from_be_bytes(tag.order(), &bytes))
}

/// A string into its field: NUL-padded to the tag's registers, in its byte order.
fn encode_string(tag: &RegisterTag, value: &Value) -> Result<Vec<u16>, EncodeError> {
    let Value::Text(text) = value else {
        return Err(wrong_type(DataType::String, value));
    };
    let length = tag.length();
    let has_nul = text.contains('\0');
    if text.len() > usize::from(length) || has_nul {
        return Err(EncodeError::StringFit {
            len: text.len(),
            length,
            nul: if has_nul { " (or contains NUL)" } else { "" },
        });
    }
    let mut bytes = text.as_bytes().to_vec();
    bytes.resize(usize::from(tag.width()) * 2, 0);
    Ok(bytes
        .chunks(2)
        .map(|c| match tag.byte_order() {
            ByteOrder::HighFirst => u16::from_be_bytes([c[0], c[1]]),
            ByteOrder::LowFirst => u16::from_le_bytes([c[0], c[1]]),
        })
        .collect())
}

/// The raw value before type conversion.
enum Raw {
    /// Exact integer (unscaled integer input).
    Int(i128),
    /// Anything that went through arithmetic or came as a float.
    Float(f64),
}

impl Raw {
    fn as_f64(&self) -> f64 {
        match self {
            Raw::Int(i) => *i as f64,
            Raw::Float(f) => *f,
        }
    }
}

/// Undoes scale and offset; rejects kinds that do not fit and non-finite numbers.
fn raw_value(tag: &RegisterTag, value: &Value) -> Result<Raw, EncodeError> {
    let ty = tag.data_type();
    let exact = match value {
        Value::Int(i) => Some(i128::from(*i)),
        Value::UInt(u) => Some(i128::from(*u)),
        Value::Float(_) => None,
        Value::Bool(_) | Value::Text(_) => return Err(wrong_type(ty, value)),
    };
    if let (true, Some(i)) = (tag.is_unscaled(), exact) {
        return Ok(Raw::Int(i));
    }
    let v = value.as_f64().ok_or_else(|| wrong_type(ty, value))?;
    if !v.is_finite() {
        return Err(EncodeError::NonFinite);
    }
    let raw = if tag.is_unscaled() {
        v
    } else {
        (v - tag.offset()) / tag.scale()
    };
    if !raw.is_finite() {
        return Err(EncodeError::NonFinite);
    }
    if ty.is_integer() && tag.is_unscaled() && raw.fract() != 0.0 {
        return Err(EncodeError::NotWhole {
            data_type: ty,
            value: v,
        });
    }
    Ok(Raw::Float(raw))
}

/// The raw value as an integer in `min..=max` (scaled values rounded, halves away from 0).
fn int_in(ty: DataType, raw: &Raw, min: i128, max: i128) -> Result<i128, EncodeError> {
    let out_of_range = |raw: String| EncodeError::OutOfRange {
        data_type: ty,
        raw,
        min: min.to_string(),
        max: max.to_string(),
    };
    let i = match raw {
        Raw::Int(i) => *i,
        Raw::Float(f) => {
            let r = f.round();
            // Beyond i128 it is out of every range anyway.
            if r < min as f64 || r > max as f64 {
                return Err(out_of_range(f.to_string()));
            }
            r as i128
        }
    };
    if i < min || i > max {
        return Err(out_of_range(i.to_string()));
    }
    Ok(i)
}

fn wrong_type(data_type: DataType, value: &Value) -> EncodeError {
    EncodeError::WrongType {
        data_type,
        value_kind: value.kind(),
    }
}

/// Registers as read from the wire, reordered into big-endian bytes (`A` first) for
/// `order`: what decoding does before reading the bytes as a number.
pub fn wire_to_be_bytes(order: WordOrder, words: &[u16]) -> Vec<u8> {
    order.to_be_bytes(words)
}

/// Big-endian bytes (`A` first) into registers in wire order: the inverse of
/// `WordOrder::to_be_bytes`.
pub(crate) fn from_be_bytes(order: WordOrder, bytes: &[u8]) -> Vec<u16> {
    let mut words: Vec<u16> = bytes
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]))
        .collect();
    if matches!(order, WordOrder::ByteSwap | WordOrder::LittleEndian) {
        words.iter_mut().for_each(|w| *w = w.swap_bytes());
    }
    if matches!(order, WordOrder::WordSwap | WordOrder::LittleEndian) {
        words.reverse();
    }
    words
}

#[cfg(test)]
#[path = "encode_tests.rs"]
mod tests;
