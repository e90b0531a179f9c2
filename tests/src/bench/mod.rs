//! `bench`: where Sentia stands against peers and physical limits (issue 7).
//!
//! Each scenario measures Sentia and, in the same run on the same machine, a reference
//! (a raw loop doing the same work with nothing else in the way). The machine is shared
//! and noisy, so the ratio against that same-run reference is the figure that counts.
//!
//! - [`poll`]: the agent polling plant-sim (10,000 tags) at 100 ms and 1 s vs a raw
//!   tokio-modbus loop reading the same blocks ([`modbus_raw`]).
//! - [`footprint`]: edge-profile binary size, idle RSS of the agent.
//! - [`ingest`]: points/s stored by the aggregator vs a raw bulk load ([`ingest_raw`]).
//! - [`api`]: latency and throughput of `latest` and `history` under concurrent load.
//! - [`live`]: WebSocket clients of `/api/v1/live`.
//! - [`spool`]: the agent's backlog draining after a network cut vs the live rate, and the
//!   live-data delay during the drain.
//!
//! Helpers: [`plant`] (simulators, broker choice), [`mqtt`] (point counter, synthetic
//! publisher), [`aggregator`] (start one, read its metrics), [`proc_stats`] (CPU/RSS from
//! /proc), [`report`] (table and JSON), [`machine`] (machine info, date).

pub(crate) mod aggregator;
pub(crate) mod api;
pub(crate) mod footprint;
pub(crate) mod ingest;
pub(crate) mod ingest_raw;
pub(crate) mod live;
pub(crate) mod load;
pub(crate) mod machine;
pub(crate) mod modbus_raw;
pub(crate) mod mqtt;
pub(crate) mod plant;
pub(crate) mod poll;
pub(crate) mod proc_stats;
pub(crate) mod report;
pub(crate) mod spool;
pub(crate) mod synthetic;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

use report::{Row, Val, Verdict};

/// Every scenario, in the order they run.
pub(crate) const SCENARIOS: [&str; 6] = ["poll", "footprint", "ingest", "api", "live", "spool"];

/// Settings shared by every scenario.
pub(crate) struct Ctx {
    /// Small sizes and short windows (CI smoke test).
    pub(crate) quick: bool,
    /// Temp dir for configs, data and logs of every process started.
    pub(crate) dir: tempfile::TempDir,
}

impl Ctx {
    /// A new context with its own temp dir.
    pub(crate) fn new(quick: bool) -> anyhow::Result<Self> {
        Ok(Self {
            quick,
            dir: tempfile::tempdir().context("create temp dir")?,
        })
    }

    /// `full` normally, `quick` in quick mode.
    pub(crate) fn pick<T>(&self, full: T, quick: T) -> T {
        if self.quick { quick } else { full }
    }

    /// A measurement window: `full` seconds, or 2 s in quick mode.
    pub(crate) fn window(&self, full_s: u64) -> Duration {
        Duration::from_secs(self.pick(full_s, 2))
    }

    /// Path of a workspace binary in the bench's own profile, or an error naming the
    /// build command (instead of `bins::path`'s panic).
    pub(crate) fn bin(&self, name: &str) -> anyhow::Result<PathBuf> {
        let dir = profile_dir()?;
        if !dir.join(name).exists() {
            bail!(
                "{name} not found in {}: build the binaries first \
                 (`cargo build [--release] -p simulators -p edge-agent -p aggregator --bins`)",
                dir.display()
            );
        }
        Ok(::tests::bins::path(name))
    }

    /// The log dir processes write to.
    pub(crate) fn logs(&self) -> &std::path::Path {
        self.dir.path()
    }
}

/// `<target>/<profile>`: the directory holding the running bench binary.
pub(crate) fn profile_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("current_exe")?;
    let mut dir = exe
        .parent()
        .context("bench binary has no parent dir")?
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    Ok(dir)
}

/// Runs one scenario; a failure becomes an `ERROR` row (and a non-zero exit).
pub(crate) async fn run(name: &str, ctx: &Ctx) -> Vec<Row> {
    let result = match name {
        "poll" => poll::run(ctx).await,
        "footprint" => footprint::run(ctx).await,
        "ingest" => ingest::run(ctx).await,
        "api" => api::run(ctx).await,
        "live" => live::run(ctx).await,
        "spool" => spool::run(ctx).await,
        other => Err(anyhow::anyhow!("unknown scenario {other}")),
    };
    result.unwrap_or_else(|e| {
        let scenario = SCENARIOS
            .iter()
            .find(|s| **s == name)
            .copied()
            .unwrap_or("?");
        vec![Row {
            verdict: Verdict::Error,
            ..Row::info(scenario, "failed to run", Val::text(format!("{e:#}")))
        }]
    })
}
