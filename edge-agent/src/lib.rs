//! Sentia edge agent: polls PLCs over Modbus TCP and forwards their telemetry over MQTT to
//! the central aggregator.
//!
//! The binary (`src/main.rs`) is a thin shell over this library; the library exists so the
//! agent can be started in-process by its own tests. Nothing else in the workspace depends
//! on it (the end-to-end tests in `tests/` start the binary).
//!
//! # Data flow
//!
//! ```text
//!  PLC ──Modbus TCP──▶ poll::ModbusPoller (one task per device, supervised)
//!                          │ DeviceBatch per cycle, try_send (drop + count when full)
//!                          ▼
//!                   bounded mpsc channel (app::BATCH_CHANNEL_CAPACITY)
//!                          ▼
//!                   forward::Forwarder ── seq, encode ─▶ spool::Spool (disk) ─▶ QoS 1 ──▶ broker
//!                      ▲   (sole owner of the rumqttc client and event loop; a record leaves
//!                      │    the spool on its PUBACK)
//!   poll::DeviceStates ┘ (watch: device up/down → retained status republished)
//! ```
//!
//! # Modules
//!
//! - [`cli`]: command line (`run`, `check-config`), exit codes (64 for configuration errors,
//!   1 for runtime failures such as the forwarder stopping, so systemd restarts the agent).
//! - [`config`]: the TOML file → validated [`settings::Settings`], reporting every problem
//!   as `FILE:LINE:COL: path: message`. Its module docs hold the full schema.
//! - [`settings`]: typed settings the runtime is built from.
//! - [`app`]: wiring, startup and shutdown order ([`app::run`], [`app::start`]); watches the
//!   forwarder and stops the agent with [`app::AgentError`] if it ends early.
//! - [`poll`]: device tasks: connect lazily, poll every interval, bad-quality points while a
//!   device is down, reconnect with backoff, supervised restarts. A device answering every
//!   request of a cycle with exceptions is reported down, its connection kept.
//! - [`forward`]: the MQTT forwarder: PUBACK tracking, live-first replay of the spooled
//!   backlog, catalogue and status publishing, Last Will.
//! - [`spool`]: the disk spool (segment files with CRC per record, documented format),
//!   sequence numbers, size/age limits, torn-tail recovery.
//! - [`backoff`]: capped exponential backoff with jitter, reset only after a healthy stretch
//!   (I/O-free).
//! - [`metrics_http`]: optional Prometheus endpoint (`[agent] metrics_listen`, `GET /metrics`).
//! - [`config_watch`]: reloads the file on SIGHUP and when its content changes (polled).
//! - [`reload`]: configuration reload (SIGHUP or file change): which devices are added, removed, changed
//!   or kept (I/O-free); [`app`] applies it without touching the forwarder or the spool.
//! - [`command`]: write commands from the MQTT command topic: validation against the
//!   configuration (`writable`, `min`, `max`), deduplication of redelivered ids, routing to
//!   the owning device task, results back through the forwarder; [`audit`]: one fsynced
//!   JSON line per attempt in `{data_dir}/audit/writes.jsonl`.
//! - [`tools`]: `edge-agent modbus scan` (unit ids and readable blocks) and
//!   `edge-agent modbus decode` (the byte-order assistant).
//! - [`metrics`]: counters, logged as one summary line every minute.
//! - [`report`]: the `check-config` plan report. [`logging`]: tracing setup.
//!
//! Protocol logic (register types, word orders, the read planner, decoding, the Modbus TCP
//! driver) lives in `protocols::modbus`; topics and payload encoding in
//! `protocols::topic` and `protocols::codec`. This crate never formats a topic itself.
//!
//! # Invariants
//!
//! - Only the forwarder publishes. Batch sequence numbers are assigned by the spool,
//!   consecutive per session, and the session is the spool's (kept across restarts); a gap
//!   means batches were dropped, and every drop is counted (`batches_dropped_*`).
//! - A batch leaves the spool only after the broker's PUBACK (or a counted limit drop).
//! - A device that cannot be read produces bad-quality points every cycle, never silence.
//! - The agent never polls without a forwarder: if the forwarder stops before shutdown, the
//!   pollers are stopped and the process exits with code 1. A batch meeting a closed
//!   channel is counted (`batches_dropped_closed`).
//! - Pollers never wait on MQTT; each device has its own task and its own connection.
//! - Every channel is bounded; every network operation has a timeout.
//!
//! # Running in-process
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! let settings = edge_agent::config::load(std::path::Path::new("agent.toml"))?;
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! let (handle, agent) = edge_agent::app::start(settings, shutdown.clone());
//! let running = tokio::spawn(agent);
//! // ... observe handle.metrics / handle.states, then:
//! shutdown.cancel();
//! running.await??;
//! # Ok(()) }
//! ```

pub mod app;
pub mod audit;
pub mod backoff;
pub mod cli;
pub mod command;
pub mod config;
pub mod config_watch;
pub mod forward;
pub mod logging;
pub mod metrics;
pub mod metrics_http;
pub mod opcua;
pub mod poll;
pub mod reload;
pub mod report;
pub mod settings;
pub mod spool;
pub mod tools;
