//! Scenario `footprint`: size of the edge-agent binary built with `--profile edge` (the
//! workspace's small-binary profile) and the agent's idle RSS with live sessions.
//!
//! Without `--quick` the bench runs `cargo build --profile edge -p edge-agent` first (a
//! no-op when fresh, so the size is never that of a stale binary); with `--quick` it only
//! measures a binary that is already there. The idle RSS is of the edge-profile agent
//! when built (else the bench's own profile), polling a few devices every second.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ::tests::agent_config::{AgentConfigOptions, render};
use ::tests::process::Proc;
use anyhow::Context;

use super::mqtt::PointCounter;
use super::plant::{AgentBroker, Plant};
use super::proc_stats::rss_kib;
use super::report::{Row, Val};
use super::{Ctx, profile_dir};

const S: &str = "footprint";
/// Target size of the edge binary, bytes (10 MB).
const SIZE_TARGET: f64 = 10e6;

/// Runs the scenario.
pub(crate) async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let profile = profile_dir()?;
    let same_profile = ctx.bin(::tests::bins::EDGE_AGENT)?;
    let edge = profile
        .parent()
        .context("target dir")?
        .join("edge")
        .join(::tests::bins::EDGE_AGENT);
    let built = if ctx.quick {
        Ok(edge.exists())
    } else {
        build_edge(&profile).await.map(|()| edge.exists())
    };
    let same_size = std::fs::metadata(&same_profile)?.len() as f64;
    let profile_name = profile
        .file_name()
        .map_or_else(|| "?".into(), |n| n.to_string_lossy().into_owned());
    match built {
        Ok(true) => {
            let size = std::fs::metadata(&edge)?.len() as f64;
            rows.push(
                Row::info(
                    S,
                    "edge-agent binary (--profile edge)",
                    Val::Num(size / 1e6, "MB"),
                )
                .reference(Val::Num(same_size / 1e6, mb_unit(&profile_name)))
                .target("≤ 10 MB", size <= SIZE_TARGET),
            );
        }
        Ok(false) => rows.push(Row::not_available(
            S,
            "edge-agent binary (--profile edge)",
            "not built (run without --quick, or `cargo build --profile edge -p edge-agent`)",
        )),
        Err(e) => rows.push(Row::not_available(
            S,
            "edge-agent binary (--profile edge)",
            format!("{e:#}"),
        )),
    }
    let agent_bin = if edge.exists() { edge } else { same_profile };
    let machines = ctx.pick(5, 3);
    let rss = idle_rss(ctx, &agent_bin, machines).await?;
    let which = if agent_bin.starts_with(&profile) {
        profile_name
    } else {
        "edge".into()
    };
    rows.push(Row::info(
        S,
        format!("agent idle RSS ({machines} devices at 1 s, {which} build)"),
        Val::Num(rss as f64 / 1024.0, "MiB"),
    ));
    Ok(rows)
}

/// Unit of the reference cell: the size of the bench's own profile's agent.
fn mb_unit(profile: &str) -> &'static str {
    match profile {
        "release" => "MB (--release)",
        "debug" => "MB (debug)",
        _ => "MB",
    }
}

async fn build_edge(profile_dir: &Path) -> anyhow::Result<()> {
    let target = profile_dir.parent().context("target dir")?;
    let workspace: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("workspace dir")?
        .to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = tokio::process::Command::new(cargo)
        .args(["build", "--profile", "edge", "-p", "edge-agent"])
        .env("CARGO_TARGET_DIR", target)
        .current_dir(workspace)
        .output()
        .await
        .context("run cargo build --profile edge")?;
    anyhow::ensure!(
        out.status.success(),
        "cargo build --profile edge -p edge-agent failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

async fn idle_rss(ctx: &Ctx, agent_bin: &Path, machines: usize) -> anyhow::Result<u64> {
    let plant = Plant::start(ctx, machines).await?;
    let broker = AgentBroker::start(ctx).await?;
    let run = format!("bench-{:08x}", rand::random::<u32>());
    let opts = AgentConfigOptions {
        agent_id: run.clone(),
        broker: format!("mqtt://{}", broker.addr),
        poll_interval: "1s".into(),
        site: Some(run.clone()),
        encoding: "binary".into(),
        data_dir: Some(ctx.logs().join(&run).to_string_lossy().into_owned()),
    };
    let cfg = ctx.logs().join(format!("{run}.toml"));
    std::fs::write(&cfg, render(&plant.map, &opts)?)?;
    let counter = PointCounter::start(&broker.addr, &run).await?;
    let agent = Proc::spawn_background(
        agent_bin,
        &["run", "--config", &cfg.to_string_lossy()],
        ctx.logs(),
    )?;
    let pid = agent.pid().context("agent exited at once")?;
    counter
        .wait_assets(machines, Duration::from_secs(30))
        .await
        .with_context(|| format!("agent never delivered every device\n{}", agent.log()))?;
    tokio::time::sleep(Duration::from_secs(ctx.pick(3, 1))).await;
    let rss = rss_kib(pid)?;
    let _ = agent.terminate(Duration::from_secs(10)).await;
    Ok(rss)
}
