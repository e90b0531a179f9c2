//! Time-series storage over sqlx: one [`Store`] enum dispatching to SQLite or PostgreSQL.
//!
//! Schema (migrations in `aggregator/migrations/{sqlite,postgres}/`, embedded with
//! `sqlx::migrate!`): `tags` (one row per tag id, metadata from agent catalogues, auto-created
//! with empty metadata for points of uncatalogued tags) and `points` keyed by
//! `(tag_id, ts_ns)`. Writes insert with `ON CONFLICT DO NOTHING`, so a re-delivered batch
//! stores nothing twice and the duplicates are counted. Bucketed history is computed in SQL.
//! Column mapping of values: see `row.rs`.
//!
//! Each backend keeps two connection pools: a small one only the ingest writer uses (one
//! connection for SQLite, which has a single writer anyway) and one for reads (API,
//! health), so slow or many API queries can never starve ingest of a connection.
//! [`StoreOptions::statement_timeout`] bounds every PostgreSQL statement server-side.

mod error;
mod history;
mod plan;
mod postgres;
mod row;
mod sql;
mod sqlite;
mod tag_ids;

use std::time::Duration;

use protocols::model::{AgentId, AssetPath, Point, Quality, TagId, TagMeta, TimestampNs, Value};

use crate::config::{StorageTarget, redact_url};

pub use error::{REASON_DATA_EXCEPTION, REASON_ENCODE, REASON_INTEGRITY, StoreError};
pub use history::{Bucket, History, MAX_TS_NS, bucket_width, valid_range};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// One received point and when it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct PointRecord {
    /// The sample.
    pub point: Point,
    /// Receive time at the aggregator.
    pub recv_ns: TimestampNs,
}

/// One agent's catalogue, to upsert into `tags`.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogRecord {
    /// Publishing agent.
    pub agent: AgentId,
    /// Its tags.
    pub tags: Vec<TagMeta>,
    /// Receive time (becomes `updated_ns`).
    pub recv_ns: TimestampNs,
}

/// Everything one write transaction stores.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteSet {
    /// Points to insert (duplicates of stored points are skipped).
    pub points: Vec<PointRecord>,
    /// Catalogues to upsert.
    pub catalogs: Vec<CatalogRecord>,
}

/// What a committed write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Points newly stored.
    pub inserted: u64,
    /// Points already stored (or repeated within the set), not stored again.
    pub duplicates: u64,
}

/// One `tags` row. Metadata is `None` for tags auto-created from points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRecord {
    /// The tag.
    pub id: TagId,
    /// Engineering unit.
    pub unit: Option<String>,
    /// Source data type.
    pub data_type: Option<String>,
    /// Source address.
    pub source: Option<String>,
    /// Sampling interval.
    pub poll_interval_ms: Option<u32>,
    /// Free text.
    pub description: Option<String>,
    /// Agent that published the catalogue.
    pub agent: Option<String>,
}

/// One stored sample.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPoint {
    /// Source timestamp.
    pub ts_ns: TimestampNs,
    /// Value, if any.
    pub value: Option<Value>,
    /// Quality and reason.
    pub quality: Quality,
    /// Receive timestamp.
    pub recv_ns: TimestampNs,
}

/// How to open a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// PostgreSQL `statement_timeout` of every connection (ignored for SQLite, whose
    /// `busy_timeout` bounds lock waits).
    pub statement_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            statement_timeout: Duration::from_secs(30),
        }
    }
}

/// The configured database.
#[derive(Debug, Clone)]
pub enum Store {
    /// SQLite file.
    Sqlite(SqliteStore),
    /// PostgreSQL.
    Postgres(PgStore),
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Store::Sqlite($s) => $e,
            Store::Postgres($s) => $e,
        }
    };
}

impl Store {
    /// [`Store::connect_with`] default options.
    pub async fn connect(target: &StorageTarget) -> Result<Store, StoreError> {
        Self::connect_with(target, StoreOptions::default()).await
    }

    /// Opens the database (creating a SQLite file and its directory if missing) and
    /// applies the migrations.
    pub async fn connect_with(
        target: &StorageTarget,
        options: StoreOptions,
    ) -> Result<Store, StoreError> {
        match target {
            StorageTarget::Sqlite { path } => Ok(Store::Sqlite(SqliteStore::open(path).await?)),
            StorageTarget::Postgres { url } => Ok(Store::Postgres(
                PgStore::connect(url, &redact_url(url), options).await?,
            )),
        }
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// A trivial round trip to the database.
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.ping().await)
    }

    /// Stores a write set in one transaction.
    pub async fn write(&self, set: &WriteSet) -> Result<WriteOutcome, StoreError> {
        let plan = plan::WritePlan::new(set);
        dispatch!(self, s => s.write(&plan).await)
    }

    /// Tags, optionally of one asset, sorted by id.
    pub async fn tags(&self, asset: Option<&AssetPath>) -> Result<Vec<TagRecord>, StoreError> {
        dispatch!(self, s => s.tags(asset).await)
    }

    /// Whether a tag exists.
    pub async fn tag_exists(&self, tag: &TagId) -> Result<bool, StoreError> {
        Ok(self.tag_row_id(tag).await?.is_some())
    }

    async fn tag_row_id(&self, tag: &TagId) -> Result<Option<i64>, StoreError> {
        dispatch!(self, s => s.tag_row_id(tag).await)
    }

    /// The newest stored point of every tag with `ts_ns <= not_after_ns` (to warm the
    /// latest-value cache without points stamped in the future), sorted by tag.
    pub async fn latest(
        &self,
        not_after_ns: TimestampNs,
    ) -> Result<Vec<(TagId, StoredPoint)>, StoreError> {
        dispatch!(self, s => s.latest(not_after_ns).await)
    }

    /// Points of `tag` with `from_ns <= ts_ns < to_ns`: raw if there are at most
    /// `max_points`, else aggregated into buckets of [`bucket_width`]. `None`: unknown tag.
    /// The range must satisfy [`valid_range`] ([`StoreError::Range`] otherwise).
    pub async fn history(
        &self,
        tag: &TagId,
        from_ns: TimestampNs,
        to_ns: TimestampNs,
        max_points: u32,
    ) -> Result<Option<History>, StoreError> {
        if !valid_range(from_ns, to_ns) {
            return Err(StoreError::Range { from_ns, to_ns });
        }
        let Some(id) = self.tag_row_id(tag).await? else {
            return Ok(None);
        };
        let limit = i64::from(max_points) + 1;
        let raw = dispatch!(self, s => s.raw(tag, id, from_ns, to_ns, limit).await)?;
        if raw.len() <= max_points as usize {
            return Ok(Some(History::Raw(raw)));
        }
        let width_ns = bucket_width(from_ns, to_ns, max_points);
        let rows = dispatch!(self, s => s.buckets(id, from_ns, to_ns, width_ns).await)?;
        Ok(Some(History::from_rows(from_ns, to_ns, width_ns, rows)))
    }

    /// Closes the connection pools, waiting for connections in use.
    pub async fn close(&self) {
        dispatch!(self, s => s.close().await)
    }
}
