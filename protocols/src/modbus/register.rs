//! Vocabulary of a register map: which Modbus table a tag lives in, which type its
//! registers hold, and in which order the bytes of a multi-register value appear.
//!
//! The spellings returned by `as_str` (and accepted by `parse`) are the ones used in
//! agent configuration files and in the simulator's register map files.

use std::fmt;

/// The four Modbus data tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegisterKind {
    /// Read/write single bits (read with function code 1).
    Coil,
    /// Read-only single bits (function code 2).
    Discrete,
    /// Read/write 16-bit registers (function code 3).
    Holding,
    /// Read-only 16-bit registers (function code 4).
    Input,
}

impl RegisterKind {
    /// Every kind, in function-code order.
    pub const ALL: [Self; 4] = [Self::Coil, Self::Discrete, Self::Holding, Self::Input];

    /// True for the single-bit tables (coils and discrete inputs).
    pub fn is_bit(self) -> bool {
        matches!(self, Self::Coil | Self::Discrete)
    }

    /// The Modbus function code that reads this table.
    pub fn read_function_code(self) -> u8 {
        match self {
            Self::Coil => 0x01,
            Self::Discrete => 0x02,
            Self::Holding => 0x03,
            Self::Input => 0x04,
        }
    }

    /// The configuration spelling: `coil`, `discrete`, `input`, `holding`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Coil => "coil",
            Self::Discrete => "discrete",
            Self::Holding => "holding",
            Self::Input => "input",
        }
    }

    /// Parses [`RegisterKind::as_str`] output.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for RegisterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The type a tag's bits or registers encode.
///
/// `Bool` is one coil or discrete input, or one bit of a holding/input register (the tag's
/// `bit`). `String` is a fixed number of bytes (the tag's `length`), two per register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// One bit of a coil or discrete input.
    Bool,
    /// One register, unsigned.
    U16,
    /// One register, two's complement.
    I16,
    /// Two registers, unsigned.
    U32,
    /// Two registers, two's complement.
    I32,
    /// Two registers, IEEE-754 single precision.
    F32,
    /// Four registers, unsigned.
    U64,
    /// Four registers, two's complement.
    I64,
    /// Four registers, IEEE-754 double precision.
    F64,
    /// A fixed-length string: `length` bytes in `ceil(length / 2)` registers.
    String,
}

impl DataType {
    /// Every type, in the order error messages list them.
    pub const ALL: [Self; 10] = [
        Self::Bool,
        Self::U16,
        Self::I16,
        Self::U32,
        Self::I32,
        Self::F32,
        Self::U64,
        Self::I64,
        Self::F64,
        Self::String,
    ];

    /// How many bits (for [`DataType::Bool`]) or 16-bit registers the value occupies; for
    /// [`DataType::String`], whose width depends on its length, 1 (see
    /// [`RegisterTag::width`](super::RegisterTag::width)).
    pub fn width(self) -> u16 {
        match self {
            Self::Bool | Self::U16 | Self::I16 | Self::String => 1,
            Self::U32 | Self::I32 | Self::F32 => 2,
            Self::U64 | Self::I64 | Self::F64 => 4,
        }
    }

    /// True for the integer types (the ones that become `Int`/`UInt` when unscaled).
    pub fn is_integer(self) -> bool {
        !matches!(self, Self::Bool | Self::F32 | Self::F64 | Self::String)
    }

    /// True for the types that take a scale and offset (all but `bool` and `string`).
    pub fn is_numeric(self) -> bool {
        !matches!(self, Self::Bool | Self::String)
    }

    /// True when the value spans several registers, so a [`WordOrder`] applies.
    pub fn is_multi_register(self) -> bool {
        self.width() > 1 && self != Self::String
    }

    /// The configuration spelling: `bool`, `u16`, ..., `f64`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bool => "bool",
            Self::U16 => "u16",
            Self::I16 => "i16",
            Self::U32 => "u32",
            Self::I32 => "i32",
            Self::F32 => "f32",
            Self::U64 => "u64",
            Self::I64 => "i64",
            Self::F64 => "f64",
            Self::String => "string",
        }
    }

    /// Parses [`DataType::as_str`] output.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Byte order of a value spread over several registers.
///
/// The letters name the bytes of the big-endian value (`A` most significant) in the order
/// they appear on the wire, first register first. The 32-bit names (`ABCD`, `CDAB`, `BADC`,
/// `DCBA`) and the 64-bit names (`ABCDEFGH`, `GHEFCDAB`, `BADCFEHG`, `HGFEDCBA`) describe the
/// same four patterns, and either spelling is accepted for either width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WordOrder {
    /// Big-endian, high word first: `ABCD` / `ABCDEFGH`.
    #[default]
    BigEndian,
    /// Words reversed, bytes big-endian within each word: `CDAB` / `GHEFCDAB`.
    WordSwap,
    /// Words in order, bytes swapped within each word: `BADC` / `BADCFEHG`.
    ByteSwap,
    /// Little-endian: `DCBA` / `HGFEDCBA`.
    LittleEndian,
}

impl WordOrder {
    /// Every order.
    pub const ALL: [Self; 4] = [
        Self::BigEndian,
        Self::WordSwap,
        Self::ByteSwap,
        Self::LittleEndian,
    ];

    /// The 32-bit spelling (`ABCD`, `CDAB`, `BADC`, `DCBA`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BigEndian => "ABCD",
            Self::WordSwap => "CDAB",
            Self::ByteSwap => "BADC",
            Self::LittleEndian => "DCBA",
        }
    }

    /// The 64-bit spelling (`ABCDEFGH`, `GHEFCDAB`, `BADCFEHG`, `HGFEDCBA`).
    pub fn as_str_64(self) -> &'static str {
        match self {
            Self::BigEndian => "ABCDEFGH",
            Self::WordSwap => "GHEFCDAB",
            Self::ByteSwap => "BADCFEHG",
            Self::LittleEndian => "HGFEDCBA",
        }
    }

    /// The spelling that matches `data_type`'s width.
    pub fn name_for(self, data_type: DataType) -> &'static str {
        if data_type.width() == 4 {
            self.as_str_64()
        } else {
            self.as_str()
        }
    }

    /// Parses a 32-bit or 64-bit spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == s || o.as_str_64() == s)
    }

    /// Reorders registers as read from the wire into big-endian bytes.
    pub(crate) fn to_be_bytes(self, words: &[u16]) -> Vec<u8> {
        let reverse_words = matches!(self, Self::WordSwap | Self::LittleEndian);
        let swap_bytes = matches!(self, Self::ByteSwap | Self::LittleEndian);
        let mut out = Vec::with_capacity(words.len() * 2);
        let mut push = |w: u16| {
            let w = if swap_bytes { w.swap_bytes() } else { w };
            out.extend_from_slice(&w.to_be_bytes());
        };
        if reverse_words {
            words.iter().rev().copied().for_each(&mut push);
        } else {
            words.iter().copied().for_each(&mut push);
        }
        out
    }
}

impl fmt::Display for WordOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Order of the two bytes of a string register: `AB` (high byte first, the default) or
/// `BA` (low byte first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ByteOrder {
    /// High byte first: `AB`.
    #[default]
    HighFirst,
    /// Low byte first: `BA`.
    LowFirst,
}

impl ByteOrder {
    /// Both orders.
    pub const ALL: [Self; 2] = [Self::HighFirst, Self::LowFirst];

    /// The configuration spelling, `AB` or `BA`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HighFirst => "AB",
            Self::LowFirst => "BA",
        }
    }

    /// Parses [`ByteOrder::as_str`] output.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// The bytes of `words` in string order.
    pub(crate) fn bytes(self, words: &[u16]) -> Vec<u8> {
        words
            .iter()
            .flat_map(|w| match self {
                Self::HighFirst => w.to_be_bytes(),
                Self::LowFirst => w.to_le_bytes(),
            })
            .collect()
    }
}

impl fmt::Display for ByteOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for k in RegisterKind::ALL {
            assert_eq!(RegisterKind::parse(k.as_str()), Some(k));
        }
        for t in DataType::ALL {
            assert_eq!(DataType::parse(t.as_str()), Some(t));
        }
        for o in WordOrder::ALL {
            assert_eq!(WordOrder::parse(o.as_str()), Some(o));
            assert_eq!(WordOrder::parse(o.as_str_64()), Some(o));
        }
        for o in ByteOrder::ALL {
            assert_eq!(ByteOrder::parse(o.as_str()), Some(o));
        }
        assert_eq!(ByteOrder::HighFirst.bytes(&[0x4142]), b"AB");
        assert_eq!(ByteOrder::LowFirst.bytes(&[0x4142]), b"BA");
        assert!(!DataType::String.is_multi_register() && !DataType::String.is_numeric());
        assert_eq!(DataType::parse("f33"), None);
        assert_eq!(WordOrder::parse("abcd"), None);
    }

    #[test]
    fn function_codes_and_widths() {
        assert_eq!(RegisterKind::Coil.read_function_code(), 1);
        assert_eq!(RegisterKind::Discrete.read_function_code(), 2);
        assert_eq!(RegisterKind::Holding.read_function_code(), 3);
        assert_eq!(RegisterKind::Input.read_function_code(), 4);
        assert_eq!(DataType::F64.width(), 4);
        assert_eq!(DataType::I32.width(), 2);
        assert!(DataType::U64.is_integer() && !DataType::F32.is_integer());
    }

    #[test]
    fn byte_orders_for_32_and_64_bits() {
        let be = [0xA1, 0xB2, 0xC3, 0xD4];
        assert_eq!(WordOrder::BigEndian.to_be_bytes(&[0xA1B2, 0xC3D4]), be);
        assert_eq!(WordOrder::WordSwap.to_be_bytes(&[0xC3D4, 0xA1B2]), be);
        assert_eq!(WordOrder::ByteSwap.to_be_bytes(&[0xB2A1, 0xD4C3]), be);
        assert_eq!(WordOrder::LittleEndian.to_be_bytes(&[0xD4C3, 0xB2A1]), be);
        let be64 = [1, 2, 3, 4, 5, 6, 7, 8];
        let ab = 0x0102;
        let cd = 0x0304;
        let ef = 0x0506;
        let gh = 0x0708;
        assert_eq!(WordOrder::BigEndian.to_be_bytes(&[ab, cd, ef, gh]), be64);
        assert_eq!(WordOrder::WordSwap.to_be_bytes(&[gh, ef, cd, ab]), be64);
        assert_eq!(
            WordOrder::ByteSwap.to_be_bytes(&[0x0201, 0x0403, 0x0605, 0x0807]),
            be64
        );
        assert_eq!(
            WordOrder::LittleEndian.to_be_bytes(&[0x0807, 0x0605, 0x0403, 0x0201]),
            be64
        );
    }
}
