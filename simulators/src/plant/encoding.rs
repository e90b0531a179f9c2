//! Conversion between physical values, raw register contents and the
//! engineering values a correct client decodes.
//!
//! Integer types: `raw = round((value - offset) / scale)`, clamped to the
//! type's range; a client computes `raw * scale + offset`, or the raw integer
//! itself when scale is 1 and offset 0. `f32` values are stored as IEEE-754
//! bits split over two registers in the signal's word order. Pure functions,
//! no I/O.

use super::layout::SignalDef;
use super::register::DataType;

/// A physical value produced by a machine model, before encoding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum SignalValue {
    /// A state bit.
    Bool(bool),
    /// A measurement or counter in engineering units.
    Number(f64),
}

/// A value as it is stored in the register image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RawValue {
    /// Coil or discrete input.
    Bool(bool),
    /// One register, unsigned.
    U16(u16),
    /// One register, two's complement.
    I16(i16),
    /// Two registers, unsigned.
    U32(u32),
    /// Two registers, two's complement.
    I32(i32),
    /// Two registers, IEEE-754 single precision.
    F32(f32),
}

/// The value a correct client computes after decoding a signal's registers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EngValue {
    /// A bit signal.
    Bool(bool),
    /// An integer signal with scale 1 and offset 0.
    Int(i64),
    /// A scaled integer signal or a float signal.
    Float(f64),
}

impl EngValue {
    /// The value as a float (`true` = 1.0), convenient for range checks.
    pub fn as_f64(self) -> f64 {
        match self {
            Self::Bool(b) => f64::from(u8::from(b)),
            // Precision loss only above 2^53, far outside any 32-bit register.
            #[allow(clippy::cast_precision_loss)]
            Self::Int(i) => i as f64,
            Self::Float(f) => f,
        }
    }
}

/// Encodes a physical value for `def`, rounding and clamping integers.
pub(crate) fn encode(def: &SignalDef, value: SignalValue) -> RawValue {
    let number = match value {
        SignalValue::Bool(b) => f64::from(u8::from(b)),
        SignalValue::Number(n) => n,
    };
    let scaled = ((number - def.offset) / def.scale).round();
    // `as` from f64 saturates at the target range and maps NaN to 0, which
    // is exactly the clamping the encoding promises.
    match def.data_type {
        DataType::Bool => RawValue::Bool(match value {
            SignalValue::Bool(b) => b,
            SignalValue::Number(n) => n != 0.0,
        }),
        DataType::U16 => RawValue::U16(scaled as u16),
        DataType::I16 => RawValue::I16(scaled as i16),
        DataType::U32 => RawValue::U32(scaled as u32),
        DataType::I32 => RawValue::I32(scaled as i32),
        DataType::F32 => RawValue::F32(number as f32),
    }
}

impl RawValue {
    /// The registers holding this value in `def`'s word order; `None` for bits.
    pub fn to_words(self, def: &SignalDef) -> Option<Vec<u16>> {
        let words = match self {
            Self::Bool(_) => return None,
            Self::U16(v) => vec![v],
            Self::I16(v) => vec![u16::from_be_bytes(v.to_be_bytes())],
            Self::U32(v) => def.order.split(v).to_vec(),
            Self::I32(v) => def
                .order
                .split(u32::from_be_bytes(v.to_be_bytes()))
                .to_vec(),
            Self::F32(v) => def.order.split(v.to_bits()).to_vec(),
        };
        Some(words)
    }

    /// Decodes registers read from the wire; `None` if `words` is too short
    /// or `def` is a bit signal.
    pub fn from_words(def: &SignalDef, words: &[u16]) -> Option<Self> {
        let first = *words.first()?;
        let pair = || -> Option<u32> { Some(def.order.join([first, *words.get(1)?])) };
        Some(match def.data_type {
            DataType::Bool => return None,
            DataType::U16 => Self::U16(first),
            DataType::I16 => Self::I16(i16::from_be_bytes(first.to_be_bytes())),
            DataType::U32 => Self::U32(pair()?),
            DataType::I32 => Self::I32(i32::from_be_bytes(pair()?.to_be_bytes())),
            DataType::F32 => Self::F32(f32::from_bits(pair()?)),
        })
    }

    /// The engineering value a correct client computes from this raw value.
    pub fn to_eng(self, def: &SignalDef) -> EngValue {
        let int = match self {
            Self::Bool(b) => return EngValue::Bool(b),
            Self::F32(f) => return EngValue::Float(f64::from(f)),
            Self::U16(v) => i64::from(v),
            Self::I16(v) => i64::from(v),
            Self::U32(v) => i64::from(v),
            Self::I32(v) => i64::from(v),
        };
        if def.scale == 1.0 && def.offset == 0.0 {
            EngValue::Int(int)
        } else {
            // Exact: every 32-bit integer is representable in f64.
            #[allow(clippy::cast_precision_loss)]
            let raw = int as f64;
            EngValue::Float(raw * def.scale + def.offset)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plant::register::{RegisterKind, WordOrder};

    fn def(data_type: DataType, order: WordOrder, scale: f64, offset: f64) -> SignalDef {
        SignalDef {
            name: "x",
            register: RegisterKind::Input,
            address: 0,
            data_type,
            order,
            scale,
            offset,
            unit: "",
        }
    }

    fn words(data_type: DataType, order: WordOrder, v: f64) -> Vec<u16> {
        let d = def(data_type, order, 1.0, 0.0);
        encode(&d, SignalValue::Number(v))
            .to_words(&d)
            .unwrap_or_default()
    }

    #[test]
    fn f32_in_all_orders() {
        // 1234.5678f32 = 0x449A522B
        let v = f64::from(1234.5678f32);
        assert_eq!(words(DataType::F32, WordOrder::Abcd, v), [0x449A, 0x522B]);
        assert_eq!(words(DataType::F32, WordOrder::Cdab, v), [0x522B, 0x449A]);
        assert_eq!(words(DataType::F32, WordOrder::Badc, v), [0x9A44, 0x2B52]);
        assert_eq!(words(DataType::F32, WordOrder::Dcba, v), [0x2B52, 0x9A44]);
    }

    #[test]
    fn i32_and_u32_in_all_orders() {
        // -123456789 = 0xF8A432EB
        let v = -123_456_789.0;
        assert_eq!(words(DataType::I32, WordOrder::Abcd, v), [0xF8A4, 0x32EB]);
        assert_eq!(words(DataType::I32, WordOrder::Cdab, v), [0x32EB, 0xF8A4]);
        assert_eq!(words(DataType::I32, WordOrder::Badc, v), [0xA4F8, 0xEB32]);
        assert_eq!(words(DataType::I32, WordOrder::Dcba, v), [0xEB32, 0xA4F8]);
        // 305419896 = 0x12345678
        let v = 305_419_896.0;
        assert_eq!(words(DataType::U32, WordOrder::Abcd, v), [0x1234, 0x5678]);
        assert_eq!(words(DataType::U32, WordOrder::Cdab, v), [0x5678, 0x1234]);
        assert_eq!(words(DataType::U32, WordOrder::Badc, v), [0x3412, 0x7856]);
        assert_eq!(words(DataType::U32, WordOrder::Dcba, v), [0x7856, 0x3412]);
    }

    #[test]
    fn integers_round_scale_and_clamp() {
        let current = def(DataType::U16, WordOrder::Abcd, 0.01, 0.0);
        assert_eq!(
            encode(&current, SignalValue::Number(12.345_6)),
            RawValue::U16(1235)
        );
        assert_eq!(
            encode(&current, SignalValue::Number(-3.0)),
            RawValue::U16(0)
        );
        assert_eq!(
            encode(&current, SignalValue::Number(1e9)),
            RawValue::U16(u16::MAX)
        );
        let oil = def(DataType::I16, WordOrder::Abcd, 0.1, 0.0);
        let raw = encode(&oil, SignalValue::Number(-12.34));
        assert_eq!(raw, RawValue::I16(-123));
        assert_eq!(raw.to_words(&oil), Some(vec![0xFF85]));
        let with_offset = def(DataType::U16, WordOrder::Abcd, 0.5, -40.0);
        let raw = encode(&with_offset, SignalValue::Number(21.0));
        assert_eq!(raw, RawValue::U16(122));
        assert_eq!(raw.to_eng(&with_offset), EngValue::Float(21.0));
    }

    #[test]
    fn engineering_values_follow_scale_rules() {
        let plain = def(DataType::U32, WordOrder::Cdab, 1.0, 0.0);
        assert_eq!(RawValue::U32(7).to_eng(&plain), EngValue::Int(7));
        let scaled = def(DataType::U32, WordOrder::Cdab, 0.1, 0.0);
        assert_eq!(
            RawValue::U32(12_345).to_eng(&scaled),
            EngValue::Float(12_345.0 * 0.1)
        );
        let f = def(DataType::F32, WordOrder::Dcba, 1.0, 0.0);
        assert_eq!(RawValue::F32(1.5).to_eng(&f), EngValue::Float(1.5));
        assert_eq!(EngValue::Bool(true).as_f64(), 1.0);
    }

    #[test]
    fn decode_inverts_encode() {
        for order in [
            WordOrder::Abcd,
            WordOrder::Cdab,
            WordOrder::Badc,
            WordOrder::Dcba,
        ] {
            for (ty, v) in [
                (DataType::F32, -0.125),
                (DataType::I32, -5.0),
                (DataType::U32, 4_000_000_000.0),
            ] {
                let d = def(ty, order, 1.0, 0.0);
                let raw = encode(&d, SignalValue::Number(v));
                let w = raw.to_words(&d).unwrap_or_default();
                assert_eq!(RawValue::from_words(&d, &w), Some(raw));
            }
        }
        let d = def(DataType::F32, WordOrder::Abcd, 1.0, 0.0);
        assert_eq!(RawValue::from_words(&d, &[1]), None);
    }
}
