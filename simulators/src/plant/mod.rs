//! The simulated plant, free of I/O: machine models, their register layout
//! and the encoding of signals into Modbus register images.
//!
//! `layout` is the single source of truth for addresses and types; `model`
//! steps the machines and keeps one [`RegisterImage`] per machine that the
//! Modbus server serves and [`Plant::engineering_value`] explains.

mod compressor;
mod dynamics;
mod encoding;
mod image;
pub mod layout;
mod machine;
mod model;
mod motor;
mod prng;
mod pump;
mod register;

#[cfg(test)]
mod behaviour_tests;
#[cfg(test)]
mod decode_tests;

pub use encoding::{EngValue, RawValue};
pub use image::{BANK_SIZE, RegisterImage};
pub use layout::{MachineKind, SignalDef};
pub use machine::{AREA, MACHINES_PER_LINE, MachineInfo, SITE};
pub use model::{MAX_MACHINES, Plant, PlantError};
pub use register::{DataType, RegisterKind, WordOrder};
