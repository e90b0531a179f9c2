//! Sentia plant simulator: a deterministic model of motors, pumps and
//! compressors served over Modbus TCP, used as the real peer in tests and
//! demos.
//!
//! - [`plant`]: the I/O-free model. Every value is a pure function of
//!   (seed, machine index, tick); [`Plant::engineering_value`] gives the exact
//!   value a correct client decodes.
//! - [`modbus`]: the TCP server; machine `i` is unit `i % 247 + 1` on
//!   listener `i / 247`.
//! - [`map_file`]: the generated register map, the contract with clients.
//! - [`app`]: startup and run loop of the `plant-sim` binary ([`PlantSim`]).
//! - [`faults`]: protocol-neutral fault injection per machine (delay, silence, disconnect,
//!   exception ranges, freeze); [`control`]: the line-protocol socket that applies them.
//! - [`served`]: the served-reads ledger (`--served-log`): exactly which reads were answered.
//!
//! This crate deliberately does not depend on `protocols`: both sides agree
//! through the map file, so a decoding bug cannot hide on both sides.

pub mod app;
pub mod cli;
pub mod control;
pub mod faults;
pub mod logging;
pub mod map_file;
pub mod modbus;
pub mod opcua;
pub mod plant;
pub mod served;
pub mod shutdown;

pub use app::{PlantSim, SimConfig, SimError};
pub use map_file::{MachineEntry, MapError, RegisterMap, SignalEntry, read_map, write_map};
pub use plant::{DataType, EngValue, MachineKind, Plant, PlantError, RegisterKind, WordOrder};
