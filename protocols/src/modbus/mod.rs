//! Modbus driver: register maps in, [`Point`](crate::model::Point)s out (cargo feature
//! `modbus`).
//!
//! - `register`: the vocabulary ([`RegisterKind`], [`DataType`], [`WordOrder`]).
//! - `tag`: [`TagSpec`] -> checked [`RegisterTag`], with every problem reported.
//! - `plan`: the I/O-free request planner ([`plan_reads`], [`PlanLimits`], [`ReadRequest`]).
//! - `map`: [`RegisterMap`], a device's tags plus their plan.
//! - `decode`: registers -> [`Value`](crate::model::Value), with the conversion rule the
//!   whole system relies on (see that module's docs).
//! - `encode`: [`Value`](crate::model::Value) -> bit or registers for a write, the inverse
//!   of `decode` (range checks and the rounding rule in that module's docs).
//! - `write`: [`WriteRequest`] (FC5/6/15/16) for a tag and its encoded value, and the
//!   execution of a write with a timeout.
//! - `exception`: device exception codes as model data ([`Exception`]).
//! - `tcp`: [`ModbusTcpDriver`], the tokio-modbus TCP client with timeouts; `error`:
//!   its [`DriverError`].
//!
//! Everything but `tcp` is pure logic. No tokio-modbus type appears in this module's public
//! API: exceptions become [`Exception`], transport failures [`DriverError`].
//! RTU (serial) will be a sibling of `tcp` that runs the same [`RegisterMap`].

mod decode;
mod encode;
mod error;
mod exception;
mod map;
mod plan;
mod register;
mod tag;
mod tcp;
mod write;

pub use decode::{DecodeError, ReadData, bad_points, decode_registers, decode_response};
pub use encode::{EncodeError, Encoded, encode_registers, encode_value, wire_to_be_bytes};
pub use error::DriverError;
pub use exception::Exception;
pub use map::RegisterMap;
pub use plan::{
    MAX_BITS_PER_READ, MAX_REGISTERS_PER_READ, PlanError, PlanItem, PlanLimits, PlannedTag,
    ReadRequest, plan_reads,
};
pub use register::{DataType, RegisterKind, WordOrder};
pub use tag::{MAX_ADDRESS, RegisterTag, TagError, TagSpec};
pub use tcp::{ModbusTcpDriver, PollOutcome, TcpEndpoint};
pub use write::{WriteData, WriteRequest, WriteTargetError, read_of_tag};
