//! The agent binary is killed with SIGKILL (once mid-stream, once during a broker outage
//! with a backlog on disk) and restarted on the same spool directory. Every sequence number
//! must eventually arrive (0..=n, no gap), each seq must always carry the same batch (no
//! seq reused for different data), the session must stay the same across restarts, and the
//! batches sampled during the outage must be delivered by the next run. Duplicates are
//! allowed (at-least-once) and reported.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{Mosquitto, Plc, Received, one_plc_config, start_plc, subscribe, unique_agent_id};
use protocols::codec::Message;
use protocols::model::{AgentId, AssetPath, Batch, now_ns};
use protocols::topic::Topic;
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_edge-agent");

fn batches(got: &[Received]) -> impl Iterator<Item = &Batch> {
    got.iter().filter_map(|r| match &r.message {
        Message::Batch(b) => Some(b),
        _ => None,
    })
}

fn seqs<'a>(got: impl IntoIterator<Item = &'a Received>) -> BTreeSet<u64> {
    got.into_iter()
        .filter_map(|r| match &r.message {
            Message::Batch(b) => Some(b.seq),
            _ => None,
        })
        .collect()
}

fn spawn(config: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(BIN)
        .args(["run", "--config"])
        .arg(config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

async fn sigkill(mut child: Child) {
    child.start_kill().unwrap();
    let status = common::within(10, "agent killed", child.wait())
        .await
        .unwrap();
    assert_eq!(status.code(), None, "killed by a signal");
}

/// Receives until every seq from 0 to the newest arrived and `more` holds.
async fn until_contiguous(
    sub: &mut common::Subscriber,
    got: &mut Vec<Received>,
    what: &str,
    mut more: impl FnMut(&BTreeSet<u64>) -> bool,
) {
    let before = got.clone();
    let new = sub
        .collect_until(30, what, |g| {
            let have: BTreeSet<u64> = seqs(before.iter().chain(g)).into_iter().collect();
            let newest = have.last().copied().unwrap_or(0);
            have.len() as u64 == newest + 1 && more(&have)
        })
        .await;
    got.extend(new);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_sequence_number_is_lost_when_the_agent_is_killed() {
    let Some(mut mosquitto) = Mosquitto::start().await else {
        return;
    };
    let plc_addr = start_plc(Plc::default()).await;
    let agent_id = unique_agent_id("killed");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    let log = dir.path().join("agent.log");
    let text = one_plc_config(
        &agent_id,
        &format!("data_dir = \"{}\"", dir.path().join("data").display()),
        &mosquitto.addr(),
        "",
        plc_addr.port(),
        "50ms",
    );
    std::fs::write(&config, text).unwrap();
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
    let mut got = Vec::new();

    // Run 1, killed mid-stream.
    let agent = spawn(&config, &log);
    until_contiguous(&mut sub, &mut got, "run 1 publishes", |h| h.len() >= 20).await;
    sigkill(agent).await;
    let run1_max = *seqs(&got).last().unwrap();

    // Run 2 continues the sequence; then the broker goes away and run 2 is killed with a
    // backlog in its spool.
    let agent = spawn(&config, &log);
    until_contiguous(&mut sub, &mut got, "run 2 publishes", |h| {
        h.last().is_some_and(|n| *n >= run1_max + 20)
    })
    .await;
    mosquitto.stop().await;
    let outage_from = now_ns();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let outage_to = now_ns();
    sigkill(agent).await;
    assert!(mosquitto.spawn().await, "mosquitto restart");
    let run2_max = *seqs(&got).last().unwrap();

    // Run 3 sends run 2's backlog and goes on.
    let agent = spawn(&config, &log);
    until_contiguous(&mut sub, &mut got, "run 3 sends the backlog", |h| {
        h.last().is_some_and(|n| *n >= run2_max + 60)
    })
    .await;

    let mut by_seq: BTreeMap<u64, Vec<&Batch>> = BTreeMap::new();
    for b in batches(&got) {
        by_seq.entry(b.seq).or_default().push(b);
    }
    let session = by_seq[&0][0].session;
    for (seq, copies) in &by_seq {
        for b in copies {
            assert_eq!(b.session, session, "one session across restarts");
            assert_eq!(
                b.points, copies[0].points,
                "seq {seq} carried two different batches"
            );
        }
    }
    let in_outage = by_seq
        .values()
        .filter(|c| (outage_from..outage_to).contains(&c[0].points[0].ts_ns))
        .count();
    assert!(
        in_outage >= 20,
        "only {in_outage} batches sampled during the 2 s outage arrived"
    );
    let duplicates: usize = by_seq.values().map(|c| c.len() - 1).sum();
    println!(
        "received seq 0..={}, {duplicates} duplicates, {in_outage} sampled during the outage",
        by_seq.len() - 1
    );
    drop(agent);
    mosquitto.stop().await;
}
