//! Storage against real databases: SQLite in a temp dir and PostgreSQL (see `common` for how
//! the PostgreSQL database is found). Every scenario runs on both backends, and one test
//! checks both give identical answers.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use aggregator::config::StorageTarget;
use aggregator::store::{
    Bucket, CatalogRecord, History, MAX_TS_NS, PointRecord, Store, StoreError, StoreOptions,
    WriteSet,
};
use common::{PgTestDb, sqlite_store, within};
use protocols::model::{AgentId, Point, Quality, TagId, TagMeta, Value};

fn tag(s: &str) -> TagId {
    TagId::new(s).unwrap()
}

const SPEED: &str = "demo/hall-1/line-1/motor-01/speed";
const MODE: &str = "demo/hall-1/line-1/motor-01/mode";
const RUNNING: &str = "demo/hall-1/line-1/motor-01/running";

fn point(t: &str, ts_ns: i64, value: Option<Value>, quality: Quality) -> PointRecord {
    PointRecord {
        point: Point {
            tag: tag(t),
            ts_ns,
            value,
            quality,
        },
        recv_ns: ts_ns + 5,
    }
}

fn good(t: &str, ts_ns: i64, v: f64) -> PointRecord {
    point(t, ts_ns, Some(Value::Float(v)), Quality::Good)
}

/// Uneven timestamps over [1000, 2000); buckets of 250 with max_points = 4.
fn series() -> WriteSet {
    WriteSet {
        points: vec![
            good(SPEED, 999, 99.0), // before the range
            good(SPEED, 1000, 1.0),
            good(SPEED, 1010, 5.0),
            good(SPEED, 1249, 3.0),
            good(SPEED, 1260, 2.0),
            // Newest in its bucket but bad: excluded from every aggregate, `last` included.
            point(
                SPEED,
                1300,
                Some(Value::Float(100.0)),
                Quality::Bad("spike".into()),
            ),
            good(SPEED, 1750, -4.0),
            good(SPEED, 1999, 8.0),
            good(SPEED, 2000, 99.0), // the range end is exclusive
        ],
        catalogs: vec![],
    }
}

async fn idempotent_insert(store: &Store) {
    let set = series();
    let first = store.write(&set).await.unwrap();
    assert_eq!((first.inserted, first.duplicates), (9, 0));
    let again = store.write(&set).await.unwrap();
    assert_eq!((again.inserted, again.duplicates), (0, 9));
    let Some(History::Raw(points)) = store.history(&tag(SPEED), 0, 10_000, 100).await.unwrap()
    else {
        panic!("expected raw history");
    };
    assert_eq!(points.len(), 9);
    // Repeats inside one write count as duplicates too.
    let twice = WriteSet {
        points: vec![good(SPEED, 5000, 1.0), good(SPEED, 5000, 2.0)],
        catalogs: vec![],
    };
    let out = store.write(&twice).await.unwrap();
    assert_eq!((out.inserted, out.duplicates), (1, 1));
}

async fn latest_and_values(store: &Store) {
    let set = WriteSet {
        points: vec![
            point(MODE, 10, Some(Value::Text("Auto".into())), Quality::Good),
            point(MODE, 20, None, Quality::Bad("timeout".into())),
            point(RUNNING, 15, Some(Value::Bool(true)), Quality::Good),
            point(
                SPEED,
                30,
                Some(Value::UInt(u64::MAX)),
                Quality::Uncertain("stale".into()),
            ),
            point(SPEED, 25, Some(Value::Int(-3)), Quality::Good),
        ],
        catalogs: vec![],
    };
    store.write(&set).await.unwrap();
    // Points after `not_after` (stamped in the future) are not anyone's latest.
    let early: Vec<_> = store
        .latest(25)
        .await
        .unwrap()
        .into_iter()
        .map(|(t, p)| (t.to_string(), p.ts_ns))
        .collect();
    assert_eq!(
        early,
        [
            (MODE.to_owned(), 20),
            (RUNNING.to_owned(), 15),
            (SPEED.to_owned(), 25)
        ]
    );
    assert!(
        store
            .latest(14)
            .await
            .unwrap()
            .iter()
            .all(|(t, _)| t.as_str() == MODE)
    );
    let latest = store.latest(i64::MAX).await.unwrap();
    let got: Vec<_> = latest
        .iter()
        .map(|(t, p)| {
            (
                t.to_string(),
                p.ts_ns,
                p.value.clone(),
                p.quality.clone(),
                p.recv_ns,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                MODE.to_owned(),
                20,
                None,
                Quality::Bad("timeout".into()),
                25
            ),
            (
                RUNNING.to_owned(),
                15,
                Some(Value::Bool(true)),
                Quality::Good,
                20
            ),
            (
                SPEED.to_owned(),
                30,
                Some(Value::UInt(u64::MAX)),
                Quality::Uncertain("stale".into()),
                35
            ),
        ]
    );
}

async fn raw_history(store: &Store) {
    store.write(&series()).await.unwrap();
    let Some(History::Raw(points)) = store.history(&tag(SPEED), 1000, 2000, 7).await.unwrap()
    else {
        panic!("7 points in range with max_points 7 must be raw");
    };
    let ts: Vec<_> = points.iter().map(|p| p.ts_ns).collect();
    assert_eq!(ts, [1000, 1010, 1249, 1260, 1300, 1750, 1999]);
    assert_eq!(points[4].quality, Quality::Bad("spike".into()));
    assert_eq!(points[4].value, Some(Value::Float(100.0)));
    assert!(
        store.history(&tag(MODE), 0, 1, 10).await.unwrap().is_none(),
        "unknown tag"
    );
}

fn expected_buckets() -> History {
    let b = |start_ns, end_ns, count, min, max, avg, last| Bucket {
        start_ns,
        end_ns,
        count,
        min,
        max,
        avg,
        last,
    };
    History::Buckets {
        width_ns: 250,
        buckets: vec![
            b(1000, 1250, 3, 1.0, 5.0, 3.0, 3.0),
            b(1250, 1500, 1, 2.0, 2.0, 2.0, 2.0),
            b(1750, 2000, 2, -4.0, 8.0, 2.0, 8.0),
        ],
    }
}

async fn bucket_math(store: &Store) {
    store.write(&series()).await.unwrap();
    let history = store
        .history(&tag(SPEED), 1000, 2000, 4)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(history, expected_buckets());
    // Bools aggregate as 0/1; ceil((1101-1000)/10) = 11.
    let set = WriteSet {
        points: (0..12)
            .map(|i| {
                point(
                    RUNNING,
                    1000 + i * 9,
                    Some(Value::Bool(i % 3 == 0)),
                    Quality::Good,
                )
            })
            .collect(),
        catalogs: vec![],
    };
    store.write(&set).await.unwrap();
    let Some(History::Buckets { width_ns, buckets }) =
        store.history(&tag(RUNNING), 1000, 1101, 10).await.unwrap()
    else {
        panic!("12 points > 10 must be bucketed");
    };
    assert_eq!(width_ns, 11);
    assert_eq!(buckets.iter().map(|b| b.count).sum::<u64>(), 12);
    assert_eq!(buckets[0].max, 1.0);
    assert_eq!(buckets.last().unwrap().end_ns, 1101);
}

async fn catalog_upsert(store: &Store) {
    // A point before any catalogue: the tag row is created with empty metadata.
    store
        .write(&WriteSet {
            points: vec![good(SPEED, 1, 1.0)],
            catalogs: vec![],
        })
        .await
        .unwrap();
    let tags = store.tags(None).await.unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!((tags[0].unit.clone(), tags[0].agent.clone()), (None, None));
    let meta = |id: &str, unit: &str| TagMeta {
        id: tag(id),
        unit: unit.into(),
        data_type: "f32".into(),
        source: "modbus-tcp://127.0.0.1:502/1/input/0".into(),
        poll_interval_ms: 500,
        description: "Motor speed".into(),
    };
    let catalog = CatalogRecord {
        agent: AgentId::new("edge-01").unwrap(),
        tags: vec![meta(SPEED, "rpm"), meta(MODE, ""), meta(SPEED, "1/min")],
        recv_ns: 7,
    };
    store
        .write(&WriteSet {
            points: vec![],
            catalogs: vec![catalog],
        })
        .await
        .unwrap();
    let asset = tag(SPEED).asset();
    let tags = store.tags(Some(&asset)).await.unwrap();
    let speed = tags.iter().find(|t| t.id.as_str() == SPEED).unwrap();
    assert_eq!(
        speed.unit.as_deref(),
        Some("1/min"),
        "the last entry for a tag wins"
    );
    assert_eq!(speed.poll_interval_ms, Some(500));
    assert_eq!(speed.agent.as_deref(), Some("edge-01"));
    assert_eq!(tags.len(), 2);
    assert!(store.tag_exists(&tag(MODE)).await.unwrap());
    assert!(!store.tag_exists(&tag(RUNNING)).await.unwrap());
    let other = protocols::model::AssetPath::new("demo/hall-1/line-1/pump").unwrap();
    assert!(store.tags(Some(&other)).await.unwrap().is_empty());
}

macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let (store, _dir) = super::sqlite_store().await;
                    super::within(stringify!($scenario), super::$scenario(&store)).await;
                    store.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let Some(db) = super::PgTestDb::create().await else { return };
                    let store = db.store().await;
                    super::within(stringify!($scenario), super::$scenario(&store)).await;
                    super::within("close", store.close()).await;
                }
            )*
        }
    };
}

async fn history_range_is_bounded(store: &Store) {
    store.write(&series()).await.unwrap();
    for (from, to) in [(-1, 10), (i64::MIN, i64::MAX), (0, MAX_TS_NS + 1), (5, 5)] {
        let got = store.history(&tag(SPEED), from, to, 4).await;
        assert!(
            matches!(got, Err(StoreError::Range { .. })),
            "[{from}, {to}): {got:?}"
        );
    }
    // The widest accepted range, bucketed: no overflow anywhere.
    let Some(History::Buckets { width_ns, buckets }) =
        store.history(&tag(SPEED), 0, MAX_TS_NS, 2).await.unwrap()
    else {
        panic!("9 points > 2 must be bucketed");
    };
    assert_eq!(width_ns, MAX_TS_NS / 2);
    assert_eq!(buckets.len(), 1);
    assert_eq!((buckets[0].count, buckets[0].last), (8, 99.0));
}

on_both_backends!(
    idempotent_insert,
    latest_and_values,
    raw_history,
    bucket_math,
    catalog_upsert,
    history_range_is_bounded
);

/// PostgreSQL refuses NUL in text (SQLSTATE 22021): a permanent error, never worth a retry.
#[tokio::test]
async fn postgres_nul_in_text_is_a_permanent_error() {
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let store = db.store().await;
    within("nul", async {
        let set = WriteSet {
            points: vec![point(SPEED, 1, None, Quality::Bad("time\0out".into()))],
            catalogs: vec![],
        };
        let e = store.write(&set).await.unwrap_err();
        assert_eq!(e.permanent_reason(), Some("data_exception"), "{e}");
        assert!(!e.is_transient());
        // Nothing of the refused transaction stayed; the same tag still works.
        store.write(&series()).await.unwrap();
        assert_eq!(store.latest(i64::MAX).await.unwrap().len(), 1);
    })
    .await;
    store.close().await;
    // A closed pool is transient (the database may come back).
    let e = store.write(&series()).await.unwrap_err();
    assert!(e.is_transient(), "{e}");
}

/// `statement_timeout` ends a write stuck behind a lock with a transient error instead of
/// letting it hang.
#[tokio::test]
async fn postgres_statement_timeout_bounds_a_blocked_write() {
    use sqlx::Connection;

    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let target = StorageTarget::Postgres {
        url: db.url.clone(),
    };
    let options = StoreOptions {
        statement_timeout: Duration::from_millis(300),
    };
    let store = within("open", Store::connect_with(&target, options))
        .await
        .unwrap();
    let mut locker = within("lock", sqlx::PgConnection::connect(&db.url))
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
    let e = tokio::time::timeout(Duration::from_secs(10), store.write(&series()))
        .await
        .expect("the write must not hang behind the lock")
        .unwrap_err();
    assert!(e.is_transient(), "{e}");
    within("unlock", sqlx::query("ROLLBACK").execute(&mut locker))
        .await
        .unwrap();
    let out = within("write", store.write(&series())).await.unwrap();
    assert_eq!(out.inserted, 9);
    store.close().await;
}

#[tokio::test]
async fn both_backends_give_identical_answers() {
    let Some(db) = PgTestDb::create().await else {
        return;
    };
    let pg = db.store().await;
    let (lite, _dir) = sqlite_store().await;
    within("compare", async {
        for store in [&pg, &lite] {
            store.write(&series()).await.unwrap();
        }
        for (from, to, max) in [
            (1000, 2000, 4),
            (0, 3000, 100),
            (0, 3000, 3),
            (1001, 1002, 1),
            (0, aggregator::store::MAX_TS_NS, 2),
            (999, 2001, 1000 - 1),
            (1000, 2000, 1),
        ] {
            let a = pg.history(&tag(SPEED), from, to, max).await.unwrap();
            let b = lite.history(&tag(SPEED), from, to, max).await.unwrap();
            assert_eq!(a, b, "history({from}, {to}, {max})");
        }
        for not_after in [i64::MAX, 1500, 999, 0] {
            assert_eq!(
                pg.latest(not_after).await.unwrap(),
                lite.latest(not_after).await.unwrap(),
                "latest({not_after})"
            );
        }
        assert_eq!(pg.tags(None).await.unwrap(), lite.tags(None).await.unwrap());
    })
    .await;
    pg.close().await;
}
