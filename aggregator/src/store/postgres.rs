//! PostgreSQL backend. Points and auto-created tags are inserted with `UNNEST` over array
//! binds (eight binds however many rows); catalogue upserts use multi-row `VALUES`.
//! Bucketed history takes each bucket's last value by joining its newest timestamp back to
//! the row; the latest point per tag comes from `DISTINCT ON (tag_id)`.
//!
//! Every connection has `statement_timeout` set, so a statement stuck behind a lock fails
//! (SQLSTATE 57014, transient: the writer retries) instead of hanging. The writer has its
//! own small pool ([`WRITE_POOL_SIZE`]), apart from the read pool the API uses.

use std::time::Duration;

use protocols::model::{AssetPath, TagId};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, QueryBuilder, Row};

use super::history::BucketRow;
use super::plan::WritePlan;
use super::row::{from_columns, quality_from};
use super::sql;
use super::tag_ids::TagIds;
use super::{StoreError, StoreOptions, StoredPoint, TagRecord, WriteOutcome};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// PostgreSQL allows 65535 binds per statement; `VALUES` chunks stay below.
const MAX_BINDS: usize = 60_000;
/// Rows per `UNNEST` statement (bounds statement memory, not binds).
const UNNEST_ROWS: usize = 10_000;
/// Read connections (API, health).
const POOL_SIZE: u32 = 8;
/// Write connections (the writer uses one at a time; the second covers a reconnect).
const WRITE_POOL_SIZE: u32 = 2;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// A PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    writer: PgPool,
    ids: TagIds,
}

impl PgStore {
    /// `shown` is the URL with its password redacted, for errors.
    pub(crate) async fn connect(
        url: &str,
        shown: &str,
        store: StoreOptions,
    ) -> Result<Self, StoreError> {
        let connect_error = |source| StoreError::Connect {
            target: shown.to_owned(),
            source,
        };
        let timeout_ms = store.statement_timeout.as_millis().max(1);
        let options = url
            .parse::<PgConnectOptions>()
            .map_err(connect_error)?
            .options([("statement_timeout", format!("{timeout_ms}ms"))]);
        let writer = PgPoolOptions::new()
            .max_connections(WRITE_POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(connect_error)?;
        MIGRATOR
            .run(&writer)
            .await
            .map_err(|source| StoreError::Migrate {
                backend: "postgres",
                source,
            })?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
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
            .map_err(StoreError::query("pinging PostgreSQL"))?;
        Ok(())
    }

    pub(crate) async fn write(&self, plan: &WritePlan) -> Result<WriteOutcome, StoreError> {
        const OP: &str = "writing a batch to PostgreSQL";
        let mut tx = self.writer.begin().await.map_err(StoreError::query(OP))?;
        for chunk in plan.catalog.chunks(MAX_BINDS / sql::CATALOG_COLUMNS) {
            let mut qb = QueryBuilder::<Postgres>::new(sql::INSERT_CATALOG_HEAD);
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
        for chunk in missing.chunks(UNNEST_ROWS) {
            let tags: Vec<String> = chunk.iter().map(|n| n.tag.to_string()).collect();
            sqlx::query(sql::postgres::INSERT_TAGS_UNNEST)
                .bind(&tags)
                .bind(
                    chunk
                        .iter()
                        .map(|n| n.tag.asset().to_string())
                        .collect::<Vec<_>>(),
                )
                .bind(
                    chunk
                        .iter()
                        .map(|n| n.tag.name().to_owned())
                        .collect::<Vec<_>>(),
                )
                .bind(chunk.iter().map(|n| n.first_recv_ns).collect::<Vec<_>>())
                .bind(chunk.iter().map(|n| n.first_recv_ns).collect::<Vec<_>>())
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(OP))?;
            let rows = sqlx::query(sql::postgres::SELECT_TAG_IDS)
                .bind(&tags)
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::query(OP))?;
            for row in rows {
                let id: i64 = row.try_get(0).map_err(StoreError::query(OP))?;
                let tag: String = row.try_get(1).map_err(StoreError::query(OP))?;
                let tag = TagId::new(&tag).map_err(|e| StoreError::bad_tag(OP, &tag, e))?;
                ids.insert(tag.clone(), id);
                found.push((tag, id));
            }
        }
        let tag_ids = super::plan::resolve(plan, &ids, OP)?;

        let mut inserted = 0;
        for (points, tag_ids) in plan
            .points
            .chunks(UNNEST_ROWS)
            .zip(tag_ids.chunks(UNNEST_ROWS))
        {
            let done = sqlx::query(sql::postgres::INSERT_POINTS_UNNEST)
                .bind(tag_ids.to_vec())
                .bind(points.iter().map(|p| p.ts_ns).collect::<Vec<_>>())
                .bind(points.iter().map(|p| p.value.num).collect::<Vec<_>>())
                .bind(
                    points
                        .iter()
                        .map(|p| p.value.text.clone())
                        .collect::<Vec<_>>(),
                )
                .bind(points.iter().map(|p| p.value.kind).collect::<Vec<_>>())
                .bind(points.iter().map(|p| p.quality).collect::<Vec<_>>())
                .bind(points.iter().map(|p| p.reason.clone()).collect::<Vec<_>>())
                .bind(points.iter().map(|p| p.recv_ns).collect::<Vec<_>>())
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
                sqlx::query(sql::postgres::SELECT_TAGS_OF_ASSET)
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
                let poll: Option<i32> = r.try_get(4).map_err(StoreError::query(OP))?;
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
        sqlx::query_scalar(sql::postgres::SELECT_TAG_ID)
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
        let rows = sqlx::query(sql::postgres::SELECT_LATEST)
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
        let rows = sqlx::query(sql::postgres::SELECT_RAW)
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
        let rows = sqlx::query(sql::postgres::SELECT_BUCKETS)
            .bind(id)
            .bind(from_ns)
            .bind(width_ns)
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
    r: &PgRow,
    at: usize,
) -> Result<StoredPoint, StoreError> {
    let num: Option<f64> = r.try_get(at + 1).map_err(StoreError::query(op))?;
    let text: Option<String> = r.try_get(at + 2).map_err(StoreError::query(op))?;
    let kind: Option<i16> = r.try_get(at + 3).map_err(StoreError::query(op))?;
    let quality: i16 = r.try_get(at + 4).map_err(StoreError::query(op))?;
    let reason: Option<String> = r.try_get(at + 5).map_err(StoreError::query(op))?;
    let corrupt = |reason| StoreError::Corrupt {
        op,
        tag: tag.to_owned(),
        reason,
    };
    Ok(StoredPoint {
        ts_ns: r.try_get(at).map_err(StoreError::query(op))?,
        value: from_columns(kind.map(i64::from), num, text).map_err(corrupt)?,
        quality: quality_from(i64::from(quality), reason).map_err(corrupt)?,
        recv_ns: r.try_get(at + 6).map_err(StoreError::query(op))?,
    })
}
