//! Store-and-forward across a broker outage: a private mosquitto is stopped for 10 s while
//! the agent polls, then restarted. Every batch produced meanwhile must arrive (sequence
//! numbers 0..=n without gaps; duplicates allowed and counted), nothing may be dropped, the
//! backlog must come back marked `historical`, and live data must not wait behind it.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{
    Mosquitto, Plc, Received, one_plc_config, start_plc, subscribe, unique_agent_id, within,
};
use protocols::codec::Message;
use protocols::model::{AgentId, AssetPath, Batch, Value};
use protocols::topic::Topic;
use tokio_util::sync::CancellationToken;

const OUTAGE: Duration = Duration::from_secs(10);

fn batches(got: &[Received]) -> impl Iterator<Item = &Batch> {
    got.iter().filter_map(|r| match &r.message {
        Message::Batch(b) => Some(b),
        _ => None,
    })
}

fn seqs(got: &[Received]) -> BTreeSet<u64> {
    batches(got).map(|b| b.seq).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_survive_a_broker_outage_and_the_backlog_follows_live_data() {
    let Some(mut mosquitto) = Mosquitto::start().await else {
        return;
    };
    let mut plc = Plc::default();
    plc.input.insert(0, 42);
    let plc_addr = start_plc(plc).await;
    let agent_id = unique_agent_id("outage");
    let text = one_plc_config(
        &agent_id,
        "shutdown_grace = \"3s\"",
        &mosquitto.addr(),
        "replay_rate = 50",
        plc_addr.port(),
        "50ms",
    );
    let mut settings = edge_agent::config::parse(&text, "outage.toml").unwrap();
    let spool_dir = tempfile::tempdir().unwrap();
    settings.spool.dir = spool_dir.path().to_owned();
    settings.agent.data_dir = spool_dir.path().to_owned();
    let agent = AgentId::new(&agent_id).unwrap();
    let asset = AssetPath::new("test/hall/l1/plc").unwrap();
    let topic = Topic::Data { agent, asset }.to_string();
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
        .collect_until(10, "first batches", |g| seqs(g).len() >= 5)
        .await;

    mosquitto.stop().await;
    tokio::time::sleep(OUTAGE).await;
    let spooled = handle.metrics.snapshot().buffered;
    assert!(
        spooled >= 100,
        "{spooled} batches spooled during the outage"
    );
    assert!(mosquitto.spawn().await, "mosquitto restart");
    let produced = handle.metrics.snapshot().polls;

    // Until every batch produced by the restart arrived and the backlog has caught up with
    // the live batches (no gap below the newest).
    let after = sub
        .collect_until(30, "every batch after the restart", |g| {
            let have: BTreeSet<u64> = seqs(&got).union(&seqs(g)).copied().collect();
            let newest = have.last().copied().unwrap_or(0);
            newest >= produced && have.len() as u64 == newest + 1
        })
        .await;
    // Live first: at 50 backlog batches/s the backlog takes seconds, and live batches
    // (not historical, newer than anything in the backlog) arrive in the meantime.
    let backlog_max = batches(&after)
        .filter(|b| b.historical)
        .map(|b| b.seq)
        .max()
        .unwrap();
    let order: Vec<&Batch> = batches(&after).collect();
    let first_live = order
        .iter()
        .position(|b| !b.historical && b.seq > backlog_max)
        .unwrap();
    let last_backlog = order.iter().rposition(|b| b.historical).unwrap();
    assert!(
        first_live < last_backlog,
        "live data went out before the end of the backlog"
    );
    assert!(
        batches(&after).filter(|b| b.historical).count() as u64 >= spooled - 1,
        "the spooled backlog is marked historical"
    );
    got.extend(after);

    let have = seqs(&got);
    let max = *have.last().unwrap();
    assert_eq!(
        have,
        (0..=max).collect::<BTreeSet<_>>(),
        "gap in sequence numbers"
    );
    let mut copies: BTreeMap<u64, u32> = BTreeMap::new();
    for b in batches(&got) {
        assert_eq!(b.session, handle.session);
        assert_eq!(b.points[0].value, Some(Value::UInt(42)));
        *copies.entry(b.seq).or_default() += 1;
    }
    let duplicates: u32 = copies.values().map(|n| n - 1).sum();
    println!(
        "received {} batches, seq 0..={max}, {duplicates} duplicates",
        copies.len()
    );

    shutdown.cancel();
    within(15, "agent shutdown", running)
        .await
        .unwrap()
        .unwrap();
    let m = handle.metrics.snapshot();
    assert_eq!(m.batches_dropped(), 0, "{m:?}");
    assert!(m.batches_acked >= produced, "{m:?}");
    assert_eq!(m.buffered, 0, "everything acknowledged: {m:?}");
    mosquitto.stop().await;
}
