//! Vocabulary of the register map: which Modbus table a signal lives in, how
//! its value is typed, and in which word order 32-bit values are laid out.
//!
//! These enums appear both in the const layout table (`layout.rs`) and in the
//! generated map file, so their serde spelling is part of the map contract.

use serde::{Deserialize, Serialize};

/// The four Modbus data tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegisterKind {
    /// Read/write single bits (FC1, FC5, FC15).
    Coil,
    /// Read-only single bits (FC2).
    Discrete,
    /// Read-only 16-bit registers (FC4).
    Input,
    /// Read/write 16-bit registers (FC3, FC6, FC16).
    Holding,
}

impl RegisterKind {
    /// True for the single-bit tables (coils and discrete inputs).
    pub fn is_bit(self) -> bool {
        matches!(self, Self::Coil | Self::Discrete)
    }

    /// The spelling used in the map file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Coil => "coil",
            Self::Discrete => "discrete",
            Self::Input => "input",
            Self::Holding => "holding",
        }
    }
}

/// The type a signal is encoded as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    /// One bit in a coil or discrete input.
    Bool,
    /// One unsigned 16-bit register.
    U16,
    /// One signed (two's complement) 16-bit register.
    I16,
    /// Two registers holding an unsigned 32-bit integer.
    U32,
    /// Two registers holding a signed 32-bit integer.
    I32,
    /// Two registers holding an IEEE-754 single precision float.
    F32,
}

impl DataType {
    /// Number of 16-bit registers (or bits, for `Bool`) the value occupies.
    pub fn width(self) -> u16 {
        match self {
            Self::Bool | Self::U16 | Self::I16 => 1,
            Self::U32 | Self::I32 | Self::F32 => 2,
        }
    }

    /// True for the integer types that carry scale and offset.
    pub fn is_integer(self) -> bool {
        matches!(self, Self::U16 | Self::I16 | Self::U32 | Self::I32)
    }

    /// The spelling used in the map file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bool => "bool",
            Self::U16 => "u16",
            Self::I16 => "i16",
            Self::U32 => "u32",
            Self::I32 => "i32",
            Self::F32 => "f32",
        }
    }
}

/// Byte order of a 32-bit value spread over two registers.
///
/// The letters name the bytes of the big-endian value `A B C D` (A most
/// significant) in the order they appear on the wire, register 0 first.
/// Single-register types always use `ABCD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WordOrder {
    /// Big-endian: high word first, `[AB, CD]`.
    #[serde(rename = "ABCD")]
    Abcd,
    /// Word swap: low word first, `[CD, AB]`.
    #[serde(rename = "CDAB")]
    Cdab,
    /// Byte swap within each word: `[BA, DC]`.
    #[serde(rename = "BADC")]
    Badc,
    /// Little-endian: `[DC, BA]`.
    #[serde(rename = "DCBA")]
    Dcba,
}

impl WordOrder {
    /// Splits a 32-bit value into the two registers as they appear on the wire.
    pub fn split(self, value: u32) -> [u16; 2] {
        let [a, b, c, d] = value.to_be_bytes();
        match self {
            Self::Abcd => [u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d])],
            Self::Cdab => [u16::from_be_bytes([c, d]), u16::from_be_bytes([a, b])],
            Self::Badc => [u16::from_be_bytes([b, a]), u16::from_be_bytes([d, c])],
            Self::Dcba => [u16::from_be_bytes([d, c]), u16::from_be_bytes([b, a])],
        }
    }

    /// Joins two registers, as read from the wire, back into the 32-bit value.
    pub fn join(self, words: [u16; 2]) -> u32 {
        let [w0h, w0l] = words[0].to_be_bytes();
        let [w1h, w1l] = words[1].to_be_bytes();
        let bytes = match self {
            Self::Abcd => [w0h, w0l, w1h, w1l],
            Self::Cdab => [w1h, w1l, w0h, w0l],
            Self::Badc => [w0l, w0h, w1l, w1h],
            Self::Dcba => [w1l, w1h, w0l, w0h],
        };
        u32::from_be_bytes(bytes)
    }

    /// The spelling used in the map file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Abcd => "ABCD",
            Self::Cdab => "CDAB",
            Self::Badc => "BADC",
            Self::Dcba => "DCBA",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [WordOrder; 4] = [
        WordOrder::Abcd,
        WordOrder::Cdab,
        WordOrder::Badc,
        WordOrder::Dcba,
    ];

    #[test]
    fn split_matches_hand_written_pairs() {
        let v = 0x1122_3344;
        assert_eq!(WordOrder::Abcd.split(v), [0x1122, 0x3344]);
        assert_eq!(WordOrder::Cdab.split(v), [0x3344, 0x1122]);
        assert_eq!(WordOrder::Badc.split(v), [0x2211, 0x4433]);
        assert_eq!(WordOrder::Dcba.split(v), [0x4433, 0x2211]);
    }

    #[test]
    fn join_inverts_split() {
        for order in ALL {
            for v in [0, 1, 0x1122_3344, u32::MAX, 0x8000_0001] {
                assert_eq!(order.join(order.split(v)), v, "{order:?}");
            }
        }
    }

    #[test]
    fn widths() {
        assert_eq!(DataType::Bool.width(), 1);
        assert_eq!(DataType::I16.width(), 1);
        assert_eq!(DataType::F32.width(), 2);
        assert!(RegisterKind::Coil.is_bit());
        assert!(!RegisterKind::Holding.is_bit());
    }
}
