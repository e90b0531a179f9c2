//! Delivery guarantees over real brokers: messages published while the aggregator is down
//! are delivered from its persistent session when it comes back (through the external-broker
//! path), many more messages than the broker's in-flight window all get stored exactly once
//! (acks flow, in order), a message whose write never committed is not acked and comes back,
//! and the same ingest path works against Mosquitto.
//!
//! Mosquitto: `host:port` from `SENTIA_TEST_MQTT` (as `.ci/run` sets it; default
//! `127.0.0.1:1883`); skipped with "skipped: no MQTT broker" when unreachable, unless
//! `CI=true`.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::time::Duration;

use aggregator::app::App;
use aggregator::config::{self, Overrides};
use common::harness::{Api, Publisher, eventually, start, test_settings};
use common::within;
use protocols::codec::{Encoding, Message};
use protocols::model::{AgentId, AssetPath, Batch, Point, TagId, Value, now_ns};
use protocols::topic::Topic;

const SEC: i64 = 1_000_000_000;
const WAIT: Duration = Duration::from_secs(30);

fn batches(agent: &str, asset: &str, n: u64, t0: i64) -> Vec<(Topic, Message)> {
    let agent = AgentId::new(agent).unwrap();
    let asset = AssetPath::new(asset).unwrap();
    let tag = TagId::from_parts(&asset, "count").unwrap();
    (0..n)
        .map(|seq| {
            let topic = Topic::Data {
                agent: agent.clone(),
                asset: asset.clone(),
            };
            let ts = t0 + i64::try_from(seq).unwrap() * 1000;
            let msg = Message::Batch(Batch {
                agent: agent.clone(),
                session: 7,
                seq,
                asset: asset.clone(),
                historical: false,
                points: vec![Point::good(tag.clone(), ts, Value::UInt(seq))],
            });
            (topic, msg)
        })
        .collect()
}

async fn raw_count(api: &Api, tag: &str, from: i64) -> usize {
    let (code, body) = api
        .get(&format!(
            "/api/v1/history?tag={tag}&from={from}&to={}&max_points=100000",
            from + 3600 * SEC
        ))
        .await;
    if code != 200 {
        return 0;
    }
    body["points"].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_while_down_then_delivered_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(test_settings(dir.path(), None)).await;
    let broker = first.broker().to_owned();
    let port: u16 = broker.rsplit_once(':').unwrap().1.parse().unwrap();
    // The embedded broker's threads outlive the App; its persistent session for our client
    // id now queues whatever is published.
    assert!(within("shutdown", first.shutdown()).await);

    let publisher = Publisher::connect("127.0.0.1", port, "test-agent-queue");
    let t0 = (now_ns() / SEC - 600) * SEC;
    // More than rumqttd's 100-message in-flight window: only flowing acks let them all through.
    let all = batches("edge-q", "plant/area/line/machine", 300, t0);
    for (topic, msg) in &all {
        publisher.send(topic, msg, Encoding::Binary).await;
    }

    // Same data dir and client id, the broker reached as an external one.
    let overrides = Overrides {
        data_dir: Some(dir.path().to_path_buf()),
        api_listen: Some("127.0.0.1:0".into()),
        mqtt_url: Some(format!("mqtt://{broker}")),
        ..Overrides::default()
    };
    let second = start(config::load(None, &overrides).unwrap()).await;
    assert_eq!(second.broker(), format!("mqtt://{broker}"));
    let api = Api::new(second.api_addr());
    eventually("300 queued batches stored", WAIT, || async {
        api.metric("sentia_points_stored_total").await >= 300.0
    })
    .await;
    assert_eq!(
        raw_count(&api, "plant/area/line/machine/count", t0).await,
        300
    );
    assert_eq!(
        api.metric("sentia_points_duplicate_total").await,
        0.0,
        "no re-deliveries: acks were in order"
    );
    assert_eq!(
        api.metric("sentia_mqtt_connects_total").await,
        1.0,
        "never disconnected"
    );
    assert_eq!(api.metric("sentia_seq_gaps_total").await, 0.0);
    drop(publisher);
    assert!(within("shutdown", second.shutdown()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_acked_until_committed() {
    use sqlx::Connection;

    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path(), None);
    settings.shutdown_grace = Duration::from_millis(300);
    let first = start(settings).await;
    let broker = first.broker().to_owned();
    let port: u16 = broker.rsplit_once(':').unwrap().1.parse().unwrap();
    let api = Api::new(first.api_addr());

    // Another connection takes SQLite's write lock: the aggregator's writes now fail.
    let db = dir.path().join("sentia.db");
    let mut locker = within(
        "lock",
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())),
    )
    .await
    .unwrap();
    within("begin", sqlx::query("BEGIN EXCLUSIVE").execute(&mut locker))
        .await
        .unwrap();

    let publisher = Publisher::connect("127.0.0.1", port, "test-agent-locked");
    let t0 = (now_ns() / SEC - 600) * SEC;
    let (topic, msg) = batches("edge-l", "plant/area/line/locked", 1, t0).remove(0);
    publisher.send(&topic, &msg, Encoding::Binary).await;
    eventually("the batch reached the writer", WAIT, || async {
        api.metric("sentia_ingest_queue_popped_total").await >= 1.0
    })
    .await;
    assert_eq!(api.metric("sentia_points_stored_total").await, 0.0);
    // The write cannot commit within the grace period: shutdown abandons it, unacked.
    assert!(
        !within("shutdown", first.shutdown()).await,
        "shutdown had to abandon the write"
    );
    within("unlock", sqlx::query("ROLLBACK").execute(&mut locker))
        .await
        .unwrap();
    drop(locker);

    let overrides = Overrides {
        data_dir: Some(dir.path().to_path_buf()),
        api_listen: Some("127.0.0.1:0".into()),
        mqtt_url: Some(format!("mqtt://{broker}")),
        ..Overrides::default()
    };
    let second = start(config::load(None, &overrides).unwrap()).await;
    let api = Api::new(second.api_addr());
    eventually("the unacked batch was re-delivered", WAIT, || async {
        api.metric("sentia_points_received_total").await >= 1.0
    })
    .await;
    eventually("and stored once", WAIT, || async {
        raw_count(&api, "plant/area/line/locked/count", t0).await == 1
    })
    .await;
    drop(publisher);
    assert!(within("shutdown", second.shutdown()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_mosquitto() {
    // `SENTIA_TEST_MQTT` (host:port, as `.ci/run` sets it) or a full `SENTIA_TEST_MQTT_URL`.
    let url = std::env::var("SENTIA_TEST_MQTT")
        .map(|hostport| format!("mqtt://{hostport}"))
        .or_else(|_| std::env::var("SENTIA_TEST_MQTT_URL"))
        .unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into());
    let hostport = url
        .trim_start_matches("mqtt://")
        .trim_start_matches("tcp://")
        .to_owned();
    if tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(&hostport),
    )
    .await
    .map_or(true, |r| r.is_err())
    {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("MQTT broker at {url} is required under CI=true");
        }
        println!("skipped: no MQTT broker at {url}");
        return;
    }
    let (host, port) = hostport.rsplit_once(':').unwrap();
    let port: u16 = port.parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let unique = format!("{:016x}", rand::random::<u64>());
    let file = dir.path().join("aggregator.toml");
    std::fs::write(
        &file,
        format!(
            "data_dir = {:?}\n[mqtt]\nmode = \"external\"\nurl = \"{url}\"\nclient_id = \"sentia-test-{unique}\"\n[api]\nlisten = \"127.0.0.1:0\"\n",
            dir.path().join("data")
        ),
    )
    .unwrap();
    let settings = config::load(Some(&file), &Overrides::default()).unwrap();
    let app: App = start(settings).await;
    let api = Api::new(app.api_addr());
    let publisher = Publisher::connect(host, port, &format!("test-agent-{unique}"));
    let agent = format!("edge-{unique}");
    let asset = format!("test/{unique}/line/machine");
    let t0 = (now_ns() / SEC - 600) * SEC;
    let all = batches(&agent, &asset, 50, t0);
    for (topic, msg) in &all {
        publisher.send(topic, msg, Encoding::Json).await;
    }
    publisher
        .raw(
            &format!("sentia/v1/data/{agent}/{asset}"),
            b"{\"v\":1}".to_vec(),
        )
        .await;
    let tag = format!("{asset}/count");
    eventually("50 batches stored via Mosquitto", WAIT, || async {
        raw_count(&api, &tag, t0).await == 50
    })
    .await;
    eventually("the malformed one counted", WAIT, || async {
        api.metric("sentia_decode_errors_total{reason=\"malformed_json\"}")
            .await
            >= 1.0
    })
    .await;
    drop(publisher);
    assert!(within("shutdown", app.shutdown()).await);
    // Leave no persistent session behind on a shared broker: connecting once with a clean
    // session under the same client id discards it.
    within(
        "discard session",
        discard_session(host, port, &format!("sentia-test-{unique}")),
    )
    .await;
}

async fn discard_session(host: &str, port: u16, client_id: &str) {
    let mut options = rumqttc::MqttOptions::new(client_id, host, port);
    options.set_clean_session(true);
    let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 4);
    loop {
        match eventloop.poll().await {
            Ok(rumqttc::Event::Incoming(rumqttc::Incoming::ConnAck(_))) => {
                client.disconnect().await.unwrap();
            }
            Ok(rumqttc::Event::Outgoing(rumqttc::Outgoing::Disconnect)) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
