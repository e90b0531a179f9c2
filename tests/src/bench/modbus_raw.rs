//! The poll scenario's reference: a tight loop of raw tokio-modbus reads of exactly the
//! blocks the agent reads (its plan, taken from `edge-agent check-config`), one connection
//! per device with requests sequential on each, as the agent does. Nothing is decoded,
//! timestamped or published, so this is the per-request limit of client + simulator on
//! this machine.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio_modbus::client::{Context as ModbusCtx, Reader, tcp};
use tokio_modbus::slave::Slave;

use super::proc_stats::{CpuSample, self_pid};

/// One read of the agent's plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Read {
    function: u8,
    start: u16,
    count: u16,
}

/// Every read one device needs per cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DevicePlan {
    addr: SocketAddr,
    unit: u8,
    reads: Vec<Read>,
}

/// Parses the plan printed by `edge-agent check-config` (see edge-agent/src/report.rs):
/// `device ID HOST:PORT unit N: ...` followed by `  FCnn kind start..last count N names`.
pub(crate) fn parse_plan(report: &str) -> anyhow::Result<Vec<DevicePlan>> {
    let mut devices: Vec<DevicePlan> = Vec::new();
    for line in report.lines() {
        let t: Vec<&str> = line.split_whitespace().collect();
        if line.starts_with("device ") {
            let (Some(addr), Some(unit)) = (t.get(2), t.get(4)) else {
                bail!("unexpected device line: {line}");
            };
            devices.push(DevicePlan {
                addr: addr
                    .parse()
                    .with_context(|| format!("address in: {line}"))?,
                unit: unit
                    .trim_end_matches(':')
                    .parse()
                    .with_context(|| format!("unit in: {line}"))?,
                reads: Vec::new(),
            });
        } else if let Some(fc) = t.first().and_then(|f| f.strip_prefix("FC")) {
            let device = devices
                .last_mut()
                .context("request line before any device")?;
            let start = t.get(2).and_then(|r| r.split_once("..")).map(|(s, _)| s);
            let count = t.get(4);
            let (Some(start), Some(count)) = (start, count) else {
                bail!("unexpected request line: {line}");
            };
            device.reads.push(Read {
                function: fc.parse()?,
                start: start.parse()?,
                count: count.parse()?,
            });
        }
    }
    Ok(devices)
}

/// What the raw loop achieved.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawResult {
    /// Requests completed per second (all connections together).
    pub(crate) requests_per_s: f64,
    /// Bench-process CPU per request, µs.
    pub(crate) cpu_us_per_request: f64,
    /// Failed requests (transport error or exception).
    pub(crate) errors: u64,
}

async fn read(ctx: &mut ModbusCtx, r: Read) -> anyhow::Result<()> {
    let ok = match r.function {
        1 => ctx.read_coils(r.start, r.count).await?.is_ok(),
        2 => ctx.read_discrete_inputs(r.start, r.count).await?.is_ok(),
        3 => ctx.read_holding_registers(r.start, r.count).await?.is_ok(),
        4 => ctx.read_input_registers(r.start, r.count).await?.is_ok(),
        f => bail!("unsupported function code {f}"),
    };
    anyhow::ensure!(ok, "exception reply");
    Ok(())
}

/// Connects once per device, then reads every device's plan in a loop for `window`.
pub(crate) async fn run(plan: &[DevicePlan], window: Duration) -> anyhow::Result<RawResult> {
    let mut connections = Vec::with_capacity(plan.len());
    for d in plan {
        let ctx = tokio::time::timeout(
            Duration::from_secs(5),
            tcp::connect_slave(d.addr, Slave(d.unit)),
        )
        .await
        .with_context(|| format!("connect {} timed out", d.addr))?
        .with_context(|| format!("connect {}", d.addr))?;
        connections.push((ctx, d.reads.clone()));
    }
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let before = CpuSample::take(self_pid())?;
    let end = Instant::now() + window;
    let mut tasks = tokio::task::JoinSet::new();
    for (mut ctx, reads) in connections {
        let (done, errors) = (done.clone(), errors.clone());
        tasks.spawn(async move {
            'outer: loop {
                for &r in &reads {
                    if Instant::now() >= end {
                        break 'outer;
                    }
                    let ok = tokio::time::timeout(Duration::from_secs(1), read(&mut ctx, r))
                        .await
                        .is_ok_and(|r| r.is_ok());
                    let counter = if ok { &done } else { &errors };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let after = CpuSample::take(self_pid())?;
    let (cpu_s, wall_s) = before.until(&after);
    let requests = done.load(Ordering::Relaxed);
    anyhow::ensure!(requests > 0, "the raw loop completed no request");
    Ok(RawResult {
        requests_per_s: requests as f64 / wall_s,
        cpu_us_per_request: cpu_s * 1e6 / requests as f64,
        errors: errors.load(Ordering::Relaxed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_check_config_report() -> anyhow::Result<()> {
        let report = "agent edge-01: broker 127.0.0.1:1883, client id x, binary encoding\n\
             device motor-01 127.0.0.1:15020 unit 1: 7 tags, 2 requests per cycle\n\
             \x20 FC01 coil       0..0         count 1     running\n\
             \x20 FC04 input      0..3         count 4     speed, current\n\
             total: 1 devices, 7 tags, 2 requests per cycle\n";
        let plan = parse_plan(report)?;
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].unit, 1);
        assert_eq!(
            plan[0].reads,
            vec![
                Read {
                    function: 1,
                    start: 0,
                    count: 1
                },
                Read {
                    function: 4,
                    start: 0,
                    count: 4
                }
            ]
        );
        Ok(())
    }
}
