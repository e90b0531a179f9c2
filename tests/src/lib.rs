//! End-to-end test harness for Sentia.
//!
//! Tests in `tests/tests/` start the real binaries (`plant-sim`, `edge-agent`, `aggregator`)
//! as child processes with temporary config and data directories, let the OS choose every
//! port, and talk to them over real sockets. Nothing here links the agent or aggregator
//! crates: the processes are the unit under test.
//!
//! - [`bins`]: finds the built binaries (the README's test command builds them first).
//! - [`process`]: spawns a binary, waits for its `... ready k=v` line, kills it on drop.
//! - [`peers`]: external services (Mosquitto, PostgreSQL) with the CI rule: under `CI=true`
//!   a missing peer fails the test, elsewhere the test says it skipped.
//! - [`python`]: the Python peers (pymodbus, asyncua) in a venv, and `socat`.
//! - [`agent_config`]: renders an edge-agent config from a plant-sim register map.
//! - [`api`]: a small client for the aggregator's HTTP API with deadlines.
//! - [`write_peer`]: the pymodbus server of the write and tool tests, which reports every
//!   write request it receives.
//! - [`faults`]: private broker, network-cut proxy, MQTT observer and the served = stored
//!   reconciliation of the fault tests.
//! - [`stack`]: the whole stack (simulator, aggregator, agent) for one test.

pub mod agent_config;
pub mod api;
pub mod bins;
pub mod faults;
pub mod peers;
pub mod process;
pub mod python;
pub mod stack;
pub mod write_peer;
