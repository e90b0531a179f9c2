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
//! - `holes`: exception-02 hole learning, the pure part ([`Hole`], [`split`]).
//! - `link`: where a device is ([`Link`]: TCP, RTU serial, RTU over TCP; [`Endpoint`]).
//! - `driver`: [`ModbusDriver`], the tokio-modbus client over any link, with timeouts,
//!   inter-frame delay and hole learning; `error`: its [`DriverError`].
//!
//! Everything but `driver` is pure logic. No tokio-modbus or tokio-serial type appears in
//! this module's public API: exceptions become [`Exception`], transport failures
//! [`DriverError`].

mod decode;
mod driver;
mod encode;
mod error;
mod exception;
mod holes;
mod link;
mod map;
mod plan;
mod register;
mod tag;
mod write;

pub use decode::{DecodeError, ReadData, bad_points, decode_registers, decode_response};
pub use driver::{HOLE_REASON, ModbusDriver, ModbusTcpDriver, PollOutcome};
pub use encode::{EncodeError, Encoded, encode_registers, encode_value, wire_to_be_bytes};
pub use error::DriverError;
pub use exception::Exception;
pub use holes::{Hole, gap_between, split};
pub use link::{Endpoint, Link, Parity, SerialLine};
pub use map::RegisterMap;
pub use plan::{
    MAX_BITS_PER_READ, MAX_REGISTERS_PER_READ, PlanError, PlanItem, PlanLimits, PlannedTag,
    ReadRequest, plan_reads, plan_reads_around,
};
pub use register::{ByteOrder, DataType, RegisterKind, WordOrder};
pub use tag::{MAX_ADDRESS, MAX_STRING_LENGTH, RegisterTag, TagError, TagSpec};
pub use write::{WriteAction, WriteData, WriteRequest, WriteTargetError, read_of_tag, set_bit};
