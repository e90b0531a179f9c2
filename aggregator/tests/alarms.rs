//! Limit alarms end to end, in-process: points published over MQTT to the embedded broker
//! raise an alarm once stored, escalate it, and clear it; the API acknowledges and shelves
//! it (with 404/409/400 for the wrong requests), and every transition is in the journal.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::harness::{Api, Publisher, eventually, start, test_settings};
use common::within;
use protocols::codec::{Encoding, Message};
use protocols::model::{AgentId, AssetPath, Batch, Point, Quality, TagId, Value, now_ns};
use protocols::topic::Topic;
use serde_json::{Value as Json, json};

const SEC: i64 = 1_000_000_000;
const WAIT: Duration = Duration::from_secs(20);
const MOTOR: &str = "demo/hall-1/line-1/motor-01";

fn temp() -> TagId {
    TagId::new(&format!("{MOTOR}/temp")).unwrap()
}

fn point(ts: i64, v: f64) -> Point {
    Point {
        tag: temp(),
        ts_ns: ts,
        value: Some(Value::Float(v)),
        quality: Quality::Good,
    }
}

async fn publish(p: &Publisher, seq: u64, points: Vec<Point>) {
    let msg = Message::Batch(Batch {
        agent: AgentId::new("edge-01").unwrap(),
        session: 7,
        seq,
        asset: AssetPath::new(MOTOR).unwrap(),
        historical: false,
        points,
    });
    let topic = Topic::Data {
        agent: AgentId::new("edge-01").unwrap(),
        asset: AssetPath::new(MOTOR).unwrap(),
    };
    p.send(&topic, &msg, Encoding::Binary).await;
}

async fn alarms(api: &Api, state: &str) -> Vec<Json> {
    let (code, body) = api.get(&format!("/api/v1/alarms?state={state}")).await;
    assert_eq!(code, 200, "{body}");
    body.as_array().unwrap().clone()
}

fn actions(a: &Json) -> Vec<String> {
    a["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_alarm_lifecycle_over_mqtt_and_http() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path(), None);
    settings.alarms = vec![aggregator::alarms::Rule {
        tag: temp(),
        limits: aggregator::alarms::rule::Limits {
            hihi: Some(100.0),
            hi: Some(80.0),
            lo: None,
            lolo: None,
            deadband: 2.0,
        },
        delay: Duration::from_secs(2),
    }];
    let app = start(settings).await;
    let api = Api::new(app.api_addr());
    let broker: std::net::SocketAddr = app.broker().parse().unwrap();
    let agent = Publisher::connect("127.0.0.1", broker.port(), "test-alarms");
    let t0 = (now_ns() / SEC - 60) * SEC;

    // 85 for 1 s: shorter than the 2 s delay, nothing raised; then it holds.
    publish(&agent, 0, vec![point(t0, 50.0), point(t0 + SEC, 85.0)]).await;
    publish(
        &agent,
        1,
        vec![point(t0 + 2 * SEC, 60.0), point(t0 + 3 * SEC, 86.0)],
    )
    .await;
    publish(
        &agent,
        2,
        vec![point(t0 + 4 * SEC, 87.0), point(t0 + 5 * SEC, 88.0)],
    )
    .await;
    eventually("the alarm raised", WAIT, || async {
        alarms(&api, "open").await.len() == 1
    })
    .await;
    let a = &alarms(&api, "open").await[0];
    assert_eq!(
        (&a["level"], &a["severity"], &a["state"], &a["acknowledged"]),
        (
            &json!("hi"),
            &json!("warning"),
            &json!("active"),
            &json!(false)
        ),
        "{a}"
    );
    assert_eq!(
        (&a["since_ns"], &a["raised_ns"]),
        (&json!(t0 + 3 * SEC), &json!(t0 + 5 * SEC)),
        "{a}"
    );
    let id = a["id"].as_u64().unwrap();
    let asset_alarms = || async {
        let (code, tree) = api.get(&format!("/api/v1/assets?asset={MOTOR}")).await;
        assert_eq!(code, 200, "{tree}");
        tree["sites"][0]["areas"][0]["lines"][0]["assets"][0]["active_alarms"].clone()
    };
    assert_eq!(asset_alarms().await, json!(1), "the overview counts it");

    publish(&agent, 3, vec![point(t0 + 6 * SEC, 120.0)]).await;
    eventually("escalated to hihi", WAIT, || async {
        alarms(&api, "active")
            .await
            .first()
            .is_some_and(|a| a["level"] == "hihi")
    })
    .await;

    // Acknowledge: once; unknown ids and bad bodies are refused.
    let ack = |id: u64| format!("/api/v1/alarms/{id}/ack");
    let (code, body) = api
        .post(&ack(id), &json!({"user": "alice", "comment": "on it"}))
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        (&body["state"], &body["severity"]),
        (&json!("acknowledged"), &json!("critical"))
    );
    let (code, body) = api.post(&ack(id), &json!({"user": "bob"})).await;
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["error"]["code"], "conflict");
    assert_eq!(api.post(&ack(999), &json!({"user": "bob"})).await.0, 404);
    assert_eq!(api.post(&ack(id), &json!({"user": ""})).await.0, 400);
    assert_eq!(api.post(&ack(id), &json!({"who": "x"})).await.0, 400);

    // Shelve for an hour.
    let shelve = format!("/api/v1/alarms/{id}/shelve");
    assert_eq!(
        api.post(&shelve, &json!({"user": "bob", "duration": "soon"}))
            .await
            .0,
        400
    );
    let (code, body) = api
        .post(
            &shelve,
            &json!({"user": "bob", "comment": "sensor swap", "duration": "1h"}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let until = body["shelved_until_ns"].as_i64().unwrap();
    assert!((until - now_ns() - 3600 * SEC).abs() < 60 * SEC, "{body}");
    assert_eq!(alarms(&api, "shelved").await.len(), 1);

    // Back to normal (past the deadband): cleared and closed.
    publish(&agent, 4, vec![point(t0 + 7 * SEC, 70.0)]).await;
    eventually("cleared", WAIT, || async {
        alarms(&api, "cleared").await.len() == 1
    })
    .await;
    assert!(alarms(&api, "open").await.is_empty());
    assert_eq!(asset_alarms().await, json!(0));
    let a = &alarms(&api, "all").await[0];
    assert_eq!(
        actions(a),
        ["raised", "level", "acknowledged", "shelved", "cleared"],
        "{a}"
    );
    assert_eq!(a["history"][2]["user"], "alice");
    assert_eq!(a["history"][2]["comment"], "on it");
    assert_eq!(
        api.post(&shelve, &json!({"user": "bob", "duration": "1h"}))
            .await
            .0,
        409
    );
    assert_eq!(api.get("/api/v1/alarms?state=bogus").await.0, 400);

    // Every transition is journaled, in order.
    let journal = std::fs::read_to_string(dir.path().join("alarms/journal.jsonl")).unwrap();
    let logged: Vec<String> = journal
        .lines()
        .map(|l| {
            serde_json::from_str::<Json>(l).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(logged, actions(a));
    assert!(within("shutdown", app.shutdown()).await);
}
