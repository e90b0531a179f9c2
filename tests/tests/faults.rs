//! Faults end to end: the whole stack as processes, with a private `mosquitto` the test owns,
//! one fault injected mid-stream, and then a full reconciliation of what the agent sent with
//! what the aggregator stored.
//!
//! How "produced" is known without simulator support: an observer (rumqttc, QoS 1, a
//! persistent session with a fixed client id) subscribes to every data topic of the private
//! broker *before* the agent starts, so it receives every batch the broker accepted, however
//! often it was redelivered. The agent numbers its batches 0, 1, 2, ... per session, so the
//! observer itself is checked: no seq in `0..=max` may be missing. Every poll of a tag
//! carries a unique source timestamp, so the set of `(tag, ts)` the observer saw is what
//! was produced; the API's raw history (`from=0`, `max_points=100000`) is what was stored.
//! Each test stops the agent with SIGTERM so production ends, waits (with a deadline) until
//! storage has caught up, and asserts storage equals the observed set exactly (zero loss)
//! and holds no `(tag, ts)` twice (zero duplicates). Batches still unacknowledged in the
//! agent's spool when it stops were never accepted by the broker; they are neither
//! produced nor stored here (they would go out on the agent's next start).
//!
//! - `aggregator_sigkill_loses_nothing`: the aggregator is SIGKILLed for 3 s while the
//!   broker queues for its persistent session, then restarted on the same data dir.
//! - `network_cut_loses_nothing_and_replays_historical`: the agent reaches the broker
//!   through a TCP proxy that drops every connection and refuses new ones for 5 s; what was
//!   sampled meanwhile arrives afterwards, marked `historical`.
//! - `plc_outage_gives_bad_quality_then_good`: the simulator is SIGKILLed for 3 s and
//!   restarted on the same port; the outage is stored as bad-quality points (no value, a
//!   reason), then good points resume and the latest value is good again.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use protocols::codec::{self, Message};
use protocols::model::now_ns;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use tests::api::{Api, q};
use tests::peers;
use tests::stack::{Backend, Stack, StackOptions};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Bound on one whole test.
const TEST: Duration = Duration::from_secs(90);
/// Bound on one wait for a condition (storage catch-up, a value showing up).
const DEADLINE: Duration = Duration::from_secs(30);
/// Bound on the agent's clean stop.
const GRACE: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------
// Peers: a private mosquitto, a cuttable TCP proxy, an observing subscriber.

/// A `mosquitto` on a free port, killed on drop.
struct Mosquitto {
    addr: String,
    _dir: tempfile::TempDir,
    _child: tokio::process::Child,
}

impl Mosquitto {
    /// Starts mosquitto and waits (with a deadline) until it listens. The port is picked
    /// by binding port 0 and releasing it, as mosquitto cannot report a port it chose.
    async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        // mosquitto started as root drops to its own user, which must read its directory.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let conf = dir.path().join("mosquitto.conf");
        // The aggregator's persistent session must hold everything queued while it is down.
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 max_queued_messages 100000\nlog_dest stderr\nlog_type error\n\
                 log_type warning\nlog_type notice\nlog_type information\n"
            ),
        )?;
        let mut child = tokio::process::Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("spawn mosquitto")?;
        let mut lines = BufReader::new(child.stderr.take().context("stderr")?).lines();
        let listening = async {
            let mut seen = Vec::new();
            while let Some(line) = lines.next_line().await? {
                if line.contains("Opening ipv4 listen socket") {
                    return anyhow::Ok(());
                }
                seen.push(line);
            }
            bail!("mosquitto exited before listening:\n{}", seen.join("\n"))
        };
        tokio::time::timeout(Duration::from_secs(10), listening)
            .await
            .context("mosquitto not listening within 10 s")??;
        // Keep draining its log so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            addr: format!("127.0.0.1:{port}"),
            _dir: dir,
            _child: child,
        })
    }
}

/// A TCP proxy on 127.0.0.1 port 0 in front of `upstream`. [`Proxy::cut`] drops every live
/// connection and makes new ones close at once; [`Proxy::restore`] lets them through again.
struct Proxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    generation: Arc<watch::Sender<u64>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let open = Arc::new(AtomicBool::new(true));
        let generation = Arc::new(watch::channel(0u64).0);
        let accept = tokio::spawn({
            let open = open.clone();
            let generation = generation.clone();
            async move {
                loop {
                    let Ok((mut client, _)) = listener.accept().await else {
                        continue;
                    };
                    // Subscribe before looking at `open`: a cut between the two is then
                    // either seen as closed or as a change of generation, never missed.
                    let mut cut = generation.subscribe();
                    if !open.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let upstream = upstream.clone();
                    tokio::spawn(async move {
                        let connect = TcpStream::connect(&upstream);
                        let Ok(Ok(mut server)) =
                            tokio::time::timeout(Duration::from_secs(5), connect).await
                        else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            }
        });
        Ok(Self {
            addr,
            open,
            generation,
            accept,
        })
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// One point as the observer saw it.
#[derive(Clone, Debug)]
struct SeenPoint {
    tag: String,
    ts: i64,
    good: bool,
    reason: Option<String>,
}

/// One data message as the observer saw it.
#[derive(Clone, Debug)]
struct Seen {
    session: u64,
    seq: u64,
    historical: bool,
    points: Vec<SeenPoint>,
}

/// A QoS 1 subscriber with a persistent session on every data topic of the broker.
struct Observer {
    seen: Arc<Mutex<Vec<Seen>>>,
    errors: Arc<Mutex<Vec<String>>>,
    _client: AsyncClient,
    task: JoinHandle<()>,
}

impl Observer {
    /// Connects, subscribes and waits for the SUBACK, so nothing published later is missed.
    async fn start(broker: &str) -> anyhow::Result<Self> {
        let (host, port) = broker.rsplit_once(':').context("broker host:port")?;
        let id = format!("faults-observer-{:08x}", rand::random::<u32>());
        let mut options = MqttOptions::new(id, host, port.parse()?);
        options
            .set_keep_alive(Duration::from_secs(5))
            .set_clean_session(false)
            .set_max_packet_size(4 << 20, 4 << 20);
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let (subacked_tx, mut subacked) = tokio::sync::mpsc::channel(1);
        let task = tokio::spawn({
            let seen = seen.clone();
            let errors = errors.clone();
            async move {
                loop {
                    match eventloop.poll().await {
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            match codec::decode(&p.payload) {
                                Ok(Message::Batch(b)) => seen.lock().unwrap().push(Seen {
                                    session: b.session,
                                    seq: b.seq,
                                    historical: b.historical,
                                    points: b
                                        .points
                                        .iter()
                                        .map(|p| SeenPoint {
                                            tag: p.tag.to_string(),
                                            ts: p.ts_ns,
                                            good: p.quality.is_good(),
                                            reason: p.quality.reason().map(str::to_owned),
                                        })
                                        .collect(),
                                }),
                                Ok(other) => errors
                                    .lock()
                                    .unwrap()
                                    .push(format!("{}: not a batch: {other:?}", p.topic)),
                                Err(e) => errors
                                    .lock()
                                    .unwrap()
                                    .push(format!("{}: undecodable: {e}", p.topic)),
                            }
                        }
                        Ok(Event::Incoming(Packet::SubAck(_))) => {
                            let _ = subacked_tx.try_send(());
                        }
                        Ok(_) => {}
                        // rumqttc reconnects on the next poll; the session keeps our queue.
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            }
        });
        client
            .subscribe("sentia/v1/data/#", QoS::AtLeastOnce)
            .await?;
        tokio::time::timeout(Duration::from_secs(10), subacked.recv())
            .await
            .context("no SUBACK within 10 s")?
            .context("observer task ended")?;
        Ok(Self {
            seen,
            errors,
            _client: client,
            task,
        })
    }

    fn snapshot(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------------------
// Reconciliation.

/// Every data tag the agent is configured to poll.
fn all_tags(stack: &Stack) -> Vec<String> {
    stack
        .map
        .entries
        .iter()
        .flat_map(|m| m.signals.iter().map(|s| stack.tag(m, &s.name)))
        .collect()
}

/// Raw history of `tag` over all time: (ts, point JSON); empty while the tag is unknown.
async fn raw_history(api: &Api, tag: &str) -> anyhow::Result<Vec<(i64, Value)>> {
    let path = format!("/api/v1/history?tag={}&from=0&max_points=100000", q(tag));
    let (status, body) = api.get_raw(&path).await?;
    if status == 404 {
        return Ok(Vec::new());
    }
    ensure!(status == 200, "GET {path} -> {status}: {body}");
    let h: Value = serde_json::from_str(&body)?;
    ensure!(
        h["mode"] == "raw",
        "{tag}: history is not raw: {}",
        h["mode"]
    );
    h["points"]
        .as_array()
        .context("points")?
        .iter()
        .map(|p| Ok((p["ts_ns"].as_i64().context("ts_ns")?, p.clone())))
        .collect()
}

/// Every stored `(tag, ts)`, and how many of them were returned more than once.
async fn stored(api: &Api, tags: &[String]) -> anyhow::Result<(BTreeSet<(String, i64)>, usize)> {
    let mut set = BTreeSet::new();
    let mut dups = 0;
    for tag in tags {
        for (ts, _) in raw_history(api, tag).await? {
            if !set.insert((tag.clone(), ts)) {
                dups += 1;
            }
        }
    }
    Ok((set, dups))
}

fn observed(seen: &[Seen]) -> BTreeSet<(String, i64)> {
    seen.iter()
        .flat_map(|s| s.points.iter().map(|p| (p.tag.clone(), p.ts)))
        .collect()
}

/// The observer's own completeness: per session, seqs `0..=max` without a gap.
fn seq_gaps(seen: &[Seen]) -> Vec<String> {
    let mut by_session: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for s in seen {
        by_session.entry(s.session).or_default().insert(s.seq);
    }
    by_session
        .iter()
        .filter_map(|(session, seqs)| {
            let max = *seqs.last()?;
            let missing: Vec<u64> = (0..=max).filter(|s| !seqs.contains(s)).take(10).collect();
            (!missing.is_empty()).then(|| format!("session {session}: missing seqs {missing:?}"))
        })
        .collect()
}

/// Figures of one reconciliation.
struct Tally {
    produced: usize,
    stored: usize,
    duplicates: usize,
    deliveries: usize,
    batches: usize,
}

/// Stops the agent (SIGTERM, so production ends), waits until storage equals what the
/// observer saw (and the observer has stopped receiving), then asserts zero loss and zero
/// duplicates and prints the figures.
async fn stop_and_reconcile(
    test: &str,
    stack: &mut Stack,
    obs: &Observer,
) -> anyhow::Result<Tally> {
    let code = stack.agent.stop(GRACE).await?;
    ensure!(code == Some(0), "agent exit code {code:?}");
    let tags = all_tags(stack);
    let last_count = Mutex::new(usize::MAX);
    let waited = stack
        .api
        .wait_for(
            "storage to equal what the broker delivered",
            DEADLINE,
            |api| {
                let tags = &tags;
                let last_count = &last_count;
                async move {
                    let seen = obs.snapshot();
                    let (stored, dups) = stored(&api, tags).await?;
                    ensure!(dups == 0, "{dups} duplicate (tag, ts) in storage");
                    let steady = std::mem::replace(&mut *last_count.lock().unwrap(), seen.len())
                        == seen.len();
                    let done = steady && seq_gaps(&seen).is_empty() && stored == observed(&seen);
                    Ok(done.then_some(()))
                }
            },
        )
        .await;
    let seen = obs.snapshot();
    let produced = observed(&seen);
    let (stored_set, duplicates) = stored(&stack.api, &tags).await?;
    let tally = Tally {
        produced: produced.len(),
        stored: stored_set.len(),
        duplicates,
        deliveries: seen.iter().map(|s| s.points.len()).sum(),
        batches: seen.len(),
    };
    eprintln!(
        "{test}: produced / stored / duplicates = {} / {} / {} \
         ({} batches, {} point deliveries to the observer incl. redeliveries)",
        tally.produced, tally.stored, tally.duplicates, tally.batches, tally.deliveries
    );
    let errors = obs.errors.lock().unwrap().clone();
    ensure!(errors.is_empty(), "observer errors: {errors:?}");
    let gaps = seq_gaps(&seen);
    ensure!(gaps.is_empty(), "the observer missed batches: {gaps:?}");
    let missing: Vec<_> = produced.difference(&stored_set).take(10).collect();
    let extra: Vec<_> = stored_set.difference(&produced).take(10).collect();
    ensure!(
        missing.is_empty() && extra.is_empty(),
        "storage differs from what was produced: {} missing (e.g. {missing:?}), {} never \
         published (e.g. {extra:?}); wait: {waited:?}",
        produced.difference(&stored_set).count(),
        stored_set.difference(&produced).count(),
    );
    ensure!(duplicates == 0, "{duplicates} duplicates in storage");
    ensure!(tally.produced > 0, "nothing was produced");
    waited?;
    Ok(tally)
}

// ---------------------------------------------------------------------------------------
// Set-up shared by the tests.

/// Private mosquitto, observer, and the stack (3 machines, ticking plant, 100 ms polls,
/// aggregator on the private broker with SQLite). `proxy` puts a [`Proxy`] between the agent
/// and the broker. `None` when mosquitto is missing outside CI.
async fn start(test: &str, proxy: bool) -> Option<(Mosquitto, Option<Proxy>, Observer, Stack)> {
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
        ..Default::default()
    })
    .await
    .unwrap();
    Some((mosquitto, proxy, observer, stack))
}

/// Waits until the first tag has at least `n` stored points: data is flowing.
async fn wait_flowing(stack: &Stack, n: usize) -> anyhow::Result<()> {
    let tag = all_tags(stack)[0].clone();
    stack
        .api
        .wait_for("data flowing into storage", DEADLINE, |api| {
            let tag = tag.clone();
            async move { Ok((raw_history(&api, &tag).await?.len() >= n).then_some(())) }
        })
        .await
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
    let Some((_mosquitto, _, observer, mut stack)) = start(test, false).await else {
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
        let tally = stop_and_reconcile(test, &mut stack, &observer).await?;
        let during = observed(&observer.snapshot())
            .iter()
            .filter(|(_, ts)| (down..up).contains(ts))
            .count();
        eprintln!("{test}: {during} points sampled while the aggregator was down, all stored");
        ensure!(during > 0, "nothing sampled during the outage");
        ensure!(tally.stored == tally.produced);
        Ok(())
    })
    .await;
    finish(result, &stack);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_cut_loses_nothing_and_replays_historical() {
    let test = "network_cut_loses_nothing_and_replays_historical";
    let Some((_mosquitto, proxy, observer, mut stack)) = start(test, true).await else {
        return;
    };
    let proxy = proxy.unwrap();
    let result = tokio::time::timeout(TEST, async {
        wait_flowing(&stack, 5).await?;
        tokio::time::sleep(Duration::from_secs(2)).await; // data flows
        proxy.cut();
        let cut = now_ns();
        tokio::time::sleep(Duration::from_secs(5)).await; // the cut
        let restored = now_ns();
        proxy.restore();
        // Until something sampled after the restore has been delivered: reconnected.
        stack
            .api
            .wait_for("the agent to reconnect", DEADLINE, |_| {
                let seen = observer.snapshot();
                async move {
                    Ok(seen
                        .iter()
                        .any(|s| s.points.iter().any(|p| p.ts > restored))
                        .then_some(()))
                }
            })
            .await?;
        tokio::time::sleep(Duration::from_secs(2)).await; // live data and the replay
        stop_and_reconcile(test, &mut stack, &observer).await?;

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
    let Some((_mosquitto, _, observer, mut stack)) = start(test, false).await else {
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
        let port = m0.port;
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
        stop_and_reconcile(test, &mut stack, &observer).await?;
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
