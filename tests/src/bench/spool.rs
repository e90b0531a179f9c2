//! `spool`: the agent's disk spool draining after a network outage, against the live rate
//! in the same run.
//!
//! The stack of the fault tests (`tests::faults`): plant-sim, the agent polling every
//! 100 ms, the aggregator on SQLite, all on a private `mosquitto`, with a TCP proxy between
//! agent and broker and an independent QoS 1 observer that stamps every batch on arrival.
//! The proxy cuts the network for the outage; the agent spools; after the restore the
//! backlog drains behind live data at the default `[spool] replay_rate` (500 batches/s).
//!
//! Figures (all from the observer's arrival stamps):
//! - live rate before the outage (batches/s, points/s): the reference;
//! - backlog drain rate: historical batches / (last − first historical arrival), and its
//!   ratio to the live rate;
//! - live-data delay (arrival − sampling time of a live batch) during the drain, p50 and
//!   p99, against the same delay before the outage: how much the drain holds live data
//!   back (the design says not at all).
//!
//! Sizes: 20 machines (about 190 tags, 200 batches/s) and a 30 s outage; `--quick`: 3
//! machines and a 3 s outage.

use std::time::Duration;

use ::tests::faults::mosquitto::Mosquitto;
use ::tests::faults::observer::{Observer, Seen};
use ::tests::faults::proxy::Proxy;
use ::tests::stack::{Backend, Stack, StackOptions};
use anyhow::Context;
use protocols::model::now_ns;

use super::Ctx;
use super::report::{Row, Val};

const NS: f64 = 1e9;

/// Arrival delay (ms) of live batches arriving in `window` (ns): arrival − newest sample.
fn live_delays_ms(seen: &[Seen], window: std::ops::Range<i64>) -> Vec<f64> {
    let mut d: Vec<f64> = seen
        .iter()
        .filter(|s| !s.historical && window.contains(&s.arrived_ns))
        .filter_map(|s| {
            let newest = s.points.iter().map(|p| p.ts).max()?;
            Some((s.arrived_ns - newest) as f64 / 1e6)
        })
        .collect();
    d.sort_by(f64::total_cmp);
    d
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs the scenario (module docs).
pub(crate) async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let machines = ctx.pick(20, 3);
    let outage = Duration::from_secs(ctx.pick(30, 3));
    let mosquitto = Mosquitto::start()
        .await
        .context("the spool scenario needs the mosquitto binary")?;
    let proxy = Proxy::start(mosquitto.addr.clone()).await?;
    let observer = Observer::start(&mosquitto.addr).await?;
    let stack = Stack::start(StackOptions {
        machines,
        tick: Duration::from_millis(100),
        poll_interval: "100ms",
        backend: Backend::ExternalSqlite {
            broker: mosquitto.addr.clone(),
        },
        agent_broker: Some(proxy.addr.to_string()),
        ..Default::default()
    })
    .await?;

    // Live reference: a steady window before the outage.
    observer
        .wait_sampled_after(now_ns(), Duration::from_secs(30))
        .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let live_from = now_ns();
    tokio::time::sleep(ctx.window(10)).await;
    let live_to = now_ns();
    proxy.cut();
    tokio::time::sleep(outage).await;
    let restored = now_ns();
    proxy.restore();

    // Drained: no historical batch for 2 s after at least one arrived.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let seen = observer.snapshot();
        let last_hist = seen
            .iter()
            .filter(|s| s.historical && s.arrived_ns > restored)
            .map(|s| s.arrived_ns)
            .max();
        if last_hist.is_some_and(|t| now_ns() - t > 2_000_000_000) {
            break;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the backlog did not drain within 300 s\n{}",
            stack.logs()
        );
    }
    let seen = observer.snapshot();
    drop(stack);

    let live: Vec<&Seen> = seen
        .iter()
        .filter(|s| !s.historical && (live_from..live_to).contains(&s.arrived_ns))
        .collect();
    let live_s = (live_to - live_from) as f64 / NS;
    let live_batches = live.len() as f64 / live_s;
    let live_points = live.iter().map(|s| s.points.len()).sum::<usize>() as f64 / live_s;
    let backlog: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.historical && s.arrived_ns > restored)
        .collect();
    let first = backlog
        .iter()
        .map(|s| s.arrived_ns)
        .min()
        .unwrap_or(restored);
    let last = backlog
        .iter()
        .map(|s| s.arrived_ns)
        .max()
        .unwrap_or(restored);
    let drain_s = ((last - first) as f64 / NS).max(1e-3);
    let drain_batches = backlog.len() as f64 / drain_s;
    let drain_points = backlog.iter().map(|s| s.points.len()).sum::<usize>() as f64 / drain_s;
    let before = live_delays_ms(&seen, live_from..live_to);
    let during = live_delays_ms(&seen, first..last);

    let mut rows = vec![
        Row::info(
            "spool",
            format!("live rate before the outage ({machines} machines, 100 ms)"),
            Val::Num(live_batches, "batches/s"),
        ),
        Row::info("spool", "live points/s", Val::Num(live_points, "points/s")),
        Row::info(
            "spool",
            format!("backlog after a {} s network cut", outage.as_secs()),
            Val::Num(backlog.len() as f64, "batches"),
        ),
        Row::info(
            "spool",
            "backlog drain time (replay_rate 500/s)",
            Val::Num(drain_s, "s"),
        ),
        Row::info(
            "spool",
            "backlog drain rate (batches)",
            Val::Num(drain_batches, "batches/s"),
        )
        .reference(Val::Num(live_batches, "batches/s live"))
        .target("> live rate (it catches up)", drain_batches > live_batches),
        Row::info(
            "spool",
            "backlog drain rate (points)",
            Val::Num(drain_points, "points/s"),
        )
        .reference(Val::Num(live_points, "points/s live")),
    ];
    if during.is_empty() {
        rows.push(Row::info(
            "spool",
            "live delay during the drain",
            Val::text("no live batch arrived during the drain (too short)"),
        ));
    } else {
        rows.push(
            Row::info(
                "spool",
                "live delay p50 during the drain",
                Val::Num(quantile(&during, 0.5), "ms"),
            )
            .reference(Val::Num(quantile(&before, 0.5), "ms before")),
        );
        rows.push(
            Row::info(
                "spool",
                "live delay p99 during the drain",
                Val::Num(quantile(&during, 0.99), "ms"),
            )
            .reference(Val::Num(quantile(&before, 0.99), "ms before"))
            .target(
                "< 200 ms (live never waits behind the backlog)",
                quantile(&during, 0.99) < 200.0,
            ),
        );
    }
    Ok(rows)
}
