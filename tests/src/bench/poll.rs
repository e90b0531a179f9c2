//! Scenario `poll`: the agent polling plant-sim with 10,000 tags (1,075 machines; 100 in
//! quick mode) at 100 ms and at 1 s.
//!
//! Measured over a window after every device delivered once: datapoints/s delivered to the
//! broker (a bench subscriber decodes every batch with `protocols::codec` and counts its
//! points), agent CPU per datapoint (`utime + stime` delta / points) and agent RSS, and
//! Modbus requests per cycle (`edge-agent check-config`) against the optimum computed here
//! independently. Same-run reference: a raw tokio-modbus loop over the same reads
//! ([`super::modbus_raw`]).

use std::collections::BTreeMap;
use std::time::Duration;

use ::tests::agent_config::{AgentConfigOptions, render};
use ::tests::process::Proc;
use anyhow::Context;
use simulators::{DataType, RegisterKind, RegisterMap};

use super::mqtt::PointCounter;
use super::plant::{AgentBroker, Plant};
use super::proc_stats::{CpuSample, cpu_seconds, peak_rss_kib, rss_kib, self_pid};
use super::report::{Row, Val};
use super::{Ctx, modbus_raw};

const S: &str = "poll";
/// Target agent CPU per datapoint, µs.
const CPU_TARGET_US: f64 = 0.3;
/// Target agent RSS at 10k tags, MiB.
const RSS_TARGET_MIB: f64 = 15.0;

/// Runs the scenario.
pub(crate) async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let plant = Plant::start(ctx, ctx.pick(1075, 100)).await?;
    let broker = AgentBroker::start(ctx).await?;
    let (tags, devices) = (plant.tags(), plant.map.entries.len());
    let mut rows = vec![Row::info(
        S,
        format!("plant: {devices} machines, broker: {}", broker.label),
        Val::Num(tags as f64, "tags"),
    )];
    let agent_bin = ctx.bin(::tests::bins::EDGE_AGENT)?;

    // The plan, as the agent computes it.
    let (cfg, _) = write_config(ctx, &plant.map, &broker, "1s")?;
    let out = std::process::Command::new(&agent_bin)
        .args(["check-config", &cfg.to_string_lossy()])
        .output()
        .context("run edge-agent check-config")?;
    let report = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(out.status.success(), "check-config failed: {report}");
    let per_cycle = requests_per_cycle(&report)?;
    let plan = modbus_raw::parse_plan(&report)?;
    let optimum = optimal_requests(&plant.map);
    rows.push(
        Row::info(
            S,
            "Modbus requests per cycle",
            Val::Num(per_cycle as f64, "req"),
        )
        .reference(Val::Num(optimum as f64, "req (optimum)"))
        .target("= optimum", per_cycle == optimum),
    );

    // The reference first, on an idle machine; then the agent at each interval.
    let raw = modbus_raw::run(&plan, ctx.window(10)).await?;
    let raw_us_per_dp = raw.cpu_us_per_request * per_cycle as f64 / tags as f64;
    rows.push(Row::info(
        S,
        format!(
            "raw tokio-modbus loop ({devices} connections, {} errors)",
            raw.errors
        ),
        Val::Num(raw.requests_per_s, "req/s"),
    ));
    rows.push(Row::info(
        S,
        "raw tokio-modbus loop: client CPU per request",
        Val::Num(raw.cpu_us_per_request, "µs"),
    ));

    for (interval, secs, window) in [("100ms", 0.1, ctx.window(10)), ("1s", 1.0, ctx.window(15))] {
        let m = measure(ctx, &plant, &broker, &agent_bin, interval, window).await?;
        let configured = tags as f64 / secs;
        let us_per_dp = m.cpu_s * 1e6 / m.points.max(1.0);
        rows.push(
            Row::info(
                S,
                format!("{interval}: datapoints/s delivered"),
                Val::Num(m.points / m.wall_s, "dp/s"),
            )
            .reference(Val::Num(configured, "dp/s configured")),
        );
        rows.push(
            Row::info(
                S,
                format!("{interval}: agent CPU per datapoint"),
                Val::Num(us_per_dp, "µs"),
            )
            .reference(Val::Num(raw_us_per_dp, "µs raw reads"))
            .target(format!("≤ {CPU_TARGET_US} µs"), us_per_dp <= CPU_TARGET_US),
        );
        rows.push(Row::info(
            S,
            format!("{interval}: agent CPU"),
            Val::Num(m.cpu_s / m.wall_s * 100.0, "% of a core"),
        ));
        rows.push(Row::info(
            S,
            format!("{interval}: plant-sim / bench subscriber CPU"),
            Val::text(format!(
                "{:.0} % / {:.0} % of a core",
                m.sim_cpu_s / m.wall_s * 100.0,
                m.bench_cpu_s / m.wall_s * 100.0
            )),
        ));
        rows.push(
            Row::info(
                S,
                format!("{interval}: agent Modbus requests/s (cycles achieved × plan)"),
                Val::Num(
                    m.points / m.wall_s / tags as f64 * per_cycle as f64,
                    "req/s",
                ),
            )
            .reference(Val::Num(raw.requests_per_s, "req/s raw max")),
        );
        let rss = m.rss_kib as f64 / 1024.0;
        rows.push(
            Row::info(
                S,
                format!("{interval}: agent RSS ({tags} tags)"),
                Val::Num(rss, "MiB"),
            )
            .target(format!("≤ {RSS_TARGET_MIB} MiB"), rss <= RSS_TARGET_MIB),
        );
        rows.push(Row::info(
            S,
            format!("{interval}: agent peak RSS (VmHWM)"),
            Val::Num(m.peak_kib as f64 / 1024.0, "MiB"),
        ));
    }
    rows.push(Row::context(
        S,
        "ThingsBoard IoT Gateway CPU per datapoint",
        "27–93 µs/dp; saturates ~30k dp/s",
    ));
    rows.push(Row::context(S, "Node-RED CPU per datapoint", "4–7 µs/dp"));
    rows.push(Row::context(
        S,
        "Python pymodbus + paho CPU per datapoint",
        "0.6 µs/dp",
    ));
    Ok(rows)
}

/// One agent run's window.
struct Measured {
    points: f64,
    cpu_s: f64,
    wall_s: f64,
    rss_kib: u64,
    peak_kib: u64,
    sim_cpu_s: f64,
    bench_cpu_s: f64,
}

fn write_config(
    ctx: &Ctx,
    map: &RegisterMap,
    broker: &AgentBroker,
    interval: &str,
) -> anyhow::Result<(std::path::PathBuf, String)> {
    let run = format!("bench-{:08x}", rand::random::<u32>());
    let opts = AgentConfigOptions {
        agent_id: run.clone(),
        broker: format!("mqtt://{}", broker.addr),
        poll_interval: interval.into(),
        site: Some(run.clone()),
        encoding: "binary".into(),
        data_dir: Some(ctx.logs().join(&run).to_string_lossy().into_owned()),
    };
    let path = ctx.logs().join(format!("{run}.toml"));
    std::fs::write(&path, render(map, &opts)?)?;
    Ok((path, run))
}

async fn measure(
    ctx: &Ctx,
    plant: &Plant,
    broker: &AgentBroker,
    agent_bin: &std::path::Path,
    interval: &str,
    window: Duration,
) -> anyhow::Result<Measured> {
    let (cfg, agent_id) = write_config(ctx, &plant.map, broker, interval)?;
    let counter = PointCounter::start(&broker.addr, &agent_id).await?;
    let agent = Proc::spawn_background(
        agent_bin,
        &["run", "--config", &cfg.to_string_lossy()],
        ctx.logs(),
    )?;
    let pid = agent.pid().context("agent exited at once")?;
    counter
        .wait_assets(plant.map.entries.len(), Duration::from_secs(60))
        .await
        .with_context(|| format!("agent never delivered every device\n{}", agent.log()))?;
    tokio::time::sleep(Duration::from_millis(ctx.pick(2000, 500))).await;
    let others = |pids: &[u32]| {
        pids.iter()
            .map(|p| cpu_seconds(*p))
            .sum::<anyhow::Result<f64>>()
    };
    let pids = plant.pids();
    let (p0, c0, s0, b0) = (
        counter.points(),
        CpuSample::take(pid)?,
        others(&pids)?,
        cpu_seconds(self_pid())?,
    );
    tokio::time::sleep(window).await;
    let (p1, c1, s1, b1) = (
        counter.points(),
        CpuSample::take(pid)?,
        others(&pids)?,
        cpu_seconds(self_pid())?,
    );
    let (rss, peak) = (rss_kib(pid)?, peak_rss_kib(pid)?);
    let (cpu_s, wall_s) = c0.until(&c1);
    // A stop that overruns its grace only means the agent is killed on drop.
    let _ = agent.terminate(Duration::from_secs(10)).await;
    Ok(Measured {
        points: (p1 - p0) as f64,
        cpu_s,
        wall_s,
        rss_kib: rss,
        peak_kib: peak,
        sim_cpu_s: s1 - s0,
        bench_cpu_s: b1 - b0,
    })
}

/// The request count from check-config's `total: N devices, M tags, K requests per cycle`.
fn requests_per_cycle(report: &str) -> anyhow::Result<usize> {
    report
        .lines()
        .find(|l| l.starts_with("total:"))
        .and_then(|total| {
            total
                .split(',')
                .find_map(|part| part.trim().strip_suffix(" requests per cycle"))
        })
        .and_then(|n| n.trim().parse().ok())
        .with_context(|| format!("no request count in check-config output:\n{report}"))
}

/// The fewest reads that cover every signal, computed independently of the agent's planner
/// (as tests/tests/deploy_config.rs does): per machine and table, sort the spans and extend a
/// read greedily while the hole is at most the default gap fill (10 registers / 100 bits) and
/// the read stays within 125 registers / 2000 bits. Greedy is optimal for this cover problem.
fn optimal_requests(map: &RegisterMap) -> usize {
    let mut total = 0;
    for m in &map.entries {
        let mut by_table: BTreeMap<u8, (bool, Vec<(u32, u32)>)> = BTreeMap::new();
        for s in &m.signals {
            let width = match s.data_type {
                DataType::Bool | DataType::U16 | DataType::I16 => 1,
                DataType::U32 | DataType::I32 | DataType::F32 => 2,
            };
            let (key, bits) = match s.register {
                RegisterKind::Coil => (1, true),
                RegisterKind::Discrete => (2, true),
                RegisterKind::Holding => (3, false),
                RegisterKind::Input => (4, false),
            };
            let start = u32::from(s.address);
            let entry = by_table.entry(key).or_insert((bits, Vec::new()));
            entry.1.push((start, start + width));
        }
        for (_, (bits, mut spans)) in by_table {
            let (max_gap, max_len) = if bits { (100, 2000) } else { (10, 125) };
            spans.sort_unstable();
            let mut current: Option<(u32, u32)> = None;
            for (s, e) in spans {
                current = match current {
                    Some((cs, ce)) if s <= ce + max_gap && e.max(ce) - cs <= max_len => {
                        Some((cs, ce.max(e)))
                    }
                    _ => {
                        total += 1;
                        Some((s, e))
                    }
                };
            }
        }
    }
    total
}
