//! The observer: an independent MQTT subscriber (rumqttc, QoS 1, persistent session with a
//! fixed client id) on every data topic of the test's broker, started *before* the agent,
//! so it receives every batch the broker accepted, however often it was redelivered. The
//! agent numbers its batches 0, 1, 2, ... per session, so the observer checks itself: no
//! seq in `0..=max` may be missing ([`seq_gaps`]).
//!
//! On every CONNACK without a session (a broker that lost it) it subscribes again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use protocols::codec::{self, Message};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::task::JoinHandle;

/// The data topics.
const FILTER: &str = "sentia/v1/data/#";

/// One point as the observer saw it.
#[derive(Clone, Debug)]
pub struct SeenPoint {
    /// Tag id.
    pub tag: String,
    /// Source timestamp.
    pub ts: i64,
    /// Good quality.
    pub good: bool,
    /// The bad-quality reason, if any.
    pub reason: Option<String>,
}

/// One data message as the observer saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Agent session.
    pub session: u64,
    /// Batch sequence number.
    pub seq: u64,
    /// Marked as backlog.
    pub historical: bool,
    /// When the observer received it (ns since the epoch).
    pub arrived_ns: i64,
    /// Its points.
    pub points: Vec<SeenPoint>,
}

type Shared<T> = Arc<Mutex<Vec<T>>>;

fn push<T>(v: &Shared<T>, item: T) {
    v.lock().unwrap_or_else(PoisonError::into_inner).push(item);
}

/// A QoS 1 subscriber with a persistent session on every data topic of the broker.
pub struct Observer {
    seen: Shared<Seen>,
    errors: Shared<String>,
    _client: AsyncClient,
    task: JoinHandle<()>,
}

impl Observer {
    /// Connects, subscribes and waits for the SUBACK, so nothing published later is missed.
    pub async fn start(broker: &str) -> anyhow::Result<Self> {
        let (host, port) = broker.rsplit_once(':').context("broker host:port")?;
        let id = format!("faults-observer-{:08x}", rand::random::<u32>());
        let mut options = MqttOptions::new(id, host, port.parse()?);
        options
            .set_keep_alive(Duration::from_secs(5))
            .set_clean_session(false)
            .set_max_packet_size(4 << 20, 4 << 20);
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let seen: Shared<Seen> = Arc::default();
        let errors: Shared<String> = Arc::default();
        let (subacked_tx, mut subacked) = tokio::sync::mpsc::channel(1);
        let task = tokio::spawn({
            let (seen, errors, client) = (seen.clone(), errors.clone(), client.clone());
            async move {
                let mut connects = 0u32;
                loop {
                    match eventloop.poll().await {
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            match codec::decode(&p.payload) {
                                Ok(Message::Batch(b)) => push(
                                    &seen,
                                    Seen {
                                        session: b.session,
                                        seq: b.seq,
                                        historical: b.historical,
                                        arrived_ns: protocols::model::now_ns(),
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
                                    },
                                ),
                                Ok(other) => {
                                    push(&errors, format!("{}: not a batch: {other:?}", p.topic));
                                }
                                Err(e) => push(&errors, format!("{}: undecodable: {e}", p.topic)),
                            }
                        }
                        Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                            connects += 1;
                            // The first subscribe is sent below; later connects to a broker
                            // that lost our session subscribe again.
                            if connects > 1 && !ack.session_present {
                                let _ = client.try_subscribe(FILTER, QoS::AtLeastOnce);
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
        client.subscribe(FILTER, QoS::AtLeastOnce).await?;
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

    /// Everything seen so far, in arrival order.
    pub fn snapshot(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits (up to `deadline`) until a point sampled after `ts_ns` has arrived: the agent
    /// is producing and delivering again after a fault.
    pub async fn wait_sampled_after(&self, ts_ns: i64, deadline: Duration) -> anyhow::Result<()> {
        let start = tokio::time::Instant::now();
        while start.elapsed() < deadline {
            let arrived = {
                let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
                seen.iter().any(|s| s.points.iter().any(|p| p.ts > ts_ns))
            };
            if arrived {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("nothing sampled after {ts_ns} arrived within {deadline:?}")
    }

    /// Messages that were not decodable batches.
    pub fn errors(&self) -> Vec<String> {
        self.errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every `(tag, ts)` seen.
pub fn observed(seen: &[Seen]) -> BTreeSet<(String, i64)> {
    seen.iter()
        .flat_map(|s| s.points.iter().map(|p| (p.tag.clone(), p.ts)))
        .collect()
}

/// The observer's own completeness: per session, seqs `0..=max` without a gap.
pub fn seq_gaps(seen: &[Seen]) -> Vec<String> {
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
