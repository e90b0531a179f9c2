//! Agent sequence gaps in `/api/v1/agents` and stale values in `/api/v1/latest` and
//! `/api/v1/assets`, in-process over real sockets (embedded broker, SQLite, API on port 0).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::harness::{Api, Publisher, eventually, start, test_settings};
use common::within;
use protocols::codec::{Encoding, Message};
use protocols::model::{
    AgentId, AssetPath, Batch, Point, TagCatalog, TagId, TagMeta, Value, now_ns,
};
use protocols::topic::Topic;
use serde_json::Value as Json;

const SEC: i64 = 1_000_000_000;
const WAIT: Duration = Duration::from_secs(20);
const MOTOR: &str = "demo/hall-1/line-1/motor-01";

fn agent(id: &str) -> AgentId {
    AgentId::new(id).unwrap()
}

fn tag(name: &str) -> TagId {
    TagId::new(&format!("{MOTOR}/{name}")).unwrap()
}

fn data_topic(a: &str) -> Topic {
    Topic::Data {
        agent: agent(a),
        asset: AssetPath::new(MOTOR).unwrap(),
    }
}

fn batch(a: &str, seq: u64, ts: i64) -> Message {
    Message::Batch(Batch {
        agent: agent(a),
        session: 7,
        seq,
        asset: AssetPath::new(MOTOR).unwrap(),
        historical: false,
        points: vec![Point::good(
            tag(&format!("{a}-speed")),
            ts,
            Value::UInt(seq),
        )],
    })
}

fn find<'a>(agents: &'a Json, id: &str) -> Option<&'a Json> {
    agents.as_array()?.iter().find(|a| a["agent"] == id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequence_gaps_open_and_fill_per_agent() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(test_settings(dir.path(), None)).await;
    let api = Api::new(app.api_addr());
    let broker: std::net::SocketAddr = app.broker().parse().unwrap();
    let publisher = Publisher::connect("127.0.0.1", broker.port(), "test-two-agents");
    let t0 = (now_ns() / SEC - 60) * SEC;

    // edge-a jumps from 1 to 4 (2 and 3 missing); edge-b has no gap.
    for (a, seq) in [
        ("edge-a", 0),
        ("edge-b", 0),
        ("edge-a", 1),
        ("edge-b", 1),
        ("edge-a", 4),
        ("edge-b", 2),
    ] {
        publisher
            .send(
                &data_topic(a),
                &batch(a, seq, t0 + seq as i64 * SEC),
                Encoding::Binary,
            )
            .await;
    }
    eventually("edge-a reports 2 missing batches", WAIT, || async {
        let (_, agents) = api.get("/api/v1/agents").await;
        find(&agents, "edge-a").is_some_and(|a| a["batches_received"] == 3)
            && find(&agents, "edge-b").is_some_and(|a| a["batches_received"] == 3)
    })
    .await;
    let (code, agents) = api.get("/api/v1/agents").await;
    assert_eq!(code, 200);
    let a = find(&agents, "edge-a").unwrap();
    assert_eq!(a["missing_batches"], 2, "{a}");
    assert_eq!(a["gaps_total"], 2, "{a}");
    assert_eq!(a["gaps_filled_total"], 0, "{a}");
    assert_eq!(a["last_seq"], 4, "{a}");
    assert_eq!(a["spool_depth"], Json::Null, "{a}");
    assert_eq!(a["state"], Json::Null, "no status message yet: {a}");
    assert!(a["last_seen_ns"].as_i64().unwrap() > 0, "{a}");
    let b = find(&agents, "edge-b").unwrap();
    assert_eq!(
        (&b["missing_batches"], &b["gaps_total"], &b["last_seq"]),
        (&Json::from(0), &Json::from(0), &Json::from(2)),
        "{b}"
    );

    // The replayed backlog fills the hole.
    for seq in [3, 2] {
        publisher
            .send(
                &data_topic("edge-a"),
                &batch("edge-a", seq, t0 + seq as i64 * SEC),
                Encoding::Json,
            )
            .await;
    }
    eventually("edge-a's gap filled", WAIT, || async {
        let (_, agents) = api.get("/api/v1/agents").await;
        find(&agents, "edge-a").is_some_and(|a| a["batches_received"] == 5)
    })
    .await;
    let (_, agents) = api.get("/api/v1/agents").await;
    let a = find(&agents, "edge-a").unwrap();
    assert_eq!(
        (
            &a["missing_batches"],
            &a["gaps_total"],
            &a["gaps_filled_total"],
            &a["last_seq"]
        ),
        (
            &Json::from(0),
            &Json::from(2),
            &Json::from(2),
            &Json::from(4)
        ),
        "{a}"
    );
    assert_eq!(api.metric("sentia_seq_gaps_total").await, 2.0);
    assert_eq!(api.metric("sentia_seq_gaps_filled_total").await, 2.0);

    drop(publisher);
    assert!(within("shutdown", app.shutdown()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_not_refreshed_become_stale() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path(), None);
    // 3 × 100 ms = 300 ms, so the 1 s floor decides for `speed`; `other` has no catalogue
    // entry: 3 × the 1 s default = 3 s.
    settings.ingest.stale.min = Duration::from_secs(1);
    let app = start(settings).await;
    let api = Api::new(app.api_addr());
    let broker: std::net::SocketAddr = app.broker().parse().unwrap();
    let publisher = Publisher::connect("127.0.0.1", broker.port(), "test-stale");
    let catalog = Message::Catalog(TagCatalog {
        agent: agent("edge-01"),
        session: 1,
        tags: vec![TagMeta {
            id: tag("speed"),
            unit: "rpm".into(),
            data_type: "u16".into(),
            source: "modbus-tcp://10.0.0.5:502/1/holding/1".into(),
            poll_interval_ms: 100,
            description: "Motor speed".into(),
        }],
    });
    publisher
        .send(
            &Topic::Meta {
                agent: agent("edge-01"),
            },
            &catalog,
            Encoding::Json,
        )
        .await;
    eventually("catalogue stored", WAIT, || async {
        let (_, tags) = api.get("/api/v1/tags").await;
        tags.as_array()
            .is_some_and(|t| t.iter().any(|t| t["poll_interval_ms"] == 100))
    })
    .await;
    let ts = now_ns();
    let b = Message::Batch(Batch {
        agent: agent("edge-01"),
        session: 1,
        seq: 0,
        asset: AssetPath::new(MOTOR).unwrap(),
        historical: false,
        points: vec![
            Point::good(tag("speed"), ts, Value::UInt(1480)),
            Point::good(tag("other"), ts, Value::UInt(1)),
        ],
    });
    publisher
        .send(&data_topic("edge-01"), &b, Encoding::Binary)
        .await;
    let latest_path = format!("/api/v1/latest?asset={MOTOR}");
    eventually("fresh values served", WAIT, || async {
        let (_, latest) = api.get(&latest_path).await;
        latest
            .as_array()
            .is_some_and(|l| l.len() == 2 && l.iter().all(|e| e["stale"] == false))
    })
    .await;

    // `speed` is not refreshed: stale after the 1 s floor, well before `other`'s 3 s.
    eventually("speed stale", WAIT, || async {
        let (_, latest) = api.get(&format!("/api/v1/latest?tags={MOTOR}/speed")).await;
        latest[0]["stale"] == true
    })
    .await;
    let (_, latest) = api.get(&latest_path).await;
    let (_, assets) = api.get("/api/v1/assets").await;
    let age_ns = now_ns() - latest[0]["receive_ts_ns"].as_i64().unwrap();
    let motor = &assets["sites"][0]["areas"][0]["lines"][0]["assets"][0];
    if age_ns < 2 * SEC {
        // Only meaningful while `other` is surely fresh (a slow machine may be past 3 s).
        assert_eq!(latest[0]["tag"], format!("{MOTOR}/other"), "{latest}");
        assert_eq!(latest[0]["stale"], false, "{latest}");
        assert_eq!(latest[1]["stale"], true, "{latest}");
        assert_eq!(motor["stale_tags"], 1, "{assets}");
        assert_eq!(motor["status"], "online", "{assets}");
    }

    // Then `other` too, and the asset as a whole.
    eventually("asset stale", WAIT, || async {
        let (_, assets) = api.get("/api/v1/assets").await;
        let motor = &assets["sites"][0]["areas"][0]["lines"][0]["assets"][0];
        motor["status"] == "stale" && motor["stale_tags"] == 2
    })
    .await;
    let (_, latest) = api.get(&latest_path).await;
    assert!(
        latest
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["stale"] == true),
        "{latest}"
    );

    drop(publisher);
    assert!(within("shutdown", app.shutdown()).await);
}
