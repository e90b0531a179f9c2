//! One tag of a register map: where its bits or registers live and how to turn them into
//! a [`Value`](crate::model::Value).
//!
//! [`RegisterTag::new`] checks a [`TagSpec`] and returns every problem it finds, each
//! naming the configuration field it concerns, so a configuration loader can point at the
//! right line.

use crate::model::TagId;

use super::{ByteOrder, DataType, RegisterKind, WordOrder};

/// Highest Modbus protocol address.
pub const MAX_ADDRESS: u16 = u16::MAX;
/// Longest string, in bytes: what one read of 125 registers returns.
pub const MAX_STRING_LENGTH: u16 = 250;

/// An unchecked tag description, as read from configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct TagSpec {
    /// The tag.
    pub id: TagId,
    /// The table it is read from.
    pub kind: RegisterKind,
    /// 0-based protocol address of its first bit or register.
    pub address: u16,
    /// How its registers are encoded.
    pub data_type: DataType,
    /// Byte order for multi-register types.
    pub order: WordOrder,
    /// Multiplier applied to the raw value.
    pub scale: f64,
    /// Added after scaling.
    pub offset: f64,
    /// For `bool` on holding/input registers: the bit (0 = least significant) to read.
    pub bit: Option<u8>,
    /// For `string`: its length in bytes (0 otherwise).
    pub length: u16,
    /// For `string`: the order of the two bytes in each register.
    pub byte_order: ByteOrder,
}

impl TagSpec {
    /// A spec with big-endian order, scale 1 and offset 0.
    pub fn new(id: TagId, kind: RegisterKind, address: u16, data_type: DataType) -> Self {
        Self {
            id,
            kind,
            address,
            data_type,
            order: WordOrder::BigEndian,
            scale: 1.0,
            offset: 0.0,
            bit: None,
            length: 0,
            byte_order: ByteOrder::HighFirst,
        }
    }
}

/// Why a [`TagSpec`] is not a valid tag.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TagError {
    /// `bool` outside the bit tables, or a numeric type in a bit table.
    #[error("type {data_type} cannot be read from {kind} registers ({hint})")]
    TypeKind {
        /// The table.
        kind: RegisterKind,
        /// The type.
        data_type: DataType,
        /// What would be accepted.
        hint: &'static str,
    },
    /// The value's last register or bit lies beyond address 65535.
    #[error("address {address} + {width} {unit} runs past the last address {MAX_ADDRESS}")]
    AddressOverflow {
        /// First address.
        address: u16,
        /// Registers or bits needed.
        width: u16,
        /// `registers` or `bit`.
        unit: &'static str,
    },
    /// A non-default order on a single-register or bit type.
    #[error("order {order} has no meaning for the single-register type {data_type} (omit it)")]
    OrderNotApplicable {
        /// The type.
        data_type: DataType,
        /// The order given.
        order: WordOrder,
    },
    /// Scale or offset given for `bool` or `string`.
    #[error("{field} has no meaning for type {data_type} (omit it)")]
    NotNumeric {
        /// `scale` or `offset`.
        field: &'static str,
        /// The type.
        data_type: DataType,
    },
    /// Scale is zero, NaN or infinite.
    #[error("scale must be a finite, non-zero number (got {0})")]
    Scale(f64),
    /// Offset is NaN or infinite.
    #[error("offset must be a finite number (got {0})")]
    Offset(f64),
    /// `bit` outside 0..=15, or given where it has no meaning.
    #[error("{0}")]
    Bit(&'static str),
    /// `length` missing or out of range for a string, or given for another type.
    #[error("{0}")]
    Length(String),
    /// `byte_order` given for a type other than string.
    #[error("byte_order applies to type string only (omit it)")]
    ByteOrder,
}

impl TagError {
    /// The configuration field the problem concerns: `type`, `address`, `order`, `scale` or
    /// `offset`.
    pub fn field(&self) -> &'static str {
        match self {
            TagError::TypeKind { .. } => "type",
            TagError::AddressOverflow { .. } => "address",
            TagError::OrderNotApplicable { .. } => "order",
            TagError::NotNumeric { field, .. } => field,
            TagError::Scale(_) => "scale",
            TagError::Offset(_) => "offset",
            TagError::Bit(_) => "bit",
            TagError::Length(_) => "length",
            TagError::ByteOrder => "byte_order",
        }
    }
}

/// A checked tag: its type fits its table, it fits in the address space, and its scale and
/// offset are usable.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterTag {
    spec: TagSpec,
}

impl RegisterTag {
    /// Checks `spec`, returning every problem found.
    pub fn new(spec: TagSpec) -> Result<Self, Vec<TagError>> {
        let mut errors = Vec::new();
        let ty = spec.data_type;
        if spec.kind.is_bit() && ty != DataType::Bool {
            errors.push(TagError::TypeKind {
                kind: spec.kind,
                data_type: ty,
                hint: "coil and discrete hold type bool only",
            });
        }
        let bit_in_register = ty == DataType::Bool && !spec.kind.is_bit();
        match spec.bit {
            None if bit_in_register => errors.push(TagError::Bit(
                "type bool on holding or input registers needs bit = 0..15",
            )),
            Some(b) if bit_in_register && b > 15 => {
                errors.push(TagError::Bit("bit must be between 0 and 15"))
            }
            Some(_) if !bit_in_register => errors.push(TagError::Bit(
                "bit applies to type bool on holding or input registers only (omit it)",
            )),
            _ => {}
        }
        if ty == DataType::String {
            if spec.length == 0 || spec.length > MAX_STRING_LENGTH {
                errors.push(TagError::Length(format!(
                    "type string needs length = 1..{MAX_STRING_LENGTH} (bytes), got {}",
                    spec.length
                )));
            }
        } else {
            if spec.length != 0 {
                errors.push(TagError::Length(
                    "length applies to type string only (omit it)".to_owned(),
                ));
            }
            if spec.byte_order != ByteOrder::HighFirst {
                errors.push(TagError::ByteOrder);
            }
        }
        let width = tag_width(&spec);
        if u32::from(spec.address) + u32::from(width) - 1 > u32::from(MAX_ADDRESS) {
            let unit = if spec.kind.is_bit() {
                "bit"
            } else {
                "registers"
            };
            errors.push(TagError::AddressOverflow {
                address: spec.address,
                width,
                unit,
            });
        }
        if !ty.is_multi_register() && spec.order != WordOrder::BigEndian {
            errors.push(TagError::OrderNotApplicable {
                data_type: ty,
                order: spec.order,
            });
        }
        if !ty.is_numeric() {
            if spec.scale != 1.0 {
                errors.push(TagError::NotNumeric {
                    field: "scale",
                    data_type: ty,
                });
            }
            if spec.offset != 0.0 {
                errors.push(TagError::NotNumeric {
                    field: "offset",
                    data_type: ty,
                });
            }
        } else {
            if !spec.scale.is_finite() || spec.scale == 0.0 {
                errors.push(TagError::Scale(spec.scale));
            }
            if !spec.offset.is_finite() {
                errors.push(TagError::Offset(spec.offset));
            }
        }
        if errors.is_empty() {
            Ok(Self { spec })
        } else {
            Err(errors)
        }
    }

    /// The tag id.
    pub fn id(&self) -> &TagId {
        &self.spec.id
    }
    /// The table.
    pub fn kind(&self) -> RegisterKind {
        self.spec.kind
    }
    /// First address.
    pub fn address(&self) -> u16 {
        self.spec.address
    }
    /// The encoded type.
    pub fn data_type(&self) -> DataType {
        self.spec.data_type
    }
    /// Byte order of multi-register values.
    pub fn order(&self) -> WordOrder {
        self.spec.order
    }
    /// Multiplier.
    pub fn scale(&self) -> f64 {
        self.spec.scale
    }
    /// Offset added after scaling.
    pub fn offset(&self) -> f64 {
        self.spec.offset
    }
    /// Bits or registers occupied.
    pub fn width(&self) -> u16 {
        tag_width(&self.spec)
    }
    /// For a bit-in-register `bool`, the bit read.
    pub fn bit(&self) -> Option<u8> {
        self.spec.bit
    }
    /// For a `string`, its length in bytes.
    pub fn length(&self) -> u16 {
        self.spec.length
    }
    /// For a `string`, the byte order within each register.
    pub fn byte_order(&self) -> ByteOrder {
        self.spec.byte_order
    }
    /// Whether scale is 1 and offset 0 (integers then keep their integer value).
    pub fn is_unscaled(&self) -> bool {
        self.spec.scale == 1.0 && self.spec.offset == 0.0
    }
    /// The spec this tag was built from.
    pub fn spec(&self) -> &TagSpec {
        &self.spec
    }
}

/// Bits or registers `spec` occupies (at least 1).
fn tag_width(spec: &TagSpec) -> u16 {
    if spec.kind.is_bit() {
        1
    } else if spec.data_type == DataType::String {
        spec.length.div_ceil(2).max(1)
    } else {
        spec.data_type.width()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn spec(kind: RegisterKind, address: u16, ty: DataType) -> TagSpec {
        TagSpec::new(TagId::new("s/a/l/d/t").unwrap(), kind, address, ty)
    }

    #[test]
    fn accepts_well_formed_tags() {
        let t = RegisterTag::new(spec(RegisterKind::Input, 65532, DataType::F64)).unwrap();
        assert_eq!(t.width(), 4);
        let t = RegisterTag::new(spec(RegisterKind::Coil, 65535, DataType::Bool)).unwrap();
        assert_eq!(t.width(), 1);
        assert!(t.is_unscaled());
    }

    #[test]
    fn reports_every_problem_with_its_field() {
        let mut s = spec(RegisterKind::Coil, 65535, DataType::U32);
        s.order = WordOrder::WordSwap;
        s.scale = 0.0;
        s.offset = f64::NAN;
        let errors = RegisterTag::new(s).unwrap_err();
        let fields: Vec<_> = errors.iter().map(TagError::field).collect();
        assert_eq!(fields, ["type", "scale", "offset"]);

        let mut s = spec(RegisterKind::Holding, 65534, DataType::U32);
        s.scale = 2.0;
        assert!(RegisterTag::new(s.clone()).is_ok());
        s.address = 65535;
        let errors = RegisterTag::new(s).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field(), "address");
        assert!(errors[0].to_string().contains("65535"), "{}", errors[0]);

        let mut s = spec(RegisterKind::Holding, 0, DataType::Bool);
        s.scale = 2.0;
        let fields: Vec<_> = RegisterTag::new(s)
            .unwrap_err()
            .iter()
            .map(TagError::field)
            .collect();
        assert_eq!(fields, ["bit", "scale"]);

        let mut s = spec(RegisterKind::Input, 0, DataType::U16);
        s.order = WordOrder::ByteSwap;
        assert_eq!(RegisterTag::new(s).unwrap_err()[0].field(), "order");
    }

    #[test]
    fn bit_in_register_and_strings() {
        let fields = |s: TagSpec| -> Vec<&'static str> {
            RegisterTag::new(s)
                .err()
                .unwrap_or_default()
                .iter()
                .map(TagError::field)
                .collect()
        };
        let mut s = spec(RegisterKind::Holding, 0, DataType::Bool);
        assert_eq!(fields(s.clone()), ["bit"]);
        s.bit = Some(16);
        assert_eq!(fields(s.clone()), ["bit"]);
        s.bit = Some(15);
        assert_eq!(RegisterTag::new(s).unwrap().width(), 1);
        let mut s = spec(RegisterKind::Coil, 0, DataType::Bool);
        s.bit = Some(3);
        assert_eq!(fields(s), ["bit"]);

        let mut s = spec(RegisterKind::Holding, 10, DataType::String);
        assert_eq!(fields(s.clone()), ["length"]);
        s.length = 5;
        s.byte_order = ByteOrder::LowFirst;
        assert_eq!(RegisterTag::new(s.clone()).unwrap().width(), 3);
        s.scale = 2.0;
        assert_eq!(fields(s), ["scale"]);
        let mut s = spec(RegisterKind::Holding, 0, DataType::U16);
        s.length = 4;
        s.byte_order = ByteOrder::LowFirst;
        assert_eq!(fields(s), ["length", "byte_order"]);
        let mut s = spec(RegisterKind::Holding, 65534, DataType::String);
        s.length = 6;
        assert_eq!(fields(s), ["address"]);
    }
}
