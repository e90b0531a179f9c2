//! Every SQL statement: the ones both backends share at the top, then one submodule per
//! backend (their placeholders differ: `?` for SQLite, `$n` for PostgreSQL).

/// Column list of a catalogue upsert (11 binds per row).
pub(crate) const INSERT_CATALOG_HEAD: &str = "INSERT INTO tags (tag, asset, name, unit, data_type, source, \
     poll_interval_ms, description, agent, created_ns, updated_ns) ";
/// Metadata from a catalogue replaces what was there; `created_ns` is kept.
pub(crate) const INSERT_CATALOG_TAIL: &str = " ON CONFLICT (tag) DO UPDATE SET \
     unit = excluded.unit, data_type = excluded.data_type, source = excluded.source, \
     poll_interval_ms = excluded.poll_interval_ms, description = excluded.description, \
     agent = excluded.agent, updated_ns = excluded.updated_ns";
/// Binds per catalogue row.
pub(crate) const CATALOG_COLUMNS: usize = 11;

/// Auto-created tag rows (5 binds per row); existing rows are left alone.
pub(crate) const INSERT_TAG_HEAD: &str =
    "INSERT INTO tags (tag, asset, name, created_ns, updated_ns) ";
/// Tail of [`INSERT_TAG_HEAD`] and of point inserts' tag rows.
pub(crate) const ON_CONFLICT_TAG_NOTHING: &str = " ON CONFLICT (tag) DO NOTHING";
/// Binds per auto-created tag row.
pub(crate) const TAG_COLUMNS: usize = 5;

/// Column list of a point insert (8 binds per row).
pub(crate) const INSERT_POINTS_HEAD: &str = "INSERT INTO points (tag_id, ts_ns, value_num, value_text, \
     value_kind, quality, reason, recv_ns) ";
/// Re-delivered points are skipped, which makes writes idempotent.
pub(crate) const ON_CONFLICT_POINT_NOTHING: &str = " ON CONFLICT (tag_id, ts_ns) DO NOTHING";
/// Binds per point row.
pub(crate) const POINT_COLUMNS: usize = 8;

/// Columns selected for tag listings.
pub(crate) const SELECT_TAGS_ALL: &str = "SELECT tag, unit, data_type, source, poll_interval_ms, \
     description, agent FROM tags ORDER BY tag";

/// SQLite statements (`?` placeholders).
pub(crate) mod sqlite {
    pub(crate) const SELECT_TAGS_OF_ASSET: &str = "SELECT tag, unit, data_type, source, poll_interval_ms, \
         description, agent FROM tags WHERE asset = ? ORDER BY tag";

    pub(crate) const SELECT_TAG_ID: &str = "SELECT id FROM tags WHERE tag = ?";

    /// Newest point of every tag not after `?` (primary-key lookups on `(tag_id, ts_ns)`).
    pub(crate) const SELECT_LATEST: &str = "SELECT t.tag, p.ts_ns, p.value_num, p.value_text, \
         p.value_kind, p.quality, p.reason, p.recv_ns FROM tags t JOIN points p ON p.tag_id = t.id \
         WHERE p.ts_ns = (SELECT MAX(ts_ns) FROM points WHERE tag_id = t.id AND ts_ns <= ?) \
         ORDER BY t.tag";

    pub(crate) const SELECT_RAW: &str = "SELECT ts_ns, value_num, value_text, value_kind, quality, reason, recv_ns \
         FROM points WHERE tag_id = ? AND ts_ns >= ? AND ts_ns < ? ORDER BY ts_ns LIMIT ?";

    /// Binds: from, width, tag_id, from, to.
    pub(crate) const SELECT_BUCKETS: &str = "WITH g AS (SELECT (ts_ns - ?) / ? AS b, ts_ns, value_num AS v FROM points \
           WHERE tag_id = ? AND ts_ns >= ? AND ts_ns < ? AND quality = 0 AND value_num IS NOT NULL), \
         a AS (SELECT b, COUNT(*) AS n, MIN(v) AS mn, MAX(v) AS mx, AVG(v) AS av FROM g GROUP BY b), \
         l AS (SELECT b, v AS last, MAX(ts_ns) AS newest FROM g GROUP BY b) \
         SELECT a.b, a.n, a.mn, a.mx, a.av, l.last FROM a JOIN l ON l.b = a.b ORDER BY a.b";
}

/// PostgreSQL statements (`$n` placeholders).
pub(crate) mod postgres {
    pub(crate) const INSERT_TAGS_UNNEST: &str = "INSERT INTO tags (tag, asset, name, created_ns, updated_ns) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[]) \
         ON CONFLICT (tag) DO NOTHING";

    pub(crate) const SELECT_TAG_IDS: &str = "SELECT id, tag FROM tags WHERE tag = ANY($1)";

    pub(crate) const INSERT_POINTS_UNNEST: &str = "INSERT INTO points (tag_id, ts_ns, value_num, value_text, \
         value_kind, quality, reason, recv_ns) SELECT * FROM UNNEST($1::int8[], $2::int8[], \
         $3::float8[], $4::text[], $5::int2[], $6::int2[], $7::text[], $8::int8[]) \
         ON CONFLICT (tag_id, ts_ns) DO NOTHING";

    pub(crate) const SELECT_TAGS_OF_ASSET: &str = "SELECT tag, unit, data_type, source, poll_interval_ms, \
         description, agent FROM tags WHERE asset = $1 ORDER BY tag";

    pub(crate) const SELECT_TAG_ID: &str = "SELECT id FROM tags WHERE tag = $1";

    /// Newest point of every tag not after `$1`: one backward index scan per tag.
    pub(crate) const SELECT_LATEST: &str = "SELECT l.* FROM (SELECT DISTINCT ON (p.tag_id) t.tag, \
         p.ts_ns, p.value_num, p.value_text, p.value_kind, p.quality, p.reason, p.recv_ns \
         FROM points p JOIN tags t ON t.id = p.tag_id WHERE p.ts_ns <= $1 \
         ORDER BY p.tag_id, p.ts_ns DESC) l ORDER BY l.tag";

    pub(crate) const SELECT_RAW: &str = "SELECT ts_ns, value_num, value_text, value_kind, quality, reason, recv_ns \
         FROM points WHERE tag_id = $1 AND ts_ns >= $2 AND ts_ns < $3 ORDER BY ts_ns LIMIT $4";

    /// Binds: tag_id, from, width, to. Each bucket's newest timestamp is joined back to its
    /// row for `last` (timestamps are unique per tag), instead of aggregating an array.
    pub(crate) const SELECT_BUCKETS: &str = "WITH g AS (SELECT (ts_ns - $2) / $3 AS b, ts_ns, \
           value_num AS v FROM points WHERE tag_id = $1 AND ts_ns >= $2 AND ts_ns < $4 \
           AND quality = 0 AND value_num IS NOT NULL), \
         a AS (SELECT b, COUNT(*) AS n, MIN(v) AS mn, MAX(v) AS mx, AVG(v) AS av, \
           MAX(ts_ns) AS newest FROM g GROUP BY b) \
         SELECT a.b, a.n, a.mn, a.mx, a.av, g.v FROM a JOIN g ON g.b = a.b AND g.ts_ns = a.newest \
         ORDER BY a.b";
}
