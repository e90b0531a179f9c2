//! Scenario `ingest`: points/s the aggregator stores, from the broker (embedded, and the
//! machine's Mosquitto when reachable) into SQLite and PostgreSQL.
//!
//! Load: a synthetic publisher ([`super::mqtt::Publisher`]) sends `protocols::codec` batches
//! of 10 points (about one agent device's batch) over 1,000 tags at QoS 1, as fast as
//! PUBACKs allow (100 in flight), pausing only while more than a bounded backlog of points
//! is published but not yet stored, so the broker's queues stay bounded. The rate is the
//! delta of the aggregator's `sentia_points_stored_total` over the window: the ceiling.
//! Same-run reference: a raw bulk load of the same number of rows ([`super::ingest_raw`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ::tests::peers::TempDatabase;

use super::aggregator::{Aggregator, BrokerChoice, POINTS_STORED, Storage};
use super::mqtt::Publisher;
use super::proc_stats::CpuSample;
use super::report::{Row, Val};
use super::synthetic::{Synthetic, points};
use super::{Ctx, ingest_raw};

const S: &str = "ingest";
/// Target: stored points/s at least this share of the raw bulk load.
const RATIO_TARGET: f64 = 0.8;

/// One broker × storage measurement.
struct Measured {
    label: String,
    points_per_s: f64,
    offered_per_s: f64,
    backlog_end: u64,
    backlog_limit: u64,
    stored: u64,
    cpu_us_per_point: f64,
}

/// Runs the scenario.
pub(crate) async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let mut brokers = vec![("embedded", BrokerChoice::Embedded)];
    let mut rows = vec![];
    match ::tests::peers::mosquitto().await {
        Ok(addr) => brokers.push(("Mosquitto", BrokerChoice::External(addr))),
        Err(e) => rows.push(Row::not_available(S, "Mosquitto broker", format!("{e:#}"))),
    }

    let mut sqlite = Vec::new();
    for (name, broker) in &brokers {
        sqlite.push(
            measure(
                ctx,
                format!("{name} broker → SQLite"),
                broker.clone(),
                Storage::Sqlite,
            )
            .await?,
        );
    }
    let n = rows_for_reference(&sqlite);
    let raw = ingest_raw::sqlite(ctx.logs(), n).await?;
    push_rows(&mut rows, &sqlite, raw, n, "SQLite");

    let mut pg = Vec::new();
    for (name, broker) in &brokers {
        let db = match TempDatabase::create().await {
            Ok(db) => db,
            Err(e) => {
                rows.push(Row::not_available(S, "PostgreSQL", format!("{e:#}")));
                break;
            }
        };
        let m = measure(
            ctx,
            format!("{name} broker → PostgreSQL"),
            broker.clone(),
            Storage::Postgres(db.url.clone()),
        )
        .await;
        let _ = db.drop_db().await;
        pg.push(m?);
    }
    if !pg.is_empty() {
        let n = rows_for_reference(&pg);
        let db = TempDatabase::create().await?;
        let raw = ingest_raw::postgres(&db.url, n).await;
        let _ = db.drop_db().await;
        push_rows(&mut rows, &pg, raw?, n, "PostgreSQL (UNNEST)");
    }
    Ok(rows)
}

/// The reference loads as many rows as the best run stored (at least 20,000).
fn rows_for_reference(measured: &[Measured]) -> usize {
    let most = measured.iter().map(|m| m.stored).max().unwrap_or(0);
    usize::try_from(most)
        .unwrap_or(usize::MAX)
        .clamp(20_000, 5_000_000)
}

fn push_rows(rows: &mut Vec<Row>, measured: &[Measured], raw: f64, n: usize, storage: &str) {
    rows.push(Row::info(
        S,
        format!("raw bulk load into {storage}, {n} rows"),
        Val::Num(raw, "rows/s"),
    ));
    for m in measured {
        let row = Row::info(
            S,
            format!("{}: points/s stored", m.label),
            Val::Num(m.points_per_s, "pt/s"),
        )
        .reference(Val::Num(raw, "rows/s raw"));
        let ratio = row.ratio.unwrap_or(0.0);
        rows.push(row.target(format!("≥ {RATIO_TARGET} × raw"), ratio >= RATIO_TARGET));
        rows.push(Row::info(
            S,
            format!(
                "{}: points/s offered (backlog at end {} of max {})",
                m.label, m.backlog_end, m.backlog_limit
            ),
            Val::Num(m.offered_per_s, "pt/s"),
        ));
        rows.push(Row::info(
            S,
            format!("{}: aggregator CPU per point", m.label),
            Val::Num(m.cpu_us_per_point, "µs"),
        ));
    }
}

async fn measure(
    ctx: &Ctx,
    label: String,
    broker: BrokerChoice,
    storage: Storage,
) -> anyhow::Result<Measured> {
    let agg = Aggregator::start(ctx, broker, storage).await?;
    let synthetic = Synthetic::new(100, 10)?;
    let mut publisher = Publisher::connect(&agg.broker_addr, &synthetic.agent, 100)?;
    let stored = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let backlog_limit: u64 = ctx.pick(100_000, 20_000);

    // Keeps `stored` current for the publisher's backlog bound.
    let watcher = {
        let (stored, stop) = (stored.clone(), stop.clone());
        let api = agg.api.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok((200, text)) = api.get_raw("/metrics").await {
                    let n = super::aggregator::metric(&text, POINTS_STORED);
                    stored.store(n as u64, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let producer = {
        let (stored, stop, sent_total) = (stored.clone(), stop.clone(), sent.clone());
        tokio::spawn(async move {
            let base = protocols::model::now_ns() - 3_600_000_000_000;
            let mut sent: u64 = 0;
            let mut round: i64 = 0;
            while !stop.load(Ordering::Relaxed) {
                for (asset, tags) in &synthetic.assets {
                    while sent.saturating_sub(stored.load(Ordering::Relaxed)) > backlog_limit {
                        if stop.load(Ordering::Relaxed) {
                            return anyhow::Ok(sent);
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    publisher
                        .publish(
                            asset,
                            points(tags, base + round * 1_000_000, round.unsigned_abs()),
                        )
                        .await?;
                    sent += tags.len() as u64;
                    sent_total.store(sent, Ordering::Relaxed);
                }
                round += 1;
            }
            anyhow::Ok(sent)
        })
    };
    let pid = agg.proc.pid();
    tokio::time::sleep(Duration::from_millis(ctx.pick(2000, 500))).await;
    let s0 = agg.counter(POINTS_STORED).await?;
    let o0 = sent.load(Ordering::Relaxed);
    let c0 = pid.map(CpuSample::take).transpose()?;
    tokio::time::sleep(ctx.window(10)).await;
    let s1 = agg.counter(POINTS_STORED).await?;
    let o1 = sent.load(Ordering::Relaxed);
    let c1 = pid.map(CpuSample::take).transpose()?;
    stop.store(true, Ordering::Relaxed);
    let _ = watcher.await;
    let producer = producer.await;
    let stored = (s1 - s0).max(0.0);
    anyhow::ensure!(
        stored > 0.0,
        "{label}: nothing stored in the window (publisher: {producer:?})\n{}",
        agg.proc.log()
    );
    let (cpu_s, wall_s) = match (c0, c1) {
        (Some(a), Some(b)) => a.until(&b),
        _ => (0.0, ctx.window(10).as_secs_f64()),
    };
    Ok(Measured {
        label,
        points_per_s: stored / wall_s,
        offered_per_s: (o1 - o0) as f64 / wall_s,
        backlog_end: o1.saturating_sub(s1 as u64),
        backlog_limit,
        stored: stored as u64,
        cpu_us_per_point: cpu_s * 1e6 / stored,
    })
}
