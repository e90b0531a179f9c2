//! Fault-test kit: the peers a fault test owns and breaks, and the reconciliation that
//! proves nothing was lost or stored twice.
//!
//! - [`mosquitto`]: a private broker process that can be stopped and restarted.
//! - [`proxy`]: a TCP proxy that cuts the network between agent and broker.
//! - [`observer`]: an independent subscriber that records every batch the broker accepted.
//! - [`reconcile`]: served reads (plant-sim's ledger) = stored good points, and observer =
//!   storage, with the figures printed.

pub mod mosquitto;
pub mod observer;
pub mod proxy;
pub mod reconcile;
