//! Scenarios for features not measured yet: `spool` (the agent's disk spool draining after
//! an outage).
//!
//! `spool` asks the agent itself whether its configuration accepts a `[spool]` section
//! (`edge-agent check-config`), so the bench needs no change the day it does; it does not
//! depend on the spool's settings beyond the section name.

use ::tests::agent_config::{AgentConfigOptions, render};

use super::Ctx;
use super::report::Row;

/// `spool`: "not available" unless the agent accepts a `[spool]` section.
pub(crate) async fn spool(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let map = simulators::RegisterMap::build(
        &simulators::Plant::new(42, 1)?,
        std::time::Duration::from_secs(1),
        &["127.0.0.1:15020".parse()?],
    );
    let opts = AgentConfigOptions {
        agent_id: "bench-spool".into(),
        broker: "mqtt://127.0.0.1:1883".into(),
        poll_interval: "1s".into(),
        site: None,
        encoding: "binary".into(),
        data_dir: Some(ctx.logs().to_string_lossy().into_owned()),
    };
    let spool_dir = ctx.logs().join("spool");
    let config = format!(
        "{}\n[spool]\ndir = {:?}\n",
        render(&map, &opts)?,
        spool_dir.to_string_lossy()
    );
    let path = ctx.logs().join("spool-probe.toml");
    std::fs::write(&path, config)?;
    let out = tokio::process::Command::new(ctx.bin(::tests::bins::EDGE_AGENT)?)
        .args(["check-config", &path.to_string_lossy()])
        .output()
        .await?;
    let why = if out.status.success() {
        "the agent accepts [spool], but the drain benchmark is not written yet"
    } else {
        "edge-agent check-config rejects `[spool] dir = ...` (spool not built yet)"
    };
    Ok(vec![Row::not_available("spool", "disk spool drain", why)])
}
