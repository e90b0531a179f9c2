//! Scenario `live`: N WebSocket clients of `GET /api/v1/live` (1,000 and 10,000; 50 in quick
//! mode), each subscribed to one asset of 100 tags (20 in quick mode) that a synthetic
//! publisher updates every 100 ms through the embedded broker into SQLite.
//!
//! Figure: sample-to-client latency, from the source timestamp the publisher puts on a point
//! (taken just before publishing) to the moment a client has parsed the frame carrying it,
//! p50/p99 over every value every client received in the window; also updates received vs
//! published, and the aggregator's CPU and RSS. Same-run reference: the same latency for one
//! client alone, which is what ingest (MQTT, SQLite commit) costs before fan-out.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use protocols::model::now_ns;
use tokio_tungstenite::tungstenite::Message;

use super::Ctx;
use super::aggregator::{Aggregator, BrokerChoice, Storage};
use super::mqtt::Publisher;
use super::proc_stats::{CpuSample, rss_kib};
use super::report::{Row, Val};
use super::synthetic::{Synthetic, points};

const S: &str = "live";
const PERIOD: Duration = Duration::from_millis(100);
/// Clients connected at once while setting up.
const CONNECT_BATCH: usize = 200;

/// What one client saw.
#[derive(Default)]
struct Seen {
    latencies_ms: Vec<f32>,
    values: u64,
}

/// Runs the scenario.
pub(crate) async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let agg = Aggregator::start(ctx, BrokerChoice::Embedded, Storage::Sqlite).await?;
    let pid = agg.proc.pid().context("aggregator exited")?;
    let tag_count = ctx.pick(100, 20);
    let syn = Synthetic::new(1, tag_count)?;
    let (asset, tags) = syn.assets.first().context("asset")?;
    let mut publisher = Publisher::connect(&agg.broker_addr, &syn.agent, 100)?;
    publisher.publish(asset, points(tags, now_ns(), 0)).await?;
    publisher.flush(Duration::from_secs(30)).await?;
    let url = format!("ws://{}/api/v1/live", agg.proc.ready_value("api")?);
    let subscribe =
        serde_json::json!({"type": "subscribe", "assets": [asset.as_str()]}).to_string();
    // The asset must be known before clients can subscribe to it.
    agg.api
        .wait_for("the asset is stored", Duration::from_secs(30), |_| async {
            let body = agg
                .api
                .get(&format!(
                    "/api/v1/tags?asset={}",
                    ::tests::api::q(asset.as_str())
                ))
                .await;
            Ok(body
                .ok()
                .and_then(|b| b.as_array().map(Vec::len))
                .filter(|n| *n == tag_count)
                .map(|_| ()))
        })
        .await?;

    let mut rows = vec![Row::info(
        S,
        format!(
            "data: 1 asset × {tag_count} tags updated every {PERIOD:?}; embedded broker, SQLite"
        ),
        Val::text("each client subscribes to the asset"),
    )];
    let window = ctx.window(10);
    let mut reference: Option<(f64, f64)> = None;
    let mut seed = 1;
    for clients in ctx.pick(vec![1, 1000, 10_000], vec![1, 50]) {
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::with_capacity(clients);
        for chunk_start in (0..clients).step_by(CONNECT_BATCH) {
            let n = CONNECT_BATCH.min(clients - chunk_start);
            let connected = futures_util::future::join_all((0..n).map(|_| {
                let url = url.clone();
                let subscribe = subscribe.clone();
                async move {
                    let (mut ws, _) = tokio::time::timeout(
                        Duration::from_secs(30),
                        tokio_tungstenite::connect_async(url),
                    )
                    .await
                    .context("WebSocket connect timed out")??;
                    ws.send(Message::text(subscribe)).await?;
                    anyhow::Ok(ws)
                }
            }))
            .await;
            for ws in connected {
                let mut ws = ws?;
                let stop = stop.clone();
                tasks.push(tokio::spawn(async move {
                    let mut seen = Seen::default();
                    while !stop.load(Ordering::Relaxed) {
                        let Ok(Some(Ok(msg))) =
                            tokio::time::timeout(Duration::from_millis(200), ws.next()).await
                        else {
                            continue;
                        };
                        let Message::Text(text) = msg else { continue };
                        let Ok(frame) = serde_json::from_str::<serde_json::Value>(text.as_str())
                        else {
                            continue;
                        };
                        if frame["type"] != "values" || frame["snapshot"] == true {
                            continue;
                        }
                        let now = now_ns();
                        for v in frame["values"].as_array().into_iter().flatten() {
                            if let Some(ts) = v["source_ts_ns"].as_i64() {
                                seen.latencies_ms.push(((now - ts) as f64 / 1e6) as f32);
                                seen.values += 1;
                            }
                        }
                    }
                    let _ = ws.close(None).await;
                    seen
                }));
            }
        }
        // Let every client take its snapshot before measuring.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let c0 = CpuSample::take(pid)?;
        let mut published = 0u64;
        let mut tick = tokio::time::interval(PERIOD);
        let end = tokio::time::Instant::now() + window;
        while tokio::time::Instant::now() < end {
            tick.tick().await;
            seed += 1;
            publisher
                .publish(asset, points(tags, now_ns(), seed))
                .await?;
            published += tag_count as u64;
        }
        // Values still in flight arrive within the latency being measured.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let c1 = CpuSample::take(pid)?;
        let rss_mib = rss_kib(pid)? as f64 / 1024.0;
        stop.store(true, Ordering::Relaxed);
        let mut latencies = Vec::new();
        let mut received = 0u64;
        for t in tasks {
            let seen = t.await?;
            received += seen.values;
            latencies.extend(seen.latencies_ms);
        }
        latencies.sort_by(f32::total_cmp);
        let pct = |p: f64| -> f64 {
            if latencies.is_empty() {
                return f64::NAN;
            }
            let i = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1;
            f64::from(latencies[i])
        };
        let (p50, p99) = (pct(0.50), pct(0.99));
        let (cpu_s, wall_s) = c0.until(&c1);
        let expected = published * clients as u64;
        let label = format!("{clients} client{}", if clients == 1 { "" } else { "s" });
        match reference {
            None => {
                rows.push(Row::info(
                    S,
                    format!("{label} (reference): sample-to-client p50 / p99"),
                    Val::text(format!("{p50:.1} / {p99:.1} ms")),
                ));
                reference = Some((p50, p99));
            }
            Some((r50, r99)) => {
                rows.push(
                    Row::info(
                        S,
                        format!("{label}: sample-to-client p50"),
                        Val::Num(p50, "ms"),
                    )
                    .reference(Val::Num(r50, "ms, 1 client")),
                );
                let target = (clients >= 10_000).then_some(200.0);
                let row = Row::info(
                    S,
                    format!("{label}: sample-to-client p99"),
                    Val::Num(p99, "ms"),
                )
                .reference(Val::Num(r99, "ms, 1 client"));
                rows.push(match target {
                    Some(t) => row.target(format!("< {t} ms at 10k clients"), p99 < t),
                    None => row,
                });
            }
        }
        rows.push(Row::info(
            S,
            format!(
                "{label}: values received / published × clients (latest-only coalescing may merge)"
            ),
            Val::text(format!("{received} / {expected}")),
        ));
        rows.push(Row::info(
            S,
            format!("{label}: aggregator CPU / RSS"),
            Val::text(format!(
                "{:.0} % of a core / {rss_mib:.1} MiB",
                100.0 * cpu_s / wall_s
            )),
        ));
    }
    Ok(rows)
}
