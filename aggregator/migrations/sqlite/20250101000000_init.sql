-- Sentia aggregator schema, SQLite flavour. Keep in step with ../postgres/.
-- Column meanings: aggregator/src/store/row.rs.

CREATE TABLE tags (
    id               INTEGER PRIMARY KEY,
    tag              TEXT    NOT NULL UNIQUE,
    asset            TEXT    NOT NULL,
    name             TEXT,
    unit             TEXT,
    data_type        TEXT,
    source           TEXT,
    poll_interval_ms INTEGER,
    description      TEXT,
    agent            TEXT,
    created_ns       INTEGER NOT NULL,
    updated_ns       INTEGER NOT NULL
);

CREATE INDEX tags_by_asset ON tags (asset);

CREATE TABLE points (
    tag_id     INTEGER NOT NULL REFERENCES tags (id),
    ts_ns      INTEGER NOT NULL,
    value_num  REAL,
    value_text TEXT,
    value_kind INTEGER,
    quality    INTEGER NOT NULL,
    reason     TEXT,
    recv_ns    INTEGER NOT NULL,
    PRIMARY KEY (tag_id, ts_ns)
) WITHOUT ROWID;
