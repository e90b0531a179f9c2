//! Writes: which Modbus request puts an encoded value into a tag, and executing it on a
//! tokio-modbus client context with a timeout.
//!
//! Function codes: a single coil is FC5, a single holding register FC6, several coils FC15
//! and several registers FC16 (a 32- or 64-bit value is always written in one FC16 request,
//! never as two FC6 writes a reader could observe half-done). Only coils and holding
//! registers are writable; discrete inputs and input registers are read-only in Modbus.
//!
//! A `bool` tag on a bit of a holding register is a read-modify-write
//! ([`WriteAction::SetBit`]): the register is read, the bit changed, and the whole register
//! written back with FC6. Race: if another master (an HMI, the PLC program) changes another
//! bit of that register between our read and our write, its change is overwritten. The
//! window is one request round trip; FC22 (mask write) would close it but many devices lack
//! it, so the agent does not rely on it. Avoid bit-writes to registers others write.
//!
//! [`WriteAction::for_tag`] is pure; `execute` (crate-private) is the only code that talks
//! to the device, and it maps failures the same way reads do: a device exception comes back
//! as `Ok(Err(Exception))` (connection kept), a timeout or transport failure as
//! `Err(DriverError)` (the caller drops the connection).

use std::time::Duration;

use super::{Encoded, PlannedTag, ReadRequest, RegisterKind, RegisterTag};

/// What one write request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteData {
    /// Coil states, first address first.
    Coils(Vec<bool>),
    /// Register values, in wire order.
    Registers(Vec<u16>),
}

/// One write: a contiguous range of coils or holding registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteRequest {
    /// First address.
    pub start: u16,
    /// What to write there.
    pub data: WriteData,
}

/// Why a tag cannot be written at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteTargetError {
    /// Discrete inputs and input registers are read-only.
    #[error("{kind} registers are read-only in Modbus (only coil and holding can be written)")]
    ReadOnlyTable {
        /// The tag's table.
        kind: RegisterKind,
    },
    /// The encoded value does not match the table (a bit for registers or the reverse).
    #[error("encoded value does not fit {kind} registers")]
    Shape {
        /// The tag's table.
        kind: RegisterKind,
    },
}

/// How a tag is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteAction {
    /// One request.
    Request(WriteRequest),
    /// Read holding register `address`, set or clear `bit`, write it back (FC6).
    SetBit {
        /// The register.
        address: u16,
        /// The bit (0 = least significant).
        bit: u8,
        /// Its new state.
        value: bool,
    },
}

impl WriteAction {
    /// How to write `encoded` into `tag`.
    pub fn for_tag(tag: &RegisterTag, encoded: Encoded) -> Result<Self, WriteTargetError> {
        let kind = tag.kind();
        let data = match (kind, encoded) {
            (RegisterKind::Discrete | RegisterKind::Input, _) => {
                return Err(WriteTargetError::ReadOnlyTable { kind });
            }
            (RegisterKind::Coil, Encoded::Bit(b)) => WriteData::Coils(vec![b]),
            (RegisterKind::Holding, Encoded::Registers(words)) => WriteData::Registers(words),
            (RegisterKind::Holding, Encoded::RegisterBit { bit, value }) => {
                return Ok(Self::SetBit {
                    address: tag.address(),
                    bit,
                    value,
                });
            }
            _ => return Err(WriteTargetError::Shape { kind }),
        };
        Ok(Self::Request(WriteRequest {
            start: tag.address(),
            data,
        }))
    }

    /// The function code of the write (FC6 for a bit in a register).
    pub fn function_code(&self) -> u8 {
        match self {
            Self::Request(r) => r.function_code(),
            Self::SetBit { .. } => 0x06,
        }
    }
}

/// The FC6 request that sets `bit` of a register currently holding `current`.
pub fn set_bit(address: u16, current: u16, bit: u8, value: bool) -> WriteRequest {
    let mask = 1u16 << (bit & 0x0F);
    let word = if value {
        current | mask
    } else {
        current & !mask
    };
    WriteRequest {
        start: address,
        data: WriteData::Registers(vec![word]),
    }
}

impl WriteRequest {
    /// FC5, FC6, FC15 or FC16.
    pub fn function_code(&self) -> u8 {
        match &self.data {
            WriteData::Coils(c) if c.len() == 1 => 0x05,
            WriteData::Coils(_) => 0x0F,
            WriteData::Registers(r) if r.len() == 1 => 0x06,
            WriteData::Registers(_) => 0x10,
        }
    }

    /// Coils or registers written.
    pub fn count(&self) -> u16 {
        let n = match &self.data {
            WriteData::Coils(c) => c.len(),
            WriteData::Registers(r) => r.len(),
        };
        u16::try_from(n).unwrap_or(u16::MAX)
    }
}

/// A read of exactly `tag`'s bits or registers (to read the old and new value of a write),
/// with the tag at index 0.
pub fn read_of_tag(tag: &RegisterTag) -> ReadRequest {
    ReadRequest {
        kind: tag.kind(),
        start: tag.address(),
        count: tag.width(),
        tags: vec![PlannedTag {
            index: 0,
            offset: 0,
        }],
    }
}

pub(crate) use io::execute;

mod io {
    use super::*;
    use crate::modbus::{DriverError, Exception};
    use tokio::time::timeout;
    use tokio_modbus::client::{Context, Writer};

    /// Executes `request` on `ctx` (its unit already selected) within `limit`. `endpoint`
    /// names the device in errors.
    pub(crate) async fn execute(
        ctx: &mut Context,
        request: &WriteRequest,
        limit: Duration,
        endpoint: &str,
    ) -> Result<Result<(), Exception>, DriverError> {
        let start = request.start;
        let call = async {
            match &request.data {
                WriteData::Coils(c) if c.len() == 1 => ctx.write_single_coil(start, c[0]).await,
                WriteData::Coils(c) => ctx.write_multiple_coils(start, c).await,
                WriteData::Registers(r) if r.len() == 1 => {
                    ctx.write_single_register(start, r[0]).await
                }
                WriteData::Registers(r) => ctx.write_multiple_registers(start, r).await,
            }
        };
        let (function, count) = (request.function_code(), request.count());
        match timeout(limit, call).await {
            Ok(Ok(Ok(()))) => Ok(Ok(())),
            Ok(Ok(Err(code))) => Ok(Err(Exception(u8::from(code)))),
            Err(_) => Err(DriverError::Timeout {
                endpoint: endpoint.to_owned(),
                function,
                start,
                count,
                timeout: limit,
            }),
            Ok(Err(tokio_modbus::Error::Transport(source))) => Err(DriverError::Transport {
                endpoint: endpoint.to_owned(),
                function,
                start,
                count,
                source,
            }),
            Ok(Err(tokio_modbus::Error::Protocol(e))) => Err(DriverError::Protocol {
                endpoint: endpoint.to_owned(),
                function,
                start,
                count,
                message: e.to_string(),
            }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::modbus::{DataType, TagSpec, WordOrder, encode_value};
    use crate::model::{TagId, Value};

    fn tag(kind: RegisterKind, ty: DataType) -> RegisterTag {
        let mut s = TagSpec::new(TagId::new("s/a/l/d/t").unwrap(), kind, 100, ty);
        if ty.is_multi_register() {
            s.order = WordOrder::WordSwap;
        }
        RegisterTag::new(s).unwrap()
    }

    #[test]
    fn function_codes_follow_the_width() {
        let cases = [
            (
                RegisterKind::Coil,
                DataType::Bool,
                Value::Bool(true),
                0x05,
                1,
            ),
            (
                RegisterKind::Holding,
                DataType::U16,
                Value::UInt(7),
                0x06,
                1,
            ),
            (
                RegisterKind::Holding,
                DataType::F32,
                Value::Float(1.5),
                0x10,
                2,
            ),
            (
                RegisterKind::Holding,
                DataType::I64,
                Value::Int(-1),
                0x10,
                4,
            ),
        ];
        for (kind, ty, value, fc, count) in cases {
            let t = tag(kind, ty);
            let WriteAction::Request(r) =
                WriteAction::for_tag(&t, encode_value(&t, &value).unwrap()).unwrap()
            else {
                panic!("a plain request");
            };
            assert_eq!((r.function_code(), r.count(), r.start), (fc, count, 100));
        }
        let multi = WriteRequest {
            start: 0,
            data: WriteData::Coils(vec![true, false]),
        };
        assert_eq!(multi.function_code(), 0x0F);
    }

    #[test]
    fn read_only_tables_are_refused() {
        let t = tag(RegisterKind::Input, DataType::U16);
        let e = WriteAction::for_tag(&t, Encoded::Registers(vec![1])).unwrap_err();
        assert_eq!(
            e,
            WriteTargetError::ReadOnlyTable {
                kind: RegisterKind::Input
            }
        );
        let t = tag(RegisterKind::Discrete, DataType::Bool);
        assert!(WriteAction::for_tag(&t, Encoded::Bit(true)).is_err());
        assert_eq!(
            set_bit(7, 0b1000_0001, 3, true).data,
            WriteData::Registers(vec![0b1000_1001])
        );
        assert_eq!(
            set_bit(7, 0xFFFF, 15, false).data,
            WriteData::Registers(vec![0x7FFF])
        );
        let r = read_of_tag(&tag(RegisterKind::Holding, DataType::F64));
        assert_eq!((r.start, r.count, r.function_code()), (100, 4, 3));
    }
}
