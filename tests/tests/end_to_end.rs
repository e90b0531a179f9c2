//! plant-sim -> edge-agent -> MQTT -> aggregator -> HTTP API, as real processes.
//!
//! - `embedded_broker_and_sqlite`: the demo defaults. Every configured tag shows the exact
//!   value the simulator served for its seed; a dead device shows bad quality, not silence;
//!   assets, tags, history and error responses are checked.
//! - `history_buckets_match_raw_points`: with a ticking plant, every stored value is one the
//!   simulator served, and downsampled buckets equal buckets computed from the raw points.
//! - `mosquitto_and_postgresql`: the same path through the machine's Mosquitto and
//!   PostgreSQL (fails under CI=true when either is missing; skips elsewhere).
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde_json::Value;
use tests::api::q;
use tests::peers::{self, TempDatabase};
use tests::stack::{Backend, Stack, StackOptions, matches, num, plant};

const DEADLINE: Duration = Duration::from_secs(30);

/// Waits until every tag of every simulated machine has a good value equal to what the
/// simulator serves at tick 0, then checks them all once more and returns how many.
async fn assert_exact_latest(stack: &Stack) -> anyhow::Result<usize> {
    let plant = plant(&stack.map)?;
    let machines: Vec<_> = stack
        .map
        .entries
        .iter()
        .take(stack.map.machines)
        .cloned()
        .collect();
    let s = stack;
    let checked = stack
        .api
        .wait_for("every tag with its exact simulated value", DEADLINE, |_| {
            let machines = machines.clone();
            let plant = &plant;
            async move {
                let mut checked = 0;
                for (i, m) in machines.iter().enumerate() {
                    let latest = s.latest(&s.asset(m)).await?;
                    if latest.len() != m.signals.len() {
                        return Ok(None);
                    }
                    for sig in &m.signals {
                        let tag = s.tag(m, &sig.name);
                        let Some(row) = latest.iter().find(|r| r["tag"] == tag.as_str()) else {
                            return Ok(None);
                        };
                        let expected = plant.engineering_value(i, &sig.name).unwrap();
                        if row["quality"] != "good" || !matches(&row["value"], expected) {
                            anyhow::bail!("{tag}: got {row}, simulator served {expected:?}");
                        }
                        checked += 1;
                    }
                }
                Ok(Some(checked))
            }
        })
        .await?;
    Ok(checked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_broker_and_sqlite() {
    let stack = Stack::start(StackOptions {
        dead_device: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let result = tokio::time::timeout(Duration::from_secs(90), check_embedded(&stack)).await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{e:#}\n{}", stack.logs()),
        Err(_) => panic!("test timed out\n{}", stack.logs()),
    }
}

async fn check_embedded(stack: &Stack) -> anyhow::Result<()> {
    let api = &stack.api;
    let checked = assert_exact_latest(stack).await?;
    let expected_tags: usize = stack
        .map
        .entries
        .iter()
        .take(10)
        .map(|m| m.signals.len())
        .sum();
    assert_eq!(checked, expected_tags);
    eprintln!("exact values checked for {checked} tags");

    // The dead device: every tag present with bad quality and a reason.
    let dead = stack.map.entries.last().unwrap();
    let dead_asset = stack.asset(dead);
    let rows = api
        .wait_for("bad-quality points for the dead device", DEADLINE, |_| {
            let dead_asset = dead_asset.clone();
            async move {
                let rows = stack.latest(&dead_asset).await.unwrap_or_default();
                Ok((rows.len() == dead.signals.len()).then_some(rows))
            }
        })
        .await?;
    for row in &rows {
        assert_eq!(row["quality"], "bad", "{row}");
        assert!(
            row["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{row}"
        );
        assert!(row["value"].is_null(), "{row}");
    }

    // Health.
    let health = api.get("/api/v1/health").await?;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["storage"], "sqlite");

    // Asset hierarchy: 10 live machines plus the dead one, with status.
    let assets = api.get("/api/v1/assets").await?;
    let mut found = BTreeMap::new();
    for site in assets["sites"].as_array().unwrap() {
        for area in site["areas"].as_array().unwrap() {
            for line in area["lines"].as_array().unwrap() {
                for a in line["assets"].as_array().unwrap() {
                    found.insert(a["id"].as_str().unwrap().to_owned(), a.clone());
                }
            }
        }
    }
    let plant = plant(&stack.map)?;
    for (i, m) in stack.map.entries.iter().enumerate() {
        let a = found
            .get(&stack.asset(m))
            .unwrap_or_else(|| panic!("asset {} missing in {assets}", m.id));
        assert_eq!(a["tag_count"], m.signals.len(), "{a}");
        if m.id == "dead-99" {
            assert_eq!(a["status"], "offline", "{a}");
        } else {
            let running =
                plant.engineering_value(i, "running") == Some(simulators::EngValue::Bool(true));
            assert_eq!(
                a["status"],
                if running { "running" } else { "stopped" },
                "{a}"
            );
        }
    }

    // Tag metadata: unit and source type come from the agent's catalogue.
    let m0 = &stack.map.entries[0];
    let tags = api
        .get(&format!("/api/v1/tags?asset={}", q(&stack.asset(m0))))
        .await?;
    assert_eq!(tags.as_array().unwrap().len(), m0.signals.len());
    for sig in &m0.signals {
        let t = tags
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == sig.name.as_str())
            .unwrap();
        assert_eq!(t["unit"], sig.unit.as_str(), "{t}");
        assert_eq!(
            t["data_type"],
            toml::Value::try_from(sig.data_type)?.as_str().unwrap(),
            "{t}"
        );
        assert_eq!(t["poll_interval_ms"], 200, "{t}");
    }

    // History: raw when few points, buckets that agree with the raw points otherwise.
    let tag = stack.tag(m0, "winding_temp");
    let raw = wait_for_history(stack, &tag, 10).await?;
    check_buckets(stack, &tag, &raw).await?;

    // Errors are JSON with the right status.
    for (path, status) in [
        ("/api/v1/latest?tags=no/such/tag/at/all".to_owned(), 404),
        (format!("/api/v1/history?tag={}&max_points=0", q(&tag)), 400),
        (
            format!("/api/v1/history?tag={}&from=20&to=10", q(&tag)),
            400,
        ),
        ("/api/v1/history?tag=no/such/tag/at/all".to_owned(), 404),
        ("/api/v1/latest".to_owned(), 400),
    ] {
        let (got, body) = api.get_raw(&path).await?;
        assert_eq!(got, status, "GET {path}: {body}");
        let v: Value = serde_json::from_str(&body)?;
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "GET {path}: {body}"
        );
    }

    // Metrics: points stored, nothing mis-decoded.
    let (_, metrics) = api.get_raw("/metrics").await?;
    let stored = metric(&metrics, "sentia_points_stored_total").unwrap_or(0.0);
    assert!(stored >= expected_tags as f64, "stored {stored}\n{metrics}");
    eprintln!(
        "aggregator RSS {:?} KiB, agent RSS {:?} KiB, sim RSS {:?} KiB",
        stack.aggregator.rss_kib(),
        stack.agent.rss_kib(),
        stack.sim.rss_kib()
    );
    Ok(())
}

/// Waits until `tag` has at least `n` raw points; returns them (ts_ns, value).
async fn wait_for_history(stack: &Stack, tag: &str, n: usize) -> anyhow::Result<Vec<(i64, f64)>> {
    stack
        .api
        .wait_for("history points", DEADLINE, |api| {
            let path = format!("/api/v1/history?tag={}&from=0&max_points=100000", q(tag));
            async move {
                let h = api.get(&path).await?;
                anyhow::ensure!(h["mode"] == "raw", "{h}");
                let pts: Vec<(i64, f64)> = h["points"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| (p["ts_ns"].as_i64().unwrap(), num(&p["value"]).unwrap()))
                    .collect();
                Ok((pts.len() >= n).then_some(pts))
            }
        })
        .await
}

/// Asks for the history of `raw`'s time range in 4 buckets and checks each bucket against
/// the same computation done here on the raw points.
async fn check_buckets(stack: &Stack, tag: &str, raw: &[(i64, f64)]) -> anyhow::Result<()> {
    let from = raw.first().unwrap().0;
    let to = raw.last().unwrap().0 + 1;
    let h = stack
        .api
        .get(&format!(
            "/api/v1/history?tag={}&from={from}&to={to}&max_points=4",
            q(tag)
        ))
        .await?;
    assert_eq!(h["mode"], "buckets", "{h}");
    let width = h["bucket_ns"].as_i64().unwrap();
    assert_eq!(
        width,
        (to - from + 3) / 4,
        "bucket width = ceil(range / max_points)"
    );
    let mut expected: BTreeMap<i64, Vec<(i64, f64)>> = BTreeMap::new();
    for &(ts, v) in raw.iter().filter(|(ts, _)| *ts >= from && *ts < to) {
        expected
            .entry((ts - from) / width)
            .or_default()
            .push((ts, v));
    }
    let buckets = h["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), expected.len(), "{h}");
    for (b, (idx, pts)) in buckets.iter().zip(&expected) {
        assert_eq!(b["start_ns"].as_i64().unwrap(), from + idx * width, "{b}");
        assert_eq!(b["count"].as_u64().unwrap() as usize, pts.len(), "{b}");
        let min = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let max = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        let avg = pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64;
        let last = pts.iter().max_by_key(|p| p.0).unwrap().1;
        assert_eq!(num(&b["min"]), Some(min), "{b}");
        assert_eq!(num(&b["max"]), Some(max), "{b}");
        assert!(
            (num(&b["avg"]).unwrap() - avg).abs() <= 1e-9 * avg.abs().max(1.0),
            "{b} vs {avg}"
        );
        assert_eq!(num(&b["last"]), Some(last), "{b}");
    }
    Ok(())
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.split([' ', '{']).next() == Some(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_buckets_match_raw_points() {
    let stack = Stack::start(StackOptions {
        machines: 3,
        tick: Duration::from_millis(100),
        poll_interval: "100ms",
        encoding: "json",
        ..Default::default()
    })
    .await
    .unwrap();
    let result = tokio::time::timeout(Duration::from_secs(90), async {
        let m0 = stack.map.entries[0].clone();
        let tag = stack.tag(&m0, "vibration_rms");
        let raw = wait_for_history(&stack, &tag, 30).await?;
        // Every stored value is one the simulator served at some tick so far.
        let mut plant = plant(&stack.map)?;
        let mut served = HashSet::new();
        for _ in 0..2000 {
            served.insert(
                plant
                    .engineering_value(0, "vibration_rms")
                    .unwrap()
                    .as_f64()
                    .to_bits(),
            );
            plant.step();
        }
        for (ts, v) in &raw {
            assert!(
                served.contains(&v.to_bits()),
                "value {v} at {ts} was never served by the simulator"
            );
        }
        let distinct: HashSet<u64> = raw.iter().map(|p| p.1.to_bits()).collect();
        assert!(
            distinct.len() > 3,
            "a ticking plant must produce changing values: {distinct:?}"
        );
        check_buckets(&stack, &tag, &raw).await
    })
    .await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{e:#}\n{}", stack.logs()),
        Err(_) => panic!("test timed out\n{}", stack.logs()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_and_postgresql() {
    let test = "mosquitto_and_postgresql";
    let Some(broker) = peers::require(test, "Mosquitto", peers::mosquitto().await) else {
        return;
    };
    let Some(db) = peers::require(test, "PostgreSQL", TempDatabase::create().await) else {
        return;
    };
    let stack = Stack::start(StackOptions {
        backend: Backend::External {
            broker,
            pg_url: db.url.clone(),
        },
        ..Default::default()
    })
    .await
    .unwrap();
    let result = tokio::time::timeout(Duration::from_secs(90), async {
        let checked = assert_exact_latest(&stack).await?;
        assert_eq!(
            checked,
            stack
                .map
                .entries
                .iter()
                .map(|m| m.signals.len())
                .sum::<usize>()
        );
        let health = stack.api.get("/api/v1/health").await?;
        assert_eq!(health["storage"], "postgres", "{health}");
        let m0 = stack.map.entries[0].clone();
        let tag = stack.tag(&m0, "bearing_temp");
        let raw = wait_for_history(&stack, &tag, 10).await?;
        check_buckets(&stack, &tag, &raw).await
    })
    .await;
    let logs = stack.logs();
    drop(stack);
    db.drop_db().await.unwrap();
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{e:#}\n{logs}"),
        Err(_) => panic!("test timed out\n{logs}"),
    }
}
