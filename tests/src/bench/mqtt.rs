//! MQTT on the bench's side: a subscriber that counts delivered points, and a synthetic
//! publisher of `protocols::codec` batches that goes as fast as PUBACKs allow.
//!
//! Topics are built and parsed only with `protocols::topic`.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use protocols::codec::{self, Encoding, Message};
use protocols::model::{AgentId, AssetPath, Batch, Point};
use protocols::topic::{FILTER_ALL_DATA, Topic};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::task::JoinHandle;

fn options(client_id: &str, broker: &str) -> anyhow::Result<MqttOptions> {
    let (host, port) = broker
        .rsplit_once(':')
        .with_context(|| format!("broker address {broker} has no port"))?;
    let mut o = MqttOptions::new(client_id, host, port.parse()?);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_max_packet_size(16 * 1024 * 1024, 16 * 1024 * 1024);
    o.set_clean_session(true);
    Ok(o)
}

/// Counts the points of one agent's data batches as the broker delivers them.
pub(crate) struct PointCounter {
    points: Arc<AtomicU64>,
    assets: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl PointCounter {
    /// Subscribes (QoS 0) to every data topic on `broker`, counting only `agent`'s batches;
    /// returns once the broker acknowledged the subscription.
    pub(crate) async fn start(broker: &str, agent: &str) -> anyhow::Result<Self> {
        let id = format!("bench-counter-{:08x}", rand::random::<u32>());
        let (client, mut events) = AsyncClient::new(options(&id, broker)?, 1024);
        client.subscribe(FILTER_ALL_DATA, QoS::AtMostOnce).await?;
        let points = Arc::new(AtomicU64::new(0));
        let assets = Arc::new(AtomicUsize::new(0));
        let (suback_tx, suback_rx) = tokio::sync::oneshot::channel();
        let agent = AgentId::new(agent)?;
        let task = {
            let (points, assets) = (points.clone(), assets.clone());
            tokio::spawn(async move {
                let _client = client; // dropping it would end the event loop
                let mut suback = Some(suback_tx);
                let mut seen: HashSet<AssetPath> = HashSet::new();
                loop {
                    match events.poll().await {
                        Ok(Event::Incoming(Packet::SubAck(_))) => {
                            if let Some(tx) = suback.take() {
                                let _ = tx.send(());
                            }
                        }
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            let Ok(Topic::Data { agent: a, asset }) = Topic::parse(&p.topic) else {
                                continue;
                            };
                            if a != agent {
                                continue;
                            }
                            if let Ok(Message::Batch(b)) = codec::decode(&p.payload) {
                                points.fetch_add(b.points.len() as u64, Ordering::Relaxed);
                                if seen.insert(asset) {
                                    assets.store(seen.len(), Ordering::Relaxed);
                                }
                            }
                        }
                        Ok(_) => {}
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
            })
        };
        tokio::time::timeout(Duration::from_secs(10), suback_rx)
            .await
            .context("no SUBACK within 10 s")?
            .context("subscriber ended")?;
        Ok(Self {
            points,
            assets,
            task,
        })
    }

    /// Points counted so far.
    pub(crate) fn points(&self) -> u64 {
        self.points.load(Ordering::Relaxed)
    }

    /// Distinct assets seen so far.
    pub(crate) fn assets(&self) -> usize {
        self.assets.load(Ordering::Relaxed)
    }

    /// Waits until batches of `n` distinct assets arrived.
    pub(crate) async fn wait_assets(&self, n: usize, deadline: Duration) -> anyhow::Result<()> {
        let start = std::time::Instant::now();
        while self.assets() < n {
            if start.elapsed() > deadline {
                bail!(
                    "only {} of {n} assets delivered within {deadline:?}",
                    self.assets()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }
}

impl Drop for PointCounter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A synthetic agent publishing batches at QoS 1, up to `inflight` unacknowledged.
pub(crate) struct Publisher {
    client: AsyncClient,
    agent: AgentId,
    session: u64,
    seq: u64,
    published: u64,
    acked: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Publisher {
    /// Connects to `broker` as agent `agent`.
    pub(crate) fn connect(broker: &str, agent: &str, inflight: u16) -> anyhow::Result<Self> {
        let mut o = options(&format!("bench-pub-{agent}"), broker)?;
        o.set_inflight(inflight);
        let (client, mut events) = AsyncClient::new(o, usize::from(inflight));
        let acked = Arc::new(AtomicU64::new(0));
        let task = {
            let acked = acked.clone();
            tokio::spawn(async move {
                loop {
                    match events.poll().await {
                        Ok(Event::Incoming(Packet::PubAck(_))) => {
                            acked.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => {}
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
            })
        };
        Ok(Self {
            client,
            agent: AgentId::new(agent)?,
            session: protocols::model::now_ns().unsigned_abs(),
            seq: 0,
            published: 0,
            acked,
            task,
        })
    }

    /// Publishes one batch of `points` (all of `asset`); waits only when `inflight`
    /// messages are unacknowledged.
    pub(crate) async fn publish(
        &mut self,
        asset: &AssetPath,
        points: Vec<Point>,
    ) -> anyhow::Result<()> {
        let batch = Batch {
            agent: self.agent.clone(),
            session: self.session,
            seq: self.seq,
            asset: asset.clone(),
            historical: false,
            points,
        };
        self.seq += 1;
        let payload = codec::encode(&Message::Batch(batch), Encoding::Binary)?;
        let topic = Topic::Data {
            agent: self.agent.clone(),
            asset: asset.clone(),
        };
        self.client
            .publish(topic.to_string(), QoS::AtLeastOnce, false, payload)
            .await?;
        self.published += 1;
        Ok(())
    }

    /// Waits until every published message was acknowledged by the broker.
    pub(crate) async fn flush(&self, deadline: Duration) -> anyhow::Result<()> {
        let start = std::time::Instant::now();
        while self.acked.load(Ordering::Relaxed) < self.published {
            if start.elapsed() > deadline {
                bail!(
                    "{} of {} messages acknowledged within {deadline:?}",
                    self.acked.load(Ordering::Relaxed),
                    self.published
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.task.abort();
    }
}
