//! SQLite backend: one file, WAL journal, `synchronous = FULL`, `points` WITHOUT ROWID.
//!
//! `FULL` because MQTT messages are acked right after the commit: in WAL mode `NORMAL` may
//! lose the last commits on power loss, and their messages would never be re-delivered.
//! Writes go through a pool of one connection ([`WRITE_POOL_SIZE`]), reads through their own
//! pool, so API queries never hold the connection ingest needs.
//!
//! Multi-row inserts are chunked to stay under SQLite's bind-parameter limit. Bucketed
//! history uses SQLite's bare-column rule: in a query with exactly one `max()` aggregate,
//! other columns come from the row holding the maximum, which gives each bucket's last value.

use std::path::Path;
use std::time::Duration;

use protocols::model::{AssetPath, TagId};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::history::BucketRow;
use super::plan::WritePlan;
use super::row::{from_columns, quality_from};
use super::sql;
use super::tag_ids::TagIds;
use super::{StoreError, StoredPoint, TagRecord, WriteOutcome};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// SQLite allows 32766 bind parameters per statement (since 3.32); stay below.
const MAX_BINDS: usize = 30_000;
/// Read connections (API, health).
const POOL_SIZE: u32 = 4;
/// Write connections: SQLite has one writer at a time anyway.
const WRITE_POOL_SIZE: u32 = 1;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: SqlitePool,
    ids: TagIds,
}

impl SqliteStore {
    pub(crate) async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|source| StoreError::CreateDir {
                    path: dir.to_path_buf(),
                    source,
                })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let connect_error = |source| StoreError::Connect {
            target: format!("sqlite:{}", path.display()),
            source,
        };
        let writer = SqlitePoolOptions::new()
            .max_connections(WRITE_POOL_SIZE)
            .connect_with(options.clone())
            .await
            .map_err(connect_error)?;
        MIGRATOR
            .run(&writer)
            .await
            .map_err(|source| StoreError::Migrate {
                backend: "sqlite",
                source,
            })?;
        let pool = SqlitePoolOptions::new()
            .max_connections(POOL_SIZE)
            .connect_with(options)
            .await
            .map_err(connect_error)?;
        Ok(Self {
            pool,
            writer,
            ids: TagIds::default(),
        })
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(StoreError::query("pinging SQLite"))?;
        Ok(())
    }

    pub(crate) async fn write(&self, plan: &WritePlan) -> Result<WriteOutcome, StoreError> {
        const OP: &str = "writing a batch to SQLite";
        let mut tx = self.writer.begin().await.map_err(StoreError::query(OP))?;
        for chunk in plan.catalog.chunks(MAX_BINDS / sql::CATALOG_COLUMNS) {
            let mut qb = QueryBuilder::<Sqlite>::new(sql::INSERT_CATALOG_HEAD);
            qb.push_values(chunk, |mut b, r| {
                b.push_bind(r.tag.clone())
                    .push_bind(r.asset.clone())
                    .push_bind(r.name.clone())
                    .push_bind(r.unit.clone())
                    .push_bind(r.data_type.clone())
                    .push_bind(r.source.clone())
                    .push_bind(r.poll_interval_ms)
                    .push_bind(r.description.clone())
                    .push_bind(r.agent.clone())
                    .push_bind(r.recv_ns)
                    .push_bind(r.recv_ns);
            });
            qb.push(sql::INSERT_CATALOG_TAIL);
            qb.build()
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(OP))?;
        }

        let (mut ids, missing) = self.ids.split(&plan.tags);
        let mut found = Vec::new();
        for chunk in missing.chunks(MAX_BINDS / sql::TAG_COLUMNS) {
            let mut qb = QueryBuilder::<Sqlite>::new(sql::INSERT_TAG_HEAD);
            qb.push_values(chunk, |mut b, n| {
                b.push_bind(n.tag.to_string())
                    .push_bind(n.tag.asset().to_string())
                    .push_bind(n.tag.name().to_owned())
                    .push_bind(n.first_recv_ns)
                    .push_bind(n.first_recv_ns);
            });
            qb.push(sql::ON_CONFLICT_TAG_NOTHING);
            qb.build()
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(OP))?;

            let mut qb = QueryBuilder::<Sqlite>::new("SELECT id, tag FROM tags WHERE tag IN (");
            let mut list = qb.separated(", ");
            for n in chunk {
                list.push_bind(n.tag.to_string());
            }
            qb.push(")");
            for row in qb
                .build()
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::query(OP))?
            {
                let id: i64 = row.try_get(0).map_err(StoreError::query(OP))?;
                let tag: String = row.try_get(1).map_err(StoreError::query(OP))?;
                let tag = TagId::new(&tag).map_err(|e| StoreError::bad_tag(OP, &tag, e))?;
                ids.insert(tag.clone(), id);
                found.push((tag, id));
            }
        }
        let tag_ids = super::plan::resolve(plan, &ids, OP)?;

        let mut inserted = 0;
        let rows: Vec<_> = plan.points.iter().zip(tag_ids).collect();
        for chunk in rows.chunks(MAX_BINDS / sql::POINT_COLUMNS) {
            let mut qb = QueryBuilder::<Sqlite>::new(sql::INSERT_POINTS_HEAD);
            qb.push_values(chunk, |mut b, (p, id)| {
                b.push_bind(*id)
                    .push_bind(p.ts_ns)
                    .push_bind(p.value.num)
                    .push_bind(p.value.text.clone())
                    .push_bind(p.value.kind)
                    .push_bind(p.quality)
                    .push_bind(p.reason.clone())
                    .push_bind(p.recv_ns);
            });
            qb.push(sql::ON_CONFLICT_POINT_NOTHING);
            let done = qb
                .build()
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(OP))?;
            inserted += done.rows_affected();
        }
        tx.commit().await.map_err(StoreError::query(OP))?;
        self.ids.extend(found);
        Ok(WriteOutcome {
            inserted,
            duplicates: (plan.points.len() as u64).saturating_sub(inserted),
        })
    }

    pub(crate) async fn tags(
        &self,
        asset: Option<&AssetPath>,
    ) -> Result<Vec<TagRecord>, StoreError> {
        const OP: &str = "listing tags";
        let rows = match asset {
            Some(a) => {
                sqlx::query(sql::sqlite::SELECT_TAGS_OF_ASSET)
                    .bind(a.to_string())
                    .fetch_all(&self.pool)
                    .await
            }
            None => {
                sqlx::query(sql::SELECT_TAGS_ALL)
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .map_err(StoreError::query(OP))?;
        rows.iter()
            .map(|r| {
                let tag: String = r.try_get(0).map_err(StoreError::query(OP))?;
                let poll: Option<i64> = r.try_get(4).map_err(StoreError::query(OP))?;
                Ok(TagRecord {
                    id: TagId::new(&tag).map_err(|e| StoreError::bad_tag(OP, &tag, e))?,
                    unit: r.try_get(1).map_err(StoreError::query(OP))?,
                    data_type: r.try_get(2).map_err(StoreError::query(OP))?,
                    source: r.try_get(3).map_err(StoreError::query(OP))?,
                    poll_interval_ms: poll.and_then(|p| u32::try_from(p).ok()),
                    description: r.try_get(5).map_err(StoreError::query(OP))?,
                    agent: r.try_get(6).map_err(StoreError::query(OP))?,
                })
            })
            .collect()
    }

    pub(crate) async fn tag_row_id(&self, tag: &TagId) -> Result<Option<i64>, StoreError> {
        if let Some(id) = self.ids.get(tag) {
            return Ok(Some(id));
        }
        sqlx::query_scalar(sql::sqlite::SELECT_TAG_ID)
            .bind(tag.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query("looking up a tag"))
    }

    pub(crate) async fn latest(
        &self,
        not_after_ns: i64,
    ) -> Result<Vec<(TagId, StoredPoint)>, StoreError> {
        const OP: &str = "reading latest points";
        let rows = sqlx::query(sql::sqlite::SELECT_LATEST)
            .bind(not_after_ns)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
        rows.iter()
            .map(|r| {
                let tag: String = r.try_get(0).map_err(StoreError::query(OP))?;
                let id = TagId::new(&tag).map_err(|e| StoreError::bad_tag(OP, &tag, e))?;
                Ok((id, stored_point(OP, &tag, r, 1)?))
            })
            .collect()
    }

    pub(crate) async fn raw(
        &self,
        tag: &TagId,
        id: i64,
        from_ns: i64,
        to_ns: i64,
        limit: i64,
    ) -> Result<Vec<StoredPoint>, StoreError> {
        const OP: &str = "reading raw history";
        let rows = sqlx::query(sql::sqlite::SELECT_RAW)
            .bind(id)
            .bind(from_ns)
            .bind(to_ns)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
        rows.iter()
            .map(|r| stored_point(OP, tag.as_str(), r, 0))
            .collect()
    }

    pub(crate) async fn buckets(
        &self,
        id: i64,
        from_ns: i64,
        to_ns: i64,
        width_ns: i64,
    ) -> Result<Vec<BucketRow>, StoreError> {
        const OP: &str = "aggregating history";
        let rows = sqlx::query(sql::sqlite::SELECT_BUCKETS)
            .bind(from_ns)
            .bind(width_ns)
            .bind(id)
            .bind(from_ns)
            .bind(to_ns)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
        rows.iter()
            .map(|r| {
                let get = |i| r.try_get::<f64, _>(i).map_err(StoreError::query(OP));
                Ok(BucketRow {
                    index: r.try_get(0).map_err(StoreError::query(OP))?,
                    count: r.try_get(1).map_err(StoreError::query(OP))?,
                    min: get(2)?,
                    max: get(3)?,
                    avg: get(4)?,
                    last: get(5)?,
                })
            })
            .collect()
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }
}

/// Reads `ts_ns, value_num, value_text, value_kind, quality, reason, recv_ns` from column `at`.
fn stored_point(
    op: &'static str,
    tag: &str,
    r: &SqliteRow,
    at: usize,
) -> Result<StoredPoint, StoreError> {
    let kind: Option<i64> = r.try_get(at + 3).map_err(StoreError::query(op))?;
    let num: Option<f64> = r.try_get(at + 1).map_err(StoreError::query(op))?;
    let text: Option<String> = r.try_get(at + 2).map_err(StoreError::query(op))?;
    let quality: i64 = r.try_get(at + 4).map_err(StoreError::query(op))?;
    let reason: Option<String> = r.try_get(at + 5).map_err(StoreError::query(op))?;
    let corrupt = |reason| StoreError::Corrupt {
        op,
        tag: tag.to_owned(),
        reason,
    };
    Ok(StoredPoint {
        ts_ns: r.try_get(at).map_err(StoreError::query(op))?,
        value: from_columns(kind, num, text).map_err(corrupt)?,
        quality: quality_from(quality, reason).map_err(corrupt)?,
        recv_ns: r.try_get(at + 6).map_err(StoreError::query(op))?,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use protocols::model::{Point, Value};

    use super::*;
    use crate::store::{PointRecord, WriteSet};

    fn one_point() -> WritePlan {
        let tag = TagId::new("a/b/c/d/t").unwrap();
        WritePlan::new(&WriteSet {
            points: vec![PointRecord {
                point: Point::good(tag, 1, Value::Int(1)),
                recv_ns: 2,
            }],
            catalogs: vec![],
        })
    }

    #[tokio::test]
    async fn commits_are_durable_and_reads_cannot_starve_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).await.unwrap();
        for pool in [&store.writer, &store.pool] {
            let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(sync, 2, "synchronous = FULL");
            let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(journal, "wal");
        }
        // Every read connection busy (slow API queries): the write still goes through.
        let mut held = Vec::new();
        for _ in 0..POOL_SIZE {
            held.push(store.pool.acquire().await.unwrap());
        }
        let out = tokio::time::timeout(Duration::from_secs(5), store.write(&one_point()))
            .await
            .expect("the writer has its own connection")
            .unwrap();
        assert_eq!(out.inserted, 1);
        drop(held);
        store.close().await;
    }
}
