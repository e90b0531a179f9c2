//! Faults end to end: the whole stack as processes (plant-sim, edge-agent, aggregator on
//! SQLite) with a private `mosquitto` the test owns, one fault injected mid-stream, then the
//! full reconciliation of `tests::faults::reconcile`: every point the simulator served (its
//! served-reads ledger) is stored exactly once as a good point, and storage equals what an
//! independent MQTT observer received from the broker. Each test prints
//! `served / stored / duplicates`.
//!
//! - `aggregator_sigkill_loses_nothing`: the aggregator is SIGKILLed for 3 s while the
//!   broker queues for its persistent session, then restarted on the same data dir.
//! - `agent_sigkill_loses_nothing` (and `_embedded_broker`, on rumqttd): the agent is
//!   SIGKILLed mid-stream, must be reported offline (`lost`: its Last Will) by
//!   `GET /api/v1/agents` within 5 s, and is restarted on the same spool. Only points it held in memory at the kill may be lost: reads served in the
//!   last second before the kill; the count is printed (usually 0).
//! - `network_cut_loses_nothing_and_replays_historical`: the agent reaches the broker
//!   through a TCP proxy that drops every connection and refuses new ones for 30 s; what was
//!   sampled meanwhile arrives afterwards, marked `historical`.
//! - `plc_outage_gives_bad_quality_then_good`: the simulator drops its clients and is
//!   SIGKILLed for 3 s, then restarted on the same port; the outage is stored as bad-quality
//!   points (no value, a reason), then good points resume and the latest value is good.
//!
//! - `spool_limit_drops_oldest_and_counts_exactly`: a 64 KiB spool and a 15 s network cut:
//!   the agent drops the oldest batches; the served points missing from storage are the
//!   `dropped_points` it reports (status → `GET /api/v1/agents`) less at most its
//!   `dropped_unconfirmed_points` (in flight when the cut came: the broker may have them),
//!   they are the oldest of the outage, and the newest were kept and delivered.
//!
//! The broker outage at ≥ 5,000 points/s is `outage_at_scale.rs` (it needs the machine to
//! itself).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::ensure;
use protocols::model::now_ns;
use tests::faults::mosquitto::Mosquitto;
use tests::faults::observer::{Observer, SeenPoint, observed};
use tests::faults::proxy::Proxy;
use tests::faults::reconcile::{FinishOptions, finish as reconcile, raw_history, tag_sources};
use tests::peers;
use tests::stack::{Backend, Stack, StackOptions};

/// Bound on one whole test.
const TEST: Duration = Duration::from_secs(150);
/// Bound on one wait for a condition (storage catch-up, a value showing up).
const DEADLINE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------
// Set-up shared by the tests.

/// Private mosquitto, observer, and the stack (3 machines, ticking plant, 100 ms polls,
/// aggregator on the private broker with SQLite). `proxy` puts a `Proxy` between the agent
/// and the broker; `agent_extra` is appended to the agent's config. `None` when mosquitto
/// is missing outside CI.
async fn start(
    test: &str,
    proxy: bool,
    agent_extra: &str,
) -> Option<(Mosquitto, Option<Proxy>, Observer, Stack)> {
    let mosquitto = peers::require(test, "mosquitto binary", Mosquitto::start().await)?;
    let proxy = if proxy {
        Some(Proxy::start(mosquitto.addr.clone()).await.unwrap())
    } else {
        None
    };
    let observer = Observer::start(&mosquitto.addr).await.unwrap();
    let stack = Stack::start(StackOptions {
        machines: 3,
        tick: Duration::from_millis(100),
        poll_interval: "100ms",
        backend: Backend::ExternalSqlite {
            broker: mosquitto.addr.clone(),
        },
        agent_broker: proxy.as_ref().map(|p| p.addr.to_string()),
        agent_extra: agent_extra.to_owned(),
        ..Default::default()
    })
    .await
    .unwrap();
    Some((mosquitto, proxy, observer, stack))
}

/// Waits until the first tag has at least `n` stored points: data is flowing.
async fn wait_flowing(stack: &Stack, n: usize) -> anyhow::Result<()> {
    let tag = tag_sources(stack)[0].tag.clone();
    stack
        .api
        .wait_for("data flowing into storage", DEADLINE, |api| {
            let tag = tag.clone();
            async move { Ok((raw_history(&api, &tag).await?.len() >= n).then_some(())) }
        })
        .await
}

/// Once data flows, cuts the network between agent and broker for `secs` seconds, then
/// waits until something sampled after the restore was delivered (reconnected). Returns
/// when the cut began and ended (ns).
async fn cut_network(
    stack: &Stack,
    proxy: &Proxy,
    observer: &Observer,
    secs: u64,
) -> anyhow::Result<(i64, i64)> {
    wait_flowing(stack, 5).await?;
    tokio::time::sleep(Duration::from_secs(2)).await; // data flows
    proxy.cut();
    let cut = now_ns();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let restored = now_ns();
    proxy.restore();
    observer.wait_sampled_after(restored, DEADLINE).await?;
    Ok((cut, restored))
}

fn finish(result: Result<anyhow::Result<()>, tokio::time::error::Elapsed>, stack: &Stack) {
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{e:#}\n{}", stack.logs()),
        Err(_) => panic!("test timed out\n{}", stack.logs()),
    }
}

// ---------------------------------------------------------------------------------------
// The tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregator_sigkill_loses_nothing() {
    let test = "aggregator_sigkill_loses_nothing";
    let Some((_mosquitto, _, observer, mut stack)) = start(test, false, "").await else {
        return;
    };
    let result = tokio::time::timeout(TEST, async {
        wait_flowing(&stack, 5).await?;
        tokio::time::sleep(Duration::from_secs(3)).await; // data flows
        stack.aggregator.kill().await?;
        let down = now_ns();
        tokio::time::sleep(Duration::from_secs(3)).await; // the outage
        let up = now_ns();
        stack.restart_aggregator().await?;
        tokio::time::sleep(Duration::from_secs(2)).await; // live data after the restart
        let tally = reconcile(test, &mut stack, Some(&observer), FinishOptions::default()).await?;
        let during = observed(&observer.snapshot())
            .iter()
            .filter(|(_, ts)| (down..up).contains(ts))
            .count();
        eprintln!("{test}: {during} points sampled while the aggregator was down, all stored");
        ensure!(during > 0, "nothing sampled during the outage");
        ensure!(tally.lost == 0 && tally.stored_good == tally.served);
        Ok(())
    })
    .await;
    finish(result, &stack);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_cut_loses_nothing_and_replays_historical() {
    let test = "network_cut_loses_nothing_and_replays_historical";
    let Some((_mosquitto, proxy, observer, mut stack)) = start(test, true, "").await else {
        return;
    };
    let proxy = proxy.unwrap();
    let result = tokio::time::timeout(TEST, async {
        let (cut, restored) = cut_network(&stack, &proxy, &observer, 30).await?;
        tokio::time::sleep(Duration::from_secs(2)).await; // live data and the replay
        reconcile(test, &mut stack, Some(&observer), FinishOptions::default()).await?;

        // Batches sampled during the cut (half a second after it, so the agent has seen
        // the connection drop) came back from the backlog, marked historical.
        let seen = observer.snapshot();
        let window = cut + 500_000_000..restored;
        let mut in_cut: BTreeMap<u64, bool> = BTreeMap::new();
        for s in &seen {
            if !s.points.is_empty() && s.points.iter().all(|p| window.contains(&p.ts)) {
                *in_cut.entry(s.seq).or_default() |= s.historical;
            }
        }
        let live_only: Vec<u64> = in_cut.iter().filter(|e| !e.1).map(|e| *e.0).collect();
        eprintln!(
            "{test}: {} batches sampled during the cut arrived afterwards, historical",
            in_cut.len()
        );
        ensure!(
            in_cut.len() >= 10,
            "only {} batches sampled during the cut",
            in_cut.len()
        );
        ensure!(
            live_only.is_empty(),
            "batches sampled during the cut never arrived marked historical: {live_only:?}"
        );
        Ok(())
    })
    .await;
    finish(result, &stack);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plc_outage_gives_bad_quality_then_good() {
    let test = "plc_outage_gives_bad_quality_then_good";
    let Some((_mosquitto, _, observer, mut stack)) = start(test, false, "").await else {
        return;
    };
    let result = tokio::time::timeout(TEST, async {
        let m0 = stack.map.entries[0].clone();
        let asset = stack.asset(&m0);
        let tag = stack.tag(&m0, &m0.signals[0].name);
        wait_flowing(&stack, 5).await?;
        // The simulator comes back on the same port, because that is what the agent's
        // config names. Tiny race: between the kill and the restart another process could
        // take the freed port; the restart would then fail loudly, not silently pass.
        // `disconnect` first, so no answer is on the wire at the kill and the served-reads
        // ledger is exact.
        let port = m0.port;
        for machine in 0..stack.map.machines {
            stack.fault(&format!("disconnect {machine}")).await?;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        stack.sim.kill().await?;
        let down = now_ns();
        let s = &stack;
        let bad = stack
            .api
            .wait_for("bad quality with a reason in latest", DEADLINE, |_| {
                let (asset, tag) = (asset.clone(), tag.clone());
                async move {
                    let rows = s.latest(&asset).await?;
                    Ok(rows
                        .into_iter()
                        .find(|r| r["tag"] == tag.as_str() && r["quality"] == "bad"))
                }
            })
            .await?;
        ensure!(bad["value"].is_null(), "{bad}");
        ensure!(
            bad["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{bad}"
        );
        tokio::time::sleep(Duration::from_secs(3)).await; // the outage
        stack.restart_sim(port).await?;
        let up = now_ns();
        let s = &stack;
        stack
            .api
            .wait_for("good latest values again", DEADLINE, |_| {
                let (asset, m0) = (asset.clone(), m0.clone());
                async move {
                    let rows = s.latest(&asset).await?;
                    Ok((rows.len() == m0.signals.len()
                        && rows.iter().all(|r| {
                            r["quality"] == "good" && r["source_ts_ns"].as_i64() > Some(up)
                        }))
                    .then_some(()))
                }
            })
            .await?;
        tokio::time::sleep(Duration::from_secs(1)).await; // good points after the restart

        // Raw history: good, then bad (no value) during the outage, then good again.
        let raw = raw_history(&stack.api, &tag).await?;
        let quality = |range: std::ops::Range<i64>, q: &str| {
            raw.iter()
                .filter(|(ts, p)| range.contains(ts) && p["quality"] == q)
                .count()
        };
        let bad_during = quality(down..up, "bad");
        let good_after = quality(up..i64::MAX, "good");
        let bad_after = quality(up..i64::MAX, "bad");
        eprintln!(
            "{test}: {tag}: {} good before, {bad_during} bad during the outage, \
             {good_after} good and {bad_after} bad after the restart",
            quality(0..down, "good")
        );
        ensure!(bad_during > 0, "no bad points during the outage");
        ensure!(good_after > 0, "no good points after the restart");
        for (ts, p) in raw.iter().filter(|(_, p)| p["quality"] == "bad") {
            ensure!(p["value"].is_null(), "bad point with a value at {ts}: {p}");
        }
        reconcile(test, &mut stack, Some(&observer), FinishOptions::default()).await?;
        // Every bad point the agent sent carries a reason (the history API shows none).
        let seen = observer.snapshot();
        let bad: Vec<&SeenPoint> = seen
            .iter()
            .flat_map(|s| &s.points)
            .filter(|p| !p.good)
            .collect();
        ensure!(!bad.is_empty(), "the agent sent no bad points");
        for p in &bad {
            ensure!(
                p.reason.as_deref().is_some_and(|r| !r.is_empty()),
                "bad point without a reason: {p:?}"
            );
        }
        Ok(())
    })
    .await;
    finish(result, &stack);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_sigkill_loses_nothing() {
    let test = "agent_sigkill_loses_nothing";
    let Some((_mosquitto, _, observer, mut stack)) = start(test, false, "").await else {
        return;
    };
    let result = agent_sigkill(test, &mut stack, Some(&observer), true).await;
    finish(result, &stack);
}

/// The same on the aggregator's embedded broker (rumqttd); no observer there (it could only
/// subscribe after the stack started), so the served = stored check stands alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_sigkill_loses_nothing_embedded_broker() {
    let test = "agent_sigkill_loses_nothing_embedded_broker";
    let mut stack = Stack::start(StackOptions {
        machines: 3,
        tick: Duration::from_millis(100),
        poll_interval: "100ms",
        backend: Backend::Embedded,
        ..Default::default()
    })
    .await
    .unwrap();
    let result = agent_sigkill(test, &mut stack, None, true).await;
    finish(result, &stack);
}

/// `state` and `offline_reason` of the stack's agent in `GET /api/v1/agents`.
async fn presence(stack: &Stack) -> anyhow::Result<(String, String)> {
    let agents = stack.api.get("/api/v1/agents").await?;
    let a = agents
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|a| a["agent"] == stack.opts.agent_id.as_str())
        })
        .cloned()
        .unwrap_or_default();
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("null").to_owned();
    Ok((text(&a["state"]), text(&a["offline_reason"])))
}

/// Kills the agent mid-stream, checks it is reported offline (by its Last Will within 5 s
/// when `expect_will`), restarts it on the same spool and reconciles. Only points it held in
/// memory at the kill may be lost.
async fn agent_sigkill(
    test: &str,
    stack: &mut Stack,
    observer: Option<&Observer>,
    expect_will: bool,
) -> Result<anyhow::Result<()>, tokio::time::error::Elapsed> {
    tokio::time::timeout(TEST, async {
        wait_flowing(stack, 5).await?;
        tokio::time::sleep(Duration::from_secs(3)).await; // data flows
        ensure!(presence(stack).await?.0 == "online");
        stack.agent.kill().await?;
        let killed = now_ns();
        // Presence: the Last Will, or (a broker that never publishes it, a partition) the
        // aggregator's silence rule after 30 s without a message.
        let s = &*stack;
        let (_, reason) = stack
            .api
            .wait_for(
                "the agent reported offline",
                Duration::from_secs(45),
                |_| async move {
                    let (state, reason) = presence(s).await?;
                    Ok((state == "offline").then_some(((), reason)))
                },
            )
            .await?;
        let after = (now_ns() - killed) as f64 / 1e9;
        eprintln!("{test}: the killed agent was reported offline ({reason}) after {after:.1} s");
        if expect_will {
            ensure!(
                reason == "lost" && after < 5.0,
                "the Last Will should report the agent lost at once, got {reason} after {after:.1} s"
            );
        }
        stack.restart_agent().await?;
        let restarted = now_ns();
        match observer {
            Some(o) => o.wait_sampled_after(restarted, DEADLINE).await?,
            None => wait_stored_after(stack, restarted).await?,
        }
        ensure!(
            presence(stack).await?.0 == "online",
            "online again after the restart"
        );
        tokio::time::sleep(Duration::from_secs(2)).await; // live data after the restart
        let options = FinishOptions {
            may_lose: Some(killed - 1_000_000_000..killed),
            ..FinishOptions::default()
        };
        let tally = reconcile(test, stack, observer, options).await?;
        eprintln!(
            "{test}: {} points held only in the killed agent's memory were lost \
             (served in the last second before the SIGKILL)",
            tally.lost
        );
        if let Some(o) = observer {
            let sessions: std::collections::BTreeSet<u64> =
                o.snapshot().iter().map(|s| s.session).collect();
            ensure!(
                sessions.len() == 1,
                "the restarted agent must continue its session: {sessions:?}"
            );
        }
        Ok(())
    })
    .await
}

/// Waits until the first tag has a point sampled after `ts_ns` in storage.
async fn wait_stored_after(stack: &Stack, ts_ns: i64) -> anyhow::Result<()> {
    let tag = tag_sources(stack)[0].tag.clone();
    stack
        .api
        .wait_for("data sampled after the restart stored", DEADLINE, |api| {
            let tag = tag.clone();
            async move {
                let raw = raw_history(&api, &tag).await?;
                Ok(raw.iter().any(|(ts, _)| *ts > ts_ns).then_some(()))
            }
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_limit_drops_oldest_and_counts_exactly() {
    let test = "spool_limit_drops_oldest_and_counts_exactly";
    let extra = "\n[spool]\nmax_bytes = \"64KiB\"\n";
    let Some((_mosquitto, proxy, observer, mut stack)) = start(test, true, extra).await else {
        return;
    };
    let proxy = proxy.unwrap();
    let result = tokio::time::timeout(TEST, async {
        let (cut, restored) = cut_network(&stack, &proxy, &observer, 15).await?;
        tokio::time::sleep(Duration::from_secs(2)).await; // live data and the replay
        let options = FinishOptions {
            counted_drops: true,
            ..FinishOptions::default()
        };
        let tally = reconcile(test, &mut stack, Some(&observer), options).await?;
        let d = tally.dropped.unwrap_or_default();
        let (batches, points) = (d.batches, d.points);
        ensure!(batches > 0 && points > 0, "nothing was dropped: {tally:?}");
        // The drops are the oldest of the outage: nothing sampled in their time span was
        // kept (half a second of slack at both ends: devices' batches interleave), and
        // points sampled after the last drop, still during the cut, were delivered.
        // (The agent reconnects a few seconds after the restore, with backoff: drops go on
        // until then.)
        let first = tally.lost_points.first().map_or(0, |p| p.1);
        let last = tally.lost_points.last().map_or(0, |p| p.1);
        ensure!(
            first >= cut - 2_000_000_000,
            "drops before the outage: first at {first}, cut at {cut}"
        );
        let good = |range: std::ops::Range<i64>, backlog: bool| {
            observer
                .snapshot()
                .iter()
                .filter(|s| !backlog || s.historical)
                .flat_map(|s| s.points.clone())
                .filter(|p| p.good && range.contains(&p.ts))
                .count()
        };
        let kept_inside = good(first + 500_000_000..last - 500_000_000, false);
        let kept_after = good(last + 500_000_000..i64::MAX, true);
        eprintln!(
            "{test}: dropped {batches} batches / {points} points, sampled {:.1}..{:.1} s \
             into the {:.0} s cut; {kept_after} newer points kept and delivered from the \
             backlog",
            (first - cut) as f64 / 1e9,
            (last - cut) as f64 / 1e9,
            (restored - cut) as f64 / 1e9
        );
        ensure!(
            kept_inside == 0,
            "{kept_inside} points kept among the dropped ones"
        );
        ensure!(kept_after > 0, "the newest data of the outage was not kept");
        Ok(())
    })
    .await;
    finish(result, &stack);
}
