-- Sentia aggregator schema, PostgreSQL flavour. Keep in step with ../sqlite/.
-- Column meanings: aggregator/src/store/row.rs.

CREATE TABLE tags (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tag              TEXT   NOT NULL UNIQUE,
    asset            TEXT   NOT NULL,
    name             TEXT,
    unit             TEXT,
    data_type        TEXT,
    source           TEXT,
    poll_interval_ms INTEGER,
    description      TEXT,
    agent            TEXT,
    created_ns       BIGINT NOT NULL,
    updated_ns       BIGINT NOT NULL
);

CREATE INDEX tags_by_asset ON tags (asset);

CREATE TABLE points (
    tag_id     BIGINT   NOT NULL REFERENCES tags (id),
    ts_ns      BIGINT   NOT NULL,
    value_num  DOUBLE PRECISION,
    value_text TEXT,
    value_kind SMALLINT,
    quality    SMALLINT NOT NULL,
    reason     TEXT,
    recv_ns    BIGINT   NOT NULL,
    PRIMARY KEY (tag_id, ts_ns)
);
