//! Polling field devices: one supervised task per device, each handing one batch per cycle
//! to the forwarder.
//!
//! - `modbus`: [`ModbusPoller`], the Modbus TCP device task (OPC UA and RTU pollers will be
//!   siblings, chosen by [`DeviceSource`](crate::settings::DeviceSource)).
//! - `supervisor`: [`supervise`] restarts a crashed device task with backoff.
//! - `health`: the I/O-free up/down state machine that decides what gets logged, and the
//!   verdict that a cycle of nothing but exceptions is unhealthy.
//! - `states`: [`DeviceStates`], connection states shared with the forwarder.
//! - `batch`: [`DeviceBatch`], what a poller hands over.

mod batch;
pub(crate) mod health;
mod modbus;
mod states;
mod supervisor;

pub use batch::DeviceBatch;
pub use modbus::{ModbusPoller, PollerHandles};
pub use states::DeviceStates;
pub use supervisor::supervise;
