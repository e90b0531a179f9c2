//! Modbus TCP face of the plant: machines are units behind one or more
//! listeners, served from per-machine register snapshots.
//!
//! `addressing` maps machines to (listener, unit id), `store` shares the
//! images with the connections, `service` answers one request and `server`
//! binds and runs the listeners.

pub mod addressing;
mod server;
mod service;
mod store;

pub use server::{ModbusServer, ServerError};
pub use service::PlantService;
pub use store::ImageStore;
