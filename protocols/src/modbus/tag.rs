//! One tag of a register map: where its bits or registers live and how to turn them into
//! a [`Value`](crate::model::Value).
//!
//! [`RegisterTag::new`] checks a [`TagSpec`] and returns every problem it finds, each
//! naming the configuration field it concerns, so a configuration loader can point at the
//! right line.

use crate::model::TagId;

use super::{DataType, RegisterKind, WordOrder};

/// Highest Modbus protocol address.
pub const MAX_ADDRESS: u16 = u16::MAX;

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
    /// Scale or offset given for `bool`.
    #[error("{field} has no meaning for type bool (omit it)")]
    NotNumeric {
        /// `scale` or `offset`.
        field: &'static str,
    },
    /// Scale is zero, NaN or infinite.
    #[error("scale must be a finite, non-zero number (got {0})")]
    Scale(f64),
    /// Offset is NaN or infinite.
    #[error("offset must be a finite number (got {0})")]
    Offset(f64),
}

impl TagError {
    /// The configuration field the problem concerns: `type`, `address`, `order`, `scale` or
    /// `offset`.
    pub fn field(&self) -> &'static str {
        match self {
            TagError::TypeKind { .. } => "type",
            TagError::AddressOverflow { .. } => "address",
            TagError::OrderNotApplicable { .. } => "order",
            TagError::NotNumeric { field } => field,
            TagError::Scale(_) => "scale",
            TagError::Offset(_) => "offset",
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
        if spec.kind.is_bit() != (ty == DataType::Bool) {
            let hint = if spec.kind.is_bit() {
                "coil and discrete hold type bool only"
            } else {
                "type bool needs register coil or discrete"
            };
            errors.push(TagError::TypeKind {
                kind: spec.kind,
                data_type: ty,
                hint,
            });
        }
        let width = if spec.kind.is_bit() { 1 } else { ty.width() };
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
        if ty == DataType::Bool {
            if spec.scale != 1.0 {
                errors.push(TagError::NotNumeric { field: "scale" });
            }
            if spec.offset != 0.0 {
                errors.push(TagError::NotNumeric { field: "offset" });
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
        if self.spec.kind.is_bit() {
            1
        } else {
            self.spec.data_type.width()
        }
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
        assert_eq!(fields, ["type", "scale"]);

        let mut s = spec(RegisterKind::Input, 0, DataType::U16);
        s.order = WordOrder::ByteSwap;
        assert_eq!(RegisterTag::new(s).unwrap_err()[0].field(), "order");
    }
}
