//! `GET /api/v1/live` over a real WebSocket: subscriptions select exactly the tags asked for,
//! and a client that stops reading neither delays another client nor ingest; the server
//! drops it as too slow (counted in `sentia_live_slow_clients_total`, with a close frame
//! carrying the reason when the client's buffers still take one). In-process aggregator:
//! embedded broker, SQLite, API on port 0.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::harness::{Api, Publisher, eventually, start, test_settings};
use common::within;
use futures_util::{SinkExt, StreamExt};
use protocols::codec::{Encoding, Message};
use protocols::model::{AgentId, AssetPath, Batch, Point, TagId, Value, now_ns};
use protocols::topic::Topic;
use serde_json::{Value as Json, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WAIT: Duration = Duration::from_secs(20);

fn asset(i: usize) -> AssetPath {
    AssetPath::new(&format!("plant/hall/line/m{i}")).unwrap()
}

fn tag(i: usize, name: &str) -> TagId {
    TagId::new(&format!("{}/{name}", asset(i))).unwrap()
}

struct Plant {
    publisher: Publisher,
    seq: u64,
}

impl Plant {
    /// Publishes one batch per asset; tag `k` of asset `i` gets `value(i, k)`.
    async fn round(&mut self, assets: usize, tags: usize, value: impl Fn(usize, usize) -> Value) {
        let ts = now_ns();
        for i in 0..assets {
            let points = (0..tags)
                .map(|k| Point::good(tag(i, &format!("t{k}")), ts, value(i, k)))
                .collect();
            let batch = Batch {
                agent: AgentId::new("edge-live").unwrap(),
                session: 1,
                seq: self.seq,
                asset: asset(i),
                historical: false,
                points,
            };
            self.seq += 1;
            let topic = Topic::Data {
                agent: AgentId::new("edge-live").unwrap(),
                asset: asset(i),
            };
            self.publisher
                .send(&topic, &Message::Batch(batch), Encoding::Binary)
                .await;
        }
    }
}

async fn connect(addr: std::net::SocketAddr) -> Socket {
    let (ws, _) = within(
        "websocket connect",
        connect_async(format!("ws://{addr}/api/v1/live")),
    )
    .await
    .unwrap();
    ws
}

async fn request(ws: &mut Socket, msg: Json) {
    within("websocket send", ws.send(Ws::text(msg.to_string())))
        .await
        .unwrap();
}

/// The next JSON text frame.
async fn next(ws: &mut Socket) -> Json {
    loop {
        match within("websocket frame", ws.next()).await {
            Some(Ok(Ws::Text(t))) => return serde_json::from_str(t.as_str()).unwrap(),
            Some(Ok(Ws::Ping(_) | Ws::Pong(_))) => {}
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Values frames until every tag in `want` has been seen with a value `until` accepts;
/// returns every tag seen (with its last value).
async fn collect_until(
    ws: &mut Socket,
    mut done: impl FnMut(&HashMap<String, Json>) -> bool,
) -> HashMap<String, Json> {
    let mut seen = HashMap::new();
    while !done(&seen) {
        let frame = next(ws).await;
        assert_eq!(frame["type"], "values", "{frame}");
        for v in frame["values"].as_array().unwrap() {
            seen.insert(v["tag"].as_str().unwrap().to_owned(), v["value"].clone());
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_select_tags_and_assets() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(test_settings(dir.path(), None)).await;
    let api = Api::new(app.api_addr());
    let broker: std::net::SocketAddr = app.broker().parse().unwrap();
    let mut plant = Plant {
        publisher: Publisher::connect("127.0.0.1", broker.port(), "live-filter"),
        seq: 0,
    };
    plant
        .round(3, 3, |i, k| Value::Int((i * 10 + k) as i64))
        .await;
    eventually("first values stored", WAIT, || async {
        let (code, body) = api.get(&format!("/api/v1/latest?asset={}", asset(2))).await;
        code == 200 && body.as_array().is_some_and(|a| a.len() == 3)
    })
    .await;

    let mut by_asset = connect(app.api_addr()).await;
    let mut by_tag = connect(app.api_addr()).await;
    request(
        &mut by_asset,
        json!({"type": "subscribe", "assets": [asset(0).to_string()]}),
    )
    .await;
    let ack = next(&mut by_asset).await;
    assert_eq!(
        ack,
        json!({"type": "subscribed", "tags": [], "assets": [asset(0).to_string()]})
    );
    let snapshot = next(&mut by_asset).await;
    assert_eq!(snapshot["snapshot"], true);
    let tags: Vec<&str> = snapshot["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["tag"].as_str().unwrap())
        .collect();
    assert_eq!(
        tags,
        [
            tag(0, "t0").as_str(),
            tag(0, "t1").as_str(),
            tag(0, "t2").as_str()
        ]
    );

    // Unknown and malformed ids are refused by name; the valid one still applies.
    request(
        &mut by_tag,
        json!({"type": "subscribe", "tags": [tag(1, "t2").to_string(), tag(1, "nope").to_string(), "not a tag"]}),
    )
    .await;
    let err = next(&mut by_tag).await;
    assert_eq!(err["type"], "error");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("unknown tag '{}'", tag(1, "nope"))),
        "{message}"
    );
    assert!(message.contains("'not a tag'"), "{message}");
    assert_eq!(next(&mut by_tag).await["type"], "subscribed");
    let snapshot = next(&mut by_tag).await;
    assert_eq!(snapshot["values"][0]["value"], 12);
    assert_eq!(snapshot["values"].as_array().unwrap().len(), 1);

    // New values: each client gets exactly what it subscribed to.
    plant
        .round(3, 3, |i, k| Value::Int((1000 + i * 10 + k) as i64))
        .await;
    let got = collect_until(&mut by_asset, |seen| seen.len() == 3).await;
    for k in 0..3 {
        assert_eq!(got[tag(0, &format!("t{k}")).as_str()], json!(1000 + k));
    }
    let got = collect_until(&mut by_tag, |seen| !seen.is_empty()).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[tag(1, "t2").as_str()], json!(1012));

    // After unsubscribing, nothing more arrives for that tag; the asset client still gets its
    // values (proving the round was stored and streamed).
    request(
        &mut by_tag,
        json!({"type": "unsubscribe", "tags": [tag(1, "t2").to_string()]}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    plant.round(3, 3, |_, _| Value::Int(7)).await;
    let got = collect_until(&mut by_asset, |seen| {
        seen.len() == 3 && seen.values().all(|v| *v == 7)
    })
    .await;
    assert_eq!(got.len(), 3);
    let quiet = tokio::time::timeout(Duration::from_millis(500), by_tag.next()).await;
    assert!(quiet.is_err(), "unsubscribed client got {quiet:?}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_does_not_delay_another() {
    const ASSETS: usize = 4;
    const TAGS: usize = 400;
    const ROUNDS: usize = 24;
    let dir = tempfile::tempdir().unwrap();
    let app = start(test_settings(dir.path(), None)).await;
    let api = Api::new(app.api_addr());
    let broker: std::net::SocketAddr = app.broker().parse().unwrap();
    let mut plant = Plant {
        publisher: Publisher::connect("127.0.0.1", broker.port(), "live-slow"),
        seq: 0,
    };
    // ~600-byte text values: a round is ~1 MB of frames per client, so a client that does
    // not read fills the socket buffers within a few rounds.
    let text = |round: usize| {
        move |i: usize, k: usize| Value::Text(format!("r{round:03}-{i}-{k}-{}", "x".repeat(600)))
    };
    plant.round(ASSETS, TAGS, text(0)).await;
    eventually("first round stored", WAIT, || async {
        let (code, body) = api
            .get(&format!("/api/v1/latest?asset={}", asset(ASSETS - 1)))
            .await;
        code == 200 && body.as_array().is_some_and(|a| a.len() == TAGS)
    })
    .await;
    let all: Vec<String> = (0..ASSETS).map(|i| asset(i).to_string()).collect();
    let mut slow = connect(app.api_addr()).await;
    let mut fast = connect(app.api_addr()).await;
    request(&mut slow, json!({"type": "subscribe", "assets": all})).await;
    request(&mut fast, json!({"type": "subscribe", "assets": all})).await;
    assert_eq!(next(&mut fast).await["type"], "subscribed");

    // The fast client reads everything; the slow one reads nothing.
    let reader = tokio::spawn(async move {
        let mut seen: HashMap<String, String> = HashMap::new();
        let target = format!("r{ROUNDS:03}-");
        loop {
            let frame = next(&mut fast).await;
            for v in frame["values"].as_array().unwrap() {
                let prefix = v["value"].as_str().unwrap()[..5].to_owned();
                seen.insert(v["tag"].as_str().unwrap().to_owned(), prefix);
            }
            if seen.len() == ASSETS * TAGS && seen.values().all(|v| *v == target) {
                return Instant::now();
            }
        }
    });
    let mut published_last = Instant::now();
    for round in 1..=ROUNDS {
        plant.round(ASSETS, TAGS, text(round)).await;
        published_last = Instant::now();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let seen_at = within("fast client sees the last round", reader)
        .await
        .unwrap();
    let lag = seen_at.saturating_duration_since(published_last);
    println!("fast client: last round on screen {lag:?} after it was published");
    assert!(lag < Duration::from_secs(4), "fast client lagged {lag:?}");

    // The slow client has been cut off with a reason; the frames it got before are intact.
    eventually("the slow client is counted as dropped", WAIT, || async {
        api.metrics()
            .await
            .contains("sentia_live_slow_clients_total 1")
    })
    .await;
    // What the slow client finds when it reads again: the frames that fit in the socket
    // buffers, then the close frame with the reason, if it could still be delivered (its
    // buffers were full, so the server may have had to drop the connection without it).
    let mut close = None;
    while let Some(msg) = within("drain slow client", slow.next()).await {
        match msg {
            Ok(Ws::Close(frame)) => {
                close = frame;
                break;
            }
            Ok(_) => {}
            Err(e) => {
                println!("slow client: connection ended without a close frame: {e}");
                break;
            }
        }
    }
    if let Some(frame) = close {
        assert_eq!(u16::from(frame.code), 1008);
        assert!(
            frame.reason.as_str().starts_with("too slow"),
            "{}",
            frame.reason
        );
    }
    app.shutdown().await;
}
