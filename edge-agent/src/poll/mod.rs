//! Polling field devices: one supervised task per device, each handing one batch per cycle
//! to the forwarder.
//!
//! - `modbus`: [`ModbusPoller`], the Modbus device task (an OPC UA poller will be a sibling,
//!   chosen by [`DeviceSource`](crate::settings::DeviceSource)).
//! - `bus`: [`Buses`], one task per Modbus connection serving the devices on it in turn.
//! - `breaker`: the I/O-free per-unit circuit breaker of a shared bus.
//! - `holes_store`: learned exception-02 holes in the data dir.
//! - `supervisor`: [`supervise`] restarts a crashed device task with backoff.
//! - `health`: the I/O-free up/down state machine that decides what gets logged, and the
//!   verdict that a cycle of nothing but exceptions is unhealthy.
//! - `states`: [`DeviceStates`], connection states shared with the forwarder.
//! - `batch`: [`DeviceBatch`], what a poller hands over, and `Handoff`, how (never waiting).

mod batch;
mod breaker;
mod bus;
pub(crate) mod health;
pub mod holes_store;
mod modbus;
mod states;
mod supervisor;

pub use batch::DeviceBatch;
pub(crate) use batch::Handoff;
pub use bus::Buses;
pub use modbus::{ModbusPoller, PollerHandles};
pub use states::DeviceStates;
pub use supervisor::supervise;
