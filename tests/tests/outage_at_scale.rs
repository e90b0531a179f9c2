//! Fault test 1 of issue 4: the broker is stopped for 60 s while the agent samples at least
//! 5,000 points/s, then restarted. Nothing served may be lost or stored twice.
//!
//! 60 machines (about 560 tags) polled every 100 ms through a private `mosquitto` (clean
//! stop, persistence on, as a production broker) into the aggregator on SQLite. During the
//! outage the agent spools everything; after the restart live data goes first and the
//! backlog drains behind it (`[spool] replay_rate = 5000` batches/s here; the default 500
//! would need many minutes for a backlog of this size). The test prints the sampling rate,
//! `served / stored / duplicates`, and the backlog drain rate as the observer saw it.
//! In its own test binary so nothing else competes for the two cores.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use anyhow::ensure;
use protocols::model::now_ns;
use tests::faults::mosquitto::Mosquitto;
use tests::faults::observer::Observer;
use tests::faults::reconcile::{FinishOptions, finish as reconcile, raw_history, tag_sources};
use tests::peers;
use tests::stack::{Backend, Stack, StackOptions};

const TEST: &str = "broker_stopped_60s_at_5000_points_per_second";
const OUTAGE: Duration = Duration::from_secs(60);
const MACHINES: usize = 60;
const MIN_RATE: f64 = 5000.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_stopped_60s_at_5000_points_per_second() {
    let Some(mut mosquitto) = peers::require(TEST, "mosquitto binary", Mosquitto::start().await)
    else {
        return;
    };
    let observer = Observer::start(&mosquitto.addr).await.unwrap();
    let mut stack = Stack::start(StackOptions {
        machines: MACHINES,
        tick: Duration::from_millis(100),
        poll_interval: "100ms",
        backend: Backend::ExternalSqlite {
            broker: mosquitto.addr.clone(),
        },
        agent_extra: "\n[spool]\nreplay_rate = 5000\n".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let result = tokio::time::timeout(Duration::from_secs(420), async {
        let tag = tag_sources(&stack)[0].tag.clone();
        stack
            .api
            .wait_for(
                "data flowing into storage",
                Duration::from_secs(60),
                |api| {
                    let tag = tag.clone();
                    async move { Ok((raw_history(&api, &tag).await?.len() >= 5).then_some(())) }
                },
            )
            .await?;
        tokio::time::sleep(Duration::from_secs(5)).await; // data flows
        mosquitto.stop().await?;
        let down = now_ns();
        tokio::time::sleep(OUTAGE).await;
        let up = now_ns();
        mosquitto.restart().await?;
        observer
            .wait_sampled_after(up, Duration::from_secs(60))
            .await?;
        let live_again = now_ns();

        // The sampling rate during the outage, from the simulator's ledger.
        let tags = tag_sources(&stack);
        let reads = stack.served()?;
        let during: usize = tags
            .iter()
            .map(|t| {
                reads
                    .iter()
                    .filter(|r| {
                        (down..up).contains(&r.ts_ns)
                            && r.covers(&t.machine, t.table, t.address, t.width)
                    })
                    .count()
            })
            .sum();
        let rate = during as f64 / OUTAGE.as_secs_f64();
        eprintln!(
            "{TEST}: {} tags; {during} points served during the {} s outage ({rate:.0} points/s); \
             first live point {:.1} s after the restart",
            tags.len(),
            OUTAGE.as_secs(),
            (live_again - up) as f64 / 1e9
        );

        let options = FinishOptions {
            deadline: Duration::from_secs(180),
            ..FinishOptions::default()
        };
        reconcile(TEST, &mut stack, Some(&observer), options).await?;

        // Backlog drain as the observer saw it: historical batches after the restart.
        let seen = observer.snapshot();
        let backlog: Vec<_> = seen
            .iter()
            .filter(|s| s.historical && s.arrived_ns > up)
            .collect();
        let first = backlog.iter().map(|s| s.arrived_ns).min().unwrap_or(up);
        let last = backlog.iter().map(|s| s.arrived_ns).max().unwrap_or(up);
        let points: usize = backlog.iter().map(|s| s.points.len()).sum();
        let secs = ((last - first) as f64 / 1e9).max(1e-3);
        let live_points: usize = seen
            .iter()
            .filter(|s| !s.historical && s.arrived_ns > up && s.arrived_ns <= last)
            .map(|s| s.points.len())
            .sum();
        eprintln!(
            "{TEST}: backlog of {} batches ({points} points) drained in {secs:.1} s: {:.0} \
             batches/s, {:.0} points/s, while {live_points} live points arrived alongside",
            backlog.len(),
            backlog.len() as f64 / secs,
            points as f64 / secs,
        );
        ensure!(
            rate >= MIN_RATE,
            "sampled {rate:.0} points/s during the outage, below {MIN_RATE}"
        );
        ensure!(!backlog.is_empty(), "no backlog was replayed");
        Ok(())
    })
    .await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{e:#}\n{}", stack.logs()),
        Err(_) => panic!("test timed out\n{}", stack.logs()),
    }
}
