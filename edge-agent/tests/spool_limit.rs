//! A tiny spool (`max_bytes = "4KiB"`) during a broker outage: the oldest batches are
//! discarded to make room, every discarded batch and point is counted exactly (the count
//! equals the sequence numbers that never arrive), and the newest batches are the ones
//! kept and delivered after the broker returns.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{
    Mosquitto, Plc, Received, one_plc_config, start_plc, subscribe, unique_agent_id, within,
};
use protocols::codec::Message;
use protocols::model::{AgentId, AssetPath};
use protocols::topic::Topic;
use tokio_util::sync::CancellationToken;

fn seqs(got: &[Received]) -> BTreeSet<u64> {
    got.iter()
        .filter_map(|r| match &r.message {
            Message::Batch(b) => Some(b.seq),
            _ => None,
        })
        .collect()
}

fn missing(have: &BTreeSet<u64>) -> Vec<u64> {
    let newest = have.last().copied().unwrap_or(0);
    (0..newest).filter(|s| !have.contains(s)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_drops_the_oldest_and_counts_exactly() {
    let Some(mut mosquitto) = Mosquitto::start().await else {
        return;
    };
    let plc_addr = start_plc(Plc::default()).await;
    let agent_id = unique_agent_id("limit");
    let text = one_plc_config(
        &agent_id,
        "shutdown_grace = \"3s\"",
        &mosquitto.addr(),
        "max_bytes = \"4KiB\"",
        plc_addr.port(),
        "100ms",
    );
    let mut settings = edge_agent::config::parse(&text, "limit.toml").unwrap();
    let spool_dir = tempfile::tempdir().unwrap();
    settings.spool.dir = spool_dir.path().to_owned();
    settings.agent.data_dir = spool_dir.path().to_owned();
    let topic = Topic::Data {
        agent: AgentId::new(&agent_id).unwrap(),
        asset: AssetPath::new("test/hall/l1/plc").unwrap(),
    }
    .to_string();
    let mut sub = subscribe(
        &mosquitto.addr(),
        &format!("{agent_id}-sub"),
        &[topic],
        true,
    )
    .await;

    let shutdown = CancellationToken::new();
    let (handle, run) = edge_agent::app::start(settings, shutdown.clone());
    let running = tokio::spawn(run);
    let mut got = sub
        .collect_until(10, "first batches", |g| seqs(g).len() >= 3)
        .await;

    mosquitto.stop().await;
    within(30, "the spool overflows", async {
        while handle.metrics.snapshot().batches_dropped_spool < 20 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let kept = handle.metrics.snapshot().buffered;
    assert!(kept >= 5, "the spool still holds the newest {kept}");
    assert!(mosquitto.spawn().await, "mosquitto restart");
    let produced = handle.metrics.snapshot().polls;

    let metrics = std::sync::Arc::clone(&handle.metrics);
    got.extend(
        sub.collect_until(30, "the kept batches and new ones", |g| {
            let have: BTreeSet<u64> = seqs(&got).union(&seqs(g)).copied().collect();
            let dropped = metrics.snapshot().batches_dropped_spool;
            have.last().is_some_and(|n| *n >= produced + 5)
                && missing(&have).len() as u64 == dropped
        })
        .await,
    );
    shutdown.cancel();
    within(15, "agent shutdown", running)
        .await
        .unwrap()
        .unwrap();

    let m = handle.metrics.snapshot();
    let have = seqs(&got);
    let lost = missing(&have);
    assert_eq!(lost.len() as u64, m.batches_dropped_spool, "{m:?}");
    assert_eq!(
        m.points_dropped_spool, m.batches_dropped_spool,
        "one point per batch"
    );
    assert_eq!(m.batches_dropped(), m.batches_dropped_spool, "{m:?}");
    // The oldest of the outage went: one contiguous run, everything after it arrived.
    let (first, last) = (lost[0], *lost.last().unwrap());
    assert_eq!(
        lost,
        (first..=last).collect::<Vec<_>>(),
        "drops are the oldest"
    );
    assert!(
        first >= 3,
        "batches acked before the outage are never dropped"
    );
    println!(
        "dropped seq {first}..={last} ({} batches, {} points), kept and delivered {}..={}",
        m.batches_dropped_spool,
        m.points_dropped_spool,
        last + 1,
        have.last().unwrap()
    );
    mosquitto.stop().await;
}
