//! Ingest and API under bad input and a misbehaving database, end to end (embedded broker,
//! real SQLite and PostgreSQL; PostgreSQL as in `common`):
//!
//! - a message the database refuses for good is isolated from its write batch, counted and
//!   acked, and everything around it is stored (a database trigger stands in for data the
//!   database rejects, e.g. PostgreSQL's 22021 for NUL in text);
//! - a payload with NUL in a text field is rejected before storage (`nul_in_text`);
//! - points stamped far in the future are stored but never become the latest value, also
//!   after a restart;
//! - an API request stuck on a locked table is answered 503 `timeout`.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use aggregator::app::App;
use common::harness::{Api, Publisher, eventually, start, test_settings};
use common::{PgTestDb, within};
use protocols::codec::{Encoding, Message};
use protocols::model::{AgentId, AssetPath, Batch, Point, Quality, TagId, Value, now_ns};
use protocols::topic::Topic;
use sqlx::Connection;

const SEC: i64 = 1_000_000_000;
const WAIT: Duration = Duration::from_secs(30);
const ASSET: &str = "plant/area/line/machine";
/// More than rumqttd's in-flight window (100): if the refused message were never acked,
/// the ones after it could not all arrive.
const AFTER_POISON: u64 = 150;

fn topic() -> Topic {
    Topic::Data {
        agent: AgentId::new("edge-f").unwrap(),
        asset: AssetPath::new(ASSET).unwrap(),
    }
}

fn tag(name: &str) -> TagId {
    TagId::new(&format!("{ASSET}/{name}")).unwrap()
}

fn batch(seq: u64, points: Vec<Point>) -> Message {
    Message::Batch(Batch {
        agent: AgentId::new("edge-f").unwrap(),
        session: 3,
        seq,
        asset: AssetPath::new(ASSET).unwrap(),
        historical: false,
        points,
    })
}

fn bad(name: &str, ts: i64, reason: &str) -> Point {
    Point {
        tag: tag(name),
        ts_ns: ts,
        value: None,
        quality: Quality::Bad(reason.into()),
    }
}

fn broker_port(app: &App) -> u16 {
    app.broker().rsplit_once(':').unwrap().1.parse().unwrap()
}

/// Publishes a good batch, a poisoned one (refused by the database trigger), one with NUL
/// in a reason, then [`AFTER_POISON`] good ones, and checks what got stored and counted.
async fn poison_scenario(app: &App, reason: &str) {
    let api = Api::new(app.api_addr());
    let publisher = Publisher::connect("127.0.0.1", broker_port(app), "test-agent-poison");
    let t0 = (now_ns() / SEC - 600) * SEC;
    let topic = topic();
    let good = |seq: u64| {
        batch(
            seq,
            vec![Point::good(tag("count"), t0 + seq as i64, Value::UInt(seq))],
        )
    };
    publisher.send(&topic, &good(0), Encoding::Binary).await;
    let poisoned = batch(
        1,
        vec![
            Point::good(tag("poisoned"), t0, Value::Int(1)),
            bad("poisoned", t0 + 1, "poison"),
        ],
    );
    publisher.send(&topic, &poisoned, Encoding::Binary).await;
    let nul = batch(2, vec![bad("count", t0 - 1, "time\0out")]);
    publisher.send(&topic, &nul, Encoding::Json).await;
    for seq in 3..3 + AFTER_POISON {
        publisher.send(&topic, &good(seq), Encoding::Binary).await;
    }
    let stored = 1.0 + AFTER_POISON as f64;
    eventually(
        "everything but the refused messages stored",
        WAIT,
        || async { api.metric("sentia_points_stored_total").await >= stored },
    )
    .await;
    let m = api.metrics().await;
    let metric = |s: &str| common::harness::metric_in(&m, s);
    assert_eq!(metric("sentia_points_stored_total"), stored, "{m}");
    assert_eq!(
        metric(&format!(
            "sentia_points_rejected_total{{reason=\"{reason}\"}}"
        )),
        2.0,
        "{m}"
    );
    assert_eq!(
        metric(&format!(
            "sentia_messages_rejected_total{{reason=\"{reason}\"}}"
        )),
        1.0,
        "{m}"
    );
    assert_eq!(
        metric("sentia_decode_errors_total{reason=\"nul_in_text\"}"),
        1.0,
        "{m}"
    );
    let (code, body) = api
        .get(&format!(
            "/api/v1/history?tag={ASSET}/count&from={}&to={}&max_points=100000",
            t0 - SEC,
            t0 + SEC
        ))
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["points"].as_array().unwrap().len(), stored as usize);
    let (code, _) = api
        .get(&format!("/api/v1/latest?tags={ASSET}/poisoned"))
        .await;
    assert_eq!(code, 404, "nothing of the refused message was stored");
    drop(publisher);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_refused_message_is_isolated_counted_and_acked() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(test_settings(dir.path(), None)).await;
    let db = dir.path().join("sentia.db");
    let mut conn = within(
        "connect",
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())),
    )
    .await
    .unwrap();
    within(
        "trigger",
        sqlx::query(
            "CREATE TRIGGER poison BEFORE INSERT ON points WHEN NEW.reason = 'poison' \
             BEGIN SELECT RAISE(ABORT, 'poison'); END",
        )
        .execute(&mut conn),
    )
    .await
    .unwrap();
    drop(conn);
    within("scenario", poison_scenario(&app, "integrity_violation")).await;
    assert!(within("shutdown", app.shutdown()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refused_message_is_isolated_counted_and_acked() {
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = start(test_settings(dir.path(), Some(db.url.clone()))).await;
    let mut conn = within("connect", sqlx::PgConnection::connect(&db.url))
        .await
        .unwrap();
    within("trigger", async {
        // What PostgreSQL answers to NUL in text, were it not caught at classification.
        sqlx::query(
            "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.reason = 'poison' THEN RAISE EXCEPTION 'poison' USING ERRCODE = '22021'; \
             END IF; RETURN NEW; END $$",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query(
            "CREATE TRIGGER poison BEFORE INSERT ON points FOR EACH ROW EXECUTE FUNCTION poison()",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    })
    .await;
    let _ = conn.close().await;
    within("scenario", poison_scenario(&app, "data_exception")).await;
    assert!(within("shutdown", app.shutdown()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn future_points_are_stored_but_never_latest() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(test_settings(dir.path(), None)).await;
    let api = Api::new(app.api_addr());
    let publisher = Publisher::connect("127.0.0.1", broker_port(&app), "test-agent-future");
    let now = (now_ns() / SEC) * SEC;
    let future = now + 3600 * SEC; // well beyond the default 5 min skew
    let msg = batch(
        0,
        vec![
            Point::good(tag("speed"), now - SEC, Value::UInt(1)),
            Point::good(tag("speed"), future, Value::UInt(2)),
        ],
    );
    publisher.send(&topic(), &msg, Encoding::Binary).await;
    eventually("both points stored", WAIT, || async {
        api.metric("sentia_points_stored_total").await >= 2.0
    })
    .await;
    assert_eq!(api.metric("sentia_points_future_ts_total").await, 1.0);
    let latest_value = |api: Api| async move {
        let (code, body) = api.get(&format!("/api/v1/latest?tags={ASSET}/speed")).await;
        assert_eq!(code, 200, "{body}");
        (body[0]["value"].clone(), body[0]["source_ts_ns"].clone())
    };
    assert_eq!(
        latest_value(Api::new(app.api_addr())).await,
        (serde_json::json!(1), serde_json::json!(now - SEC))
    );
    let (_, raw) = api
        .get(&format!(
            "/api/v1/history?tag={ASSET}/speed&from={}&to={}",
            now - 10 * SEC,
            future + 1
        ))
        .await;
    assert_eq!(raw["points"].as_array().unwrap().len(), 2, "{raw}");
    drop(publisher);
    assert!(within("shutdown", app.shutdown()).await);

    // Warming the cache from storage skips the future point too.
    let again = start(test_settings(dir.path(), None)).await;
    assert_eq!(
        latest_value(Api::new(again.api_addr())).await,
        (serde_json::json!(1), serde_json::json!(now - SEC))
    );
    assert!(within("shutdown", again.shutdown()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stuck_api_request_times_out_with_503() {
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path(), Some(db.url.clone()));
    settings.api.request_timeout = Duration::from_millis(500);
    let app = start(settings).await;
    let api = Api::new(app.api_addr());
    let publisher = Publisher::connect("127.0.0.1", broker_port(&app), "test-agent-timeout");
    let now = now_ns();
    let msg = batch(0, vec![Point::good(tag("speed"), now, Value::UInt(1))]);
    publisher.send(&topic(), &msg, Encoding::Binary).await;
    eventually("stored", WAIT, || async {
        api.metric("sentia_points_stored_total").await >= 1.0
    })
    .await;

    let mut locker = within("connect", sqlx::PgConnection::connect(&db.url))
        .await
        .unwrap();
    within("lock", async {
        sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
        sqlx::query("LOCK TABLE points IN ACCESS EXCLUSIVE MODE")
            .execute(&mut locker)
            .await
            .unwrap();
    })
    .await;
    let history = format!(
        "/api/v1/history?tag={ASSET}/speed&from={}&to={}",
        now - SEC,
        now + SEC
    );
    let (code, body) = api.get(&history).await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["error"]["code"], "timeout", "{body}");
    let (code, _) = api.get("/api/v1/health").await;
    assert_eq!(code, 200, "health does not touch the locked table");
    within("unlock", sqlx::query("ROLLBACK").execute(&mut locker))
        .await
        .unwrap();
    let (code, body) = api.get(&history).await;
    assert_eq!(code, 200, "{body}");
    drop(publisher);
    assert!(within("shutdown", app.shutdown()).await);
}
