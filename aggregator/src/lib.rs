//! Sentia aggregator: receives telemetry batches from edge agents over MQTT, stores them as
//! time series (SQLite or PostgreSQL) and serves them to dashboards over an HTTP API.
//!
//! Data flow: broker (embedded rumqttd or external) → `ingest` (one MQTT client, manual
//! acks) → bounded queue → storage writer ([`store`], one transaction per write batch) →
//! acks back to the broker, latest values into [`cache`]. The API ([`api`]) reads the store
//! and the cache; [`web`] serves the dashboard. [`app::App`] wires it together; `main.rs`
//! only calls [`cli::main`].
//!
//! Invariants: an MQTT message is acknowledged only after everything it carried is committed
//! (or it was rejected as unusable, which is counted); acks go out in arrival order; writes
//! are idempotent on (tag, source timestamp); every queue is bounded; a message the
//! database refuses permanently is isolated, counted and acked, never retried forever; if a
//! critical task dies the process exits non-zero instead of running half-dead
//! ([`supervise`]).

pub mod agents;
pub mod alarms;
pub mod analytics;
pub mod api;
pub mod app;
pub mod assets;
mod backoff;
pub mod broker;
pub mod cache;
pub mod cli;
pub mod config;
pub mod directory;
pub mod eval;
mod ingest;
pub mod live;
pub mod logging;
pub mod metrics;
pub mod stale;
pub mod store;
pub mod supervise;
pub mod web;
