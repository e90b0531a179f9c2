//! The aggregator in-process, end to end over real sockets: embedded broker on port 0,
//! SQLite in a temp dir, API on port 0. Batches are published with a real MQTT client
//! (binary and JSON encodings) and every endpoint is checked with exact JSON.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, UNIX_EPOCH};

use common::harness::{Api, Publisher, eventually, start, test_settings};
use common::within;
use protocols::codec::{Encoding, Message};
use protocols::model::{
    AgentId, AgentState, AgentStatus, AssetPath, Batch, Point, TagCatalog, TagId, TagMeta, Value,
    now_ns,
};
use protocols::topic::Topic;
use serde_json::{Value as Json, json};

const SEC: i64 = 1_000_000_000;
const WAIT: Duration = Duration::from_secs(20);
const MOTOR: &str = "demo/hall-1/line-1/motor-01";
const PUMP: &str = "demo/hall-1/line-2/pump-01";

fn agent() -> AgentId {
    AgentId::new("edge-01").unwrap()
}

fn asset(s: &str) -> AssetPath {
    AssetPath::new(s).unwrap()
}

fn tag(asset: &str, name: &str) -> TagId {
    TagId::new(&format!("{asset}/{name}")).unwrap()
}

fn data_topic(a: &str) -> Topic {
    Topic::Data {
        agent: agent(),
        asset: asset(a),
    }
}

fn batch(a: &str, seq: u64, points: Vec<Point>) -> Message {
    Message::Batch(Batch {
        agent: agent(),
        session: 42,
        seq,
        asset: asset(a),
        historical: false,
        points,
    })
}

fn meta(a: &str, name: &str, unit: &str, data_type: &str, description: &str) -> TagMeta {
    TagMeta {
        id: tag(a, name),
        unit: unit.into(),
        data_type: data_type.into(),
        source: format!("modbus-tcp://10.0.0.5:502/1/holding/{name}"),
        poll_interval_ms: 60_000,
        description: description.into(),
    }
}

/// Replaces the number at `pointer` with null after checking it lies in `range`.
fn blank(v: &mut Json, pointer: &str, range: std::ops::RangeInclusive<i64>) {
    let shown = v.to_string();
    let slot = v
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer} missing in {shown}"));
    let n = slot
        .as_i64()
        .unwrap_or_else(|| panic!("{pointer} is not an integer: {slot}"));
    assert!(range.contains(&n), "{pointer} = {n} not in {range:?}");
    *slot = Json::Null;
}

fn tag_json(a: &str, name: &str, unit: &str, data_type: &str, description: &str) -> Json {
    json!({
        "id": format!("{a}/{name}"), "asset": a, "name": name, "unit": unit,
        "data_type": data_type, "source": format!("modbus-tcp://10.0.0.5:502/1/holding/{name}"),
        "poll_interval_ms": 60000, "description": description, "agent": "edge-01",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_over_mqtt_and_http() {
    aggregator::logging::init(aggregator::logging::LogFormat::Text);
    let dir = tempfile::tempdir().unwrap();
    let test_start = now_ns();
    let mut settings = test_settings(dir.path(), None);
    // Staleness has its own test (gaps_and_stale.rs); here a slow machine must not flip it.
    settings.ingest.stale.min = Duration::from_secs(3600);
    let app = start(settings).await;
    let ready = app.ready_line();
    assert!(
        ready.starts_with("aggregator ready api=127.0.0.1:"),
        "{ready}"
    );
    assert!(
        ready.ends_with(" storage=sqlite") && ready.contains(" broker=127.0.0.1:"),
        "{ready}"
    );
    let api = Api::new(app.api_addr());
    let broker: std::net::SocketAddr = app.broker().parse().unwrap();
    let agent_client = Publisher::connect("127.0.0.1", broker.port(), "test-edge-01");

    let t0 = (now_ns() / SEC - 60) * SEC;
    let speed = tag(MOTOR, "speed");
    let b0 = batch(
        MOTOR,
        0,
        vec![
            Point::good(speed.clone(), t0, Value::UInt(1480)),
            Point::good(tag(MOTOR, "running"), t0, Value::Bool(true)),
            Point::good(tag(MOTOR, "mode"), t0, Value::Text("Auto".into())),
        ],
    );
    let b1 = batch(
        MOTOR,
        1,
        vec![
            Point::good(speed.clone(), t0 + SEC, Value::UInt(1490)),
            Point::good(tag(MOTOR, "temperature"), t0 + SEC, Value::Float(41.5)),
        ],
    );
    let b2 = batch(
        PUMP,
        2,
        vec![
            Point::good(tag(PUMP, "pressure"), t0, Value::Float(2.5)),
            Point::bad(tag(PUMP, "pressure"), t0 + SEC, "timeout"),
        ],
    );
    let catalog = Message::Catalog(TagCatalog {
        agent: agent(),
        session: 42,
        tags: vec![
            meta(MOTOR, "speed", "rpm", "u16", "Motor speed"),
            meta(MOTOR, "running", "", "bool", "Motor running"),
            meta(MOTOR, "mode", "", "str", "Operating mode"),
            meta(PUMP, "pressure", "bar", "f32", "Outlet pressure"),
        ],
    });
    let status = Message::Status(AgentStatus {
        agent: agent(),
        session: 42,
        state: AgentState::Online,
        ts_ns: t0,
        devices: vec![],
        spool: Some(protocols::model::SpoolStatus {
            depth_batches: 7,
            depth_bytes: 4096,
            dropped_batches: 2,
            dropped_points: 18,
            dropped_unconfirmed_batches: 1,
            dropped_unconfirmed_points: 9,
        }),
    });

    agent_client
        .send(&Topic::Meta { agent: agent() }, &catalog, Encoding::Json)
        .await;
    agent_client
        .send(&Topic::Status { agent: agent() }, &status, Encoding::Binary)
        .await;
    agent_client
        .send(&data_topic(MOTOR), &b0, Encoding::Binary)
        .await;
    agent_client
        .raw(
            &data_topic(MOTOR).to_string(),
            b"\x00\x01 not a payload".to_vec(),
        )
        .await;
    agent_client
        .send(&data_topic(MOTOR), &b1, Encoding::Json)
        .await;
    agent_client
        .send(&data_topic(PUMP), &b0, Encoding::Binary)
        .await; // wrong asset for the topic
    agent_client
        .send(&data_topic(PUMP), &b2, Encoding::Binary)
        .await;

    eventually(
        "all good data stored and the catalogue applied",
        WAIT,
        || async {
            let m = api.metrics().await;
            let (_, tags) = api.get("/api/v1/tags").await;
            let (_, agents) = api.get("/api/v1/agents").await;
            common::harness::metric_in(&m, "sentia_points_stored_total") == 7.0
                && common::harness::metric_in(
                    &m,
                    "sentia_decode_errors_total{reason=\"topic_mismatch\"}",
                ) == 1.0
                && common::harness::metric_in(
                    &m,
                    "sentia_decode_errors_total{reason=\"unknown_format\"}",
                ) == 1.0
                && tags
                    .as_array()
                    .is_some_and(|t| t.len() == 5 && t[0]["unit"] == "")
                && agents[0]["state"] == "online"
        },
    )
    .await;
    let m = api.metrics().await;
    let metric = |s| common::harness::metric_in(&m, s);
    assert_eq!(metric("sentia_points_received_total"), 7.0);
    assert_eq!(metric("sentia_batches_received_total"), 3.0);
    assert_eq!(metric("sentia_points_duplicate_total"), 0.0);
    assert_eq!(metric("sentia_seq_gaps_total"), 0.0);
    assert_eq!(
        metric("sentia_ingest_queue_pushed_total"),
        metric("sentia_ingest_queue_popped_total")
    );
    assert!(m.contains("sentia_store_latency_seconds_count "), "{m}");
    assert!(m.contains("sentia_store_batch_points_sum "), "{m}");
    assert_eq!(
        m.matches("sentia_decode_errors_total{").count(),
        2,
        "only the two bad messages are counted: {m}"
    );

    // The agent's spool figures from its status.
    let (_, agents) = api.get("/api/v1/agents").await;
    let a = &agents[0];
    assert_eq!(
        (
            &a["spool_depth"],
            &a["spool_bytes"],
            &a["dropped_batches"],
            &a["dropped_points"],
            &a["dropped_unconfirmed_points"]
        ),
        (&json!(7), &json!(4096), &json!(2), &json!(18), &json!(9)),
        "{a}"
    );

    // health
    let (status_code, mut health) = api.get("/api/v1/health").await;
    assert_eq!(status_code, 200);
    blank(&mut health, "/uptime_s", 0..=120);
    assert_eq!(
        health,
        json!({"status": "ok", "version": "0.1.0", "storage": "sqlite", "broker": "embedded",
               "ingest": "ok", "broker_connected": true, "uptime_s": null})
    );

    // tags
    let (code, tags) = api.get("/api/v1/tags").await;
    assert_eq!(code, 200);
    assert_eq!(
        tags,
        json!([
            tag_json(MOTOR, "mode", "", "str", "Operating mode"),
            tag_json(MOTOR, "running", "", "bool", "Motor running"),
            tag_json(MOTOR, "speed", "rpm", "u16", "Motor speed"),
            {"id": format!("{MOTOR}/temperature"), "asset": MOTOR, "name": "temperature", "unit": null,
             "data_type": null, "source": null, "poll_interval_ms": null, "description": null, "agent": null},
            tag_json(PUMP, "pressure", "bar", "f32", "Outlet pressure"),
        ])
    );
    let (code, pump_tags) = api.get(&format!("/api/v1/tags?asset={PUMP}")).await;
    assert_eq!(
        (code, pump_tags),
        (
            200,
            json!([tag_json(PUMP, "pressure", "bar", "f32", "Outlet pressure")])
        )
    );

    // latest
    let now = now_ns();
    let (code, mut latest) = api
        .get(&format!(
            "/api/v1/latest?tags={MOTOR}/speed,{MOTOR}/running,{MOTOR}/mode,{MOTOR}/temperature"
        ))
        .await;
    assert_eq!(code, 200);
    for i in 0..4 {
        blank(
            &mut latest,
            &format!("/{i}/receive_ts_ns"),
            test_start..=now,
        );
    }
    let entry = |name: &str, value: Json, ty: &str, ts: i64| {
        json!({"tag": format!("{MOTOR}/{name}"), "value": value, "value_type": ty, "quality": "good",
               "reason": null, "source_ts_ns": ts, "receive_ts_ns": null, "stale": false})
    };
    assert_eq!(
        latest,
        json!([
            entry("speed", json!(1490), "uint", t0 + SEC),
            entry("running", json!(true), "bool", t0),
            entry("mode", json!("Auto"), "text", t0),
            entry("temperature", json!(41.5), "float", t0 + SEC),
        ])
    );
    let (code, mut pump_latest) = api.get(&format!("/api/v1/latest?asset={PUMP}")).await;
    assert_eq!(code, 200);
    blank(&mut pump_latest, "/0/receive_ts_ns", test_start..=now);
    assert_eq!(
        pump_latest,
        json!([{"tag": format!("{PUMP}/pressure"), "value": null, "value_type": null, "quality": "bad",
                "reason": "timeout", "source_ts_ns": t0 + SEC, "receive_ts_ns": null, "stale": false}])
    );

    // assets
    let (code, mut assets) = api.get("/api/v1/assets").await;
    assert_eq!(code, 200);
    blank(
        &mut assets,
        "/sites/0/areas/0/lines/0/assets/0/last_update_ns",
        test_start..=now,
    );
    blank(
        &mut assets,
        "/sites/0/areas/0/lines/1/assets/0/last_update_ns",
        test_start..=now,
    );
    assert_eq!(
        assets,
        json!({"sites": [{"name": "demo", "areas": [{"name": "hall-1", "lines": [
            {"name": "line-1", "assets": [{"id": MOTOR, "name": "motor-01", "status": "running",
                "tag_count": 4, "bad_tags": 0, "stale_tags": 0, "active_alarms": 0, "last_update_ns": null}]},
            {"name": "line-2", "assets": [{"id": PUMP, "name": "pump-01", "status": "offline",
                "tag_count": 1, "bad_tags": 1, "stale_tags": 0, "active_alarms": 0, "last_update_ns": null}]}
        ]}]}]})
    );
    // One asset's branch only; unknown and malformed ids are errors.
    let (code, mut one) = api.get(&format!("/api/v1/assets?asset={PUMP}")).await;
    assert_eq!(code, 200);
    blank(
        &mut one,
        "/sites/0/areas/0/lines/0/assets/0/last_update_ns",
        test_start..=now,
    );
    assert_eq!(
        one,
        json!({"sites": [{"name": "demo", "areas": [{"name": "hall-1", "lines": [
            {"name": "line-2", "assets": [{"id": PUMP, "name": "pump-01", "status": "offline",
                "tag_count": 1, "bad_tags": 1, "stale_tags": 0, "active_alarms": 0, "last_update_ns": null}]}
        ]}]}]})
    );
    let (code, _) = api
        .get("/api/v1/assets?asset=demo/hall-1/line-9/nope")
        .await;
    assert_eq!(code, 404);
    let (code, _) = api.get("/api/v1/assets?asset=not-an-asset").await;
    assert_eq!(code, 400);

    // history: raw
    let (code, raw) = api
        .get(&format!(
            "/api/v1/history?tag={PUMP}/pressure&from={t0}&to={}",
            t0 + 10 * SEC
        ))
        .await;
    assert_eq!(code, 200);
    assert_eq!(
        raw,
        json!({"tag": format!("{PUMP}/pressure"), "from_ns": t0, "to_ns": t0 + 10 * SEC, "mode": "raw",
               "points": [{"ts_ns": t0, "value": 2.5, "quality": "good"},
                          {"ts_ns": t0 + SEC, "value": null, "quality": "bad"}]})
    );

    // re-delivery stores nothing twice; a later batch skipping seq 3 and 4 counts two gaps
    agent_client
        .send(&data_topic(MOTOR), &b0, Encoding::Json)
        .await;
    let b5 = batch(
        MOTOR,
        5,
        vec![Point::good(speed.clone(), t0 + 2 * SEC, Value::UInt(1500))],
    );
    agent_client
        .send(&data_topic(MOTOR), &b5, Encoding::Binary)
        .await;
    eventually(
        "duplicates counted and the new point stored",
        WAIT,
        || async {
            api.metric("sentia_points_duplicate_total").await == 3.0
                && api.metric("sentia_points_stored_total").await == 8.0
        },
    )
    .await;
    assert_eq!(api.metric("sentia_seq_gaps_total").await, 2.0);

    // history: buckets, `from` as RFC 3339
    let from_rfc =
        humantime::format_rfc3339_nanos(UNIX_EPOCH + Duration::from_nanos(t0 as u64)).to_string();
    let (code, buckets) = api
        .get(&format!(
            "/api/v1/history?tag={MOTOR}/speed&from={from_rfc}&to={}&max_points=2",
            t0 + 10 * SEC
        ))
        .await;
    assert_eq!(code, 200);
    assert_eq!(
        buckets,
        json!({"tag": format!("{MOTOR}/speed"), "from_ns": t0, "to_ns": t0 + 10 * SEC, "mode": "buckets",
               "bucket_ns": 5 * SEC, "buckets": [{"start_ns": t0, "end_ns": t0 + 5 * SEC, "count": 3,
               "min": 1480.0, "max": 1500.0, "avg": 1490.0, "last": 1500.0}]})
    );
    let (_, raw_speed) = api
        .get(&format!(
            "/api/v1/history?tag={MOTOR}/speed&from={t0}&to={}",
            t0 + 10 * SEC
        ))
        .await;
    assert_eq!(
        raw_speed["points"].as_array().unwrap().len(),
        3,
        "no duplicate rows: {raw_speed}"
    );

    // errors share one JSON shape
    let unknown = format!("{MOTOR}/nope");
    let cases = [
        ("/api/v1/latest".to_owned(), 400, "bad_request"),
        (
            format!("/api/v1/latest?tags={MOTOR}/speed&asset={MOTOR}"),
            400,
            "bad_request",
        ),
        (format!("/api/v1/latest?tags={unknown}"), 404, "not_found"),
        (
            "/api/v1/latest?asset=demo/hall-9/line-1/x".to_owned(),
            404,
            "not_found",
        ),
        (format!("/api/v1/history?tag={unknown}"), 404, "not_found"),
        (
            format!("/api/v1/history?tag={MOTOR}/speed&from=5&to=5"),
            400,
            "bad_request",
        ),
        (
            format!("/api/v1/history?tag={MOTOR}/speed&max_points=0"),
            400,
            "bad_request",
        ),
        (
            format!("/api/v1/history?tag={MOTOR}/speed&from=yesterday"),
            400,
            "bad_request",
        ),
        ("/api/v1/history".to_owned(), 400, "bad_request"),
        // The range must lie in 0 <= from < to <= 2100-01-01.
        (
            format!("/api/v1/history?tag={MOTOR}/speed&from=-1&to=10"),
            400,
            "bad_request",
        ),
        (
            format!("/api/v1/history?tag={MOTOR}/speed&from=0&to={}", i64::MAX),
            400,
            "bad_request",
        ),
        (
            format!(
                "/api/v1/history?tag={MOTOR}/speed&from={}&to={}",
                i64::MIN,
                i64::MAX
            ),
            400,
            "bad_request",
        ),
        (
            "/api/v1/tags?asset=not-an-asset".to_owned(),
            400,
            "bad_request",
        ),
        ("/api/v1/tags?asset=demo/x/y/z".to_owned(), 404, "not_found"),
        ("/api/v1/nothing-here".to_owned(), 404, "not_found"),
    ];
    for (path, status, code) in cases {
        let (got, body) = api.get(&path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{path}: {body}");
        assert_eq!(body.as_object().unwrap().len(), 1, "{path}: {body}");
    }
    for (query, param) in [
        ("from=-1&to=10", "from"),
        ("from=0&to=4102444800000000001", "to"),
        ("to=0", "to"),
    ] {
        let (_, body) = api
            .get(&format!("/api/v1/history?tag={MOTOR}/speed&{query}"))
            .await;
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{param}: ")),
            "{query}: {body}"
        );
    }
    // The widest range is fine (and buckets do not overflow).
    let (code, body) = api
        .get(&format!(
            "/api/v1/history?tag={MOTOR}/speed&from=0&to=4102444800000000000&max_points=1"
        ))
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["bucket_ns"],
        json!(4_102_444_800_000_000_000_i64),
        "{body}"
    );
    let (_, body) = api.get(&format!("/api/v1/latest?tags={unknown}")).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&unknown),
        "{body}"
    );

    // clean shutdown, then a new instance on the same data dir serves the stored state
    drop(agent_client);
    assert!(within("shutdown", app.shutdown()).await, "clean shutdown");
    let again = start(test_settings(dir.path(), None)).await;
    let api = Api::new(again.api_addr());
    let (code, latest) = api.get(&format!("/api/v1/latest?tags={MOTOR}/speed")).await;
    assert_eq!(code, 200);
    assert_eq!(
        latest[0]["value"],
        json!(1500),
        "cache warmed from storage: {latest}"
    );
    assert!(within("shutdown", again.shutdown()).await);
}
