//! Scenario `api`: latency and throughput of the aggregator's read API under concurrent
//! load (16 clients back to back).
//!
//! Data, loaded through the broker by a synthetic publisher before measuring: one asset
//! with 1,000 tags that have latest values (100 in quick mode), and one tag with a day of
//! history at 1 s (86,400 points; an hour in quick mode). Endpoints: `latest` by asset and
//! by a 1,000-tag list, `history` of the day with `max_points=1000`. Same-run reference:
//! `GET /api/v1/agents` (served from memory) under the same load, the HTTP floor of this
//! aggregator on this machine.

use std::time::Duration;

use ::tests::api::q;
use anyhow::Context;

use super::Ctx;
use super::aggregator::{Aggregator, BrokerChoice, POINTS_STORED, Storage};
use super::load::{self, LoadResult};
use super::mqtt::Publisher;
use super::report::{Row, Val};
use super::synthetic::{Synthetic, points};

const S: &str = "api";
const CONCURRENCY: usize = 16;
const SECOND_NS: i64 = 1_000_000_000;

/// Runs the scenario.
pub(crate) async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let agg = Aggregator::start(ctx, BrokerChoice::Embedded, Storage::Sqlite).await?;
    let tag_count = ctx.pick(1000, 100);
    let history_points: i64 = ctx.pick(86_400, 3_600);
    let latest = Synthetic::new(1, tag_count)?;
    let hist = Synthetic::new(1, 1)?;
    let now = protocols::model::now_ns();

    let mut publisher = Publisher::connect(&agg.broker_addr, &latest.agent, 100)?;
    for (asset, tags) in &latest.assets {
        for chunk in tags.chunks(100) {
            publisher
                .publish(asset, points(chunk, now - SECOND_NS, 1))
                .await?;
        }
    }
    publisher.flush(Duration::from_secs(60)).await?;
    let mut hist_pub = Publisher::connect(&agg.broker_addr, &hist.agent, 100)?;
    let (hist_asset, hist_tags) = hist.assets.first().context("history asset")?;
    let hist_tag = hist_tags.first().context("history tag")?;
    let from = now - history_points * SECOND_NS;
    for start in (0..history_points).step_by(1000) {
        let batch = (start..(start + 1000).min(history_points))
            .flat_map(|i| {
                points(
                    std::slice::from_ref(hist_tag),
                    from + i * SECOND_NS,
                    i.unsigned_abs(),
                )
            })
            .collect();
        hist_pub.publish(hist_asset, batch).await?;
    }
    hist_pub.flush(Duration::from_secs(120)).await?;
    let expected = (tag_count as i64 + history_points) as f64;
    agg.api
        .wait_for("every point stored", Duration::from_secs(180), |_| async {
            Ok((agg.counter(POINTS_STORED).await? >= expected).then_some(()))
        })
        .await?;

    let (latest_asset, _) = latest.assets.first().context("latest asset")?;
    let tag_list: Vec<&str> = latest.tags().map(|t| t.as_str()).collect();
    let base = format!("http://{}", agg.proc.ready_value("api")?);
    let urls = [
        (
            "floor: GET /api/v1/agents (in memory)",
            "/api/v1/agents".to_owned(),
            None,
        ),
        (
            "latest by asset",
            format!("/api/v1/latest?asset={}", q(latest_asset.as_str())),
            Some((5.0, tag_count)),
        ),
        (
            "latest by tag list",
            format!("/api/v1/latest?tags={}", q(&tag_list.join(","))),
            Some((5.0, tag_count)),
        ),
        (
            "history, max_points=1000",
            format!(
                "/api/v1/history?tag={}&from={from}&to={}&max_points=1000",
                q(hist_tag.as_str()),
                now + SECOND_NS
            ),
            Some((20.0, 0)),
        ),
    ];
    let window = Duration::from_secs(ctx.pick(10, 1));
    let mut rows = vec![Row::info(
        S,
        format!(
            "data: {tag_count} tags with latest values; history tag with {history_points} points at 1 s"
        ),
        Val::Num(CONCURRENCY as f64, "concurrent clients"),
    )];
    let pid = agg.proc.pid().context("aggregator exited")?;
    let single_window = Duration::from_millis(ctx.pick(3000, 500));
    let mut floor: Option<(LoadResult, LoadResult)> = None;
    for (name, path, target) in urls {
        // A correct answer first, so the load measures real responses.
        let body = agg.api.get(&path).await?;
        if let Some((_, n)) = target.filter(|(_, n)| *n > 0) {
            let got = body.as_array().map_or(0, Vec::len);
            anyhow::ensure!(got == n, "{name}: {got} entries, expected {n}");
        }
        let url = format!("{base}{path}");
        let single = load::run(&url, 1, single_window, pid).await?;
        let r = load::run(&url, CONCURRENCY, window, pid).await?;
        let (Some((f, f1)), Some((target_ms, _))) = (floor, target) else {
            let text = format!(
                "p50 {:.2} / p99 {:.2} ms; {:.0} req/s; 1 client p50 {:.2} ms; {:.0} µs CPU/req",
                r.p50_ms, r.p99_ms, r.req_per_s, single.p50_ms, r.server_cpu_us_per_req
            );
            rows.push(Row::info(S, name, Val::text(text)));
            floor = Some((r, single));
            continue;
        };
        let errors = if r.errors > 0 {
            format!(" ({} errors)", r.errors)
        } else {
            String::new()
        };
        rows.push(
            Row::info(S, format!("{name}: p50{errors}"), Val::Num(r.p50_ms, "ms"))
                .reference(Val::Num(f.p50_ms, "ms floor")),
        );
        rows.push(
            Row::info(S, format!("{name}: p99"), Val::Num(r.p99_ms, "ms"))
                .reference(Val::Num(f.p99_ms, "ms floor"))
                .target(format!("< {target_ms} ms"), r.p99_ms < target_ms),
        );
        rows.push(
            Row::info(
                S,
                format!("{name}: throughput"),
                Val::Num(r.req_per_s, "req/s"),
            )
            .reference(Val::Num(f.req_per_s, "req/s floor")),
        );
        rows.push(
            Row::info(
                S,
                format!("{name}: 1 client p50"),
                Val::Num(single.p50_ms, "ms"),
            )
            .reference(Val::Num(f1.p50_ms, "ms floor")),
        );
        rows.push(
            Row::info(
                S,
                format!("{name}: aggregator CPU per request"),
                Val::Num(r.server_cpu_us_per_req, "µs"),
            )
            .reference(Val::Num(f.server_cpu_us_per_req, "µs floor")),
        );
    }
    Ok(rows)
}
