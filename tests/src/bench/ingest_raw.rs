//! The ingest scenario's reference: a raw bulk load of the same number of rows into the
//! same `points` table (the aggregator's own migrations), with nothing else in the way.
//!
//! - SQLite: WAL and `synchronous = FULL` like the aggregator, one transaction per 5,000
//!   rows, each written as prepared multi-row `INSERT ... ON CONFLICT DO NOTHING`
//!   statements of 1,000 rows (the same SQL text each time, so sqlx reuses the statement).
//! - PostgreSQL: `INSERT ... SELECT * FROM UNNEST($1..$8) ON CONFLICT DO NOTHING`, 5,000
//!   rows per statement and transaction, in a database created for this run.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, Executor, PgConnection, QueryBuilder, Sqlite, SqliteConnection};

const SQLITE_SCHEMA: &str =
    include_str!("../../../aggregator/migrations/sqlite/20250101000000_init.sql");
const POSTGRES_SCHEMA: &str =
    include_str!("../../../aggregator/migrations/postgres/20250101000000_init.sql");

/// Rows per transaction.
const TX_ROWS: usize = 5000;
/// Rows per SQLite statement (8 binds each, under SQLite's 32,766 limit).
const SQLITE_STMT_ROWS: usize = 1000;
/// Distinct tags the rows spread over.
const TAGS: usize = 1000;
/// `value_kind` of a float (aggregator/src/store/row.rs).
const KIND_FLOAT: i16 = 3;

/// One generated row: (tag_id, ts_ns, value).
fn row(i: usize, base_ns: i64) -> (i64, i64, f64) {
    let tag = (i % TAGS) as i64 + 1;
    let ts = base_ns + (i / TAGS) as i64 * 1_000_000;
    (tag, ts, i as f64 * 0.5)
}

fn tag_sql(n: usize) -> String {
    let values: Vec<String> = (0..n)
        .map(|i| format!("('raw/h/l/a/t{i:04}', 'raw/h/l/a', 't{i:04}', 0, 0)"))
        .collect();
    format!(
        "INSERT INTO tags (tag, asset, name, created_ns, updated_ns) VALUES {}",
        values.join(", ")
    )
}

/// Loads `rows` rows into a fresh SQLite file in `dir`; returns rows/s.
pub(crate) async fn sqlite(dir: &Path, rows: usize) -> anyhow::Result<f64> {
    let path = dir.join(format!("raw-{:08x}.db", rand::random::<u32>()));
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .context("open raw SQLite")?;
    conn.execute(sqlx::raw_sql(SQLITE_SCHEMA)).await?;
    conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(tag_sql(TAGS))))
        .await?;
    let base = protocols::model::now_ns() - 3_600_000_000_000;
    let recv = protocols::model::now_ns();
    let start = Instant::now();
    let mut done = 0;
    while done < rows {
        let tx_end = (done + TX_ROWS).min(rows);
        let mut tx = conn.begin().await?;
        while done < tx_end {
            let end = (done + SQLITE_STMT_ROWS).min(tx_end);
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO points (tag_id, ts_ns, value_num, value_text, value_kind, quality, reason, recv_ns) ",
            );
            qb.push_values(done..end, |mut b, i| {
                let (tag, ts, v) = row(i, base);
                b.push_bind(tag)
                    .push_bind(ts)
                    .push_bind(v)
                    .push_bind(None::<String>)
                    .push_bind(KIND_FLOAT)
                    .push_bind(0_i16)
                    .push_bind(None::<String>)
                    .push_bind(recv);
            });
            qb.push(" ON CONFLICT (tag_id, ts_ns) DO NOTHING");
            qb.build().persistent(true).execute(&mut *tx).await?;
            done = end;
        }
        tx.commit().await?;
    }
    let rate = rows as f64 / start.elapsed().as_secs_f64();
    conn.close().await?;
    let _ = std::fs::remove_file(&path);
    Ok(rate)
}

/// Loads `rows` rows into the (fresh) PostgreSQL database at `url`; returns rows/s.
pub(crate) async fn postgres(url: &str, rows: usize) -> anyhow::Result<f64> {
    let mut conn = PgConnection::connect(url)
        .await
        .context("connect raw PostgreSQL")?;
    conn.execute(sqlx::raw_sql(POSTGRES_SCHEMA)).await?;
    conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(tag_sql(TAGS))))
        .await?;
    let first_id: i64 = sqlx::query_scalar("SELECT MIN(id) FROM tags")
        .fetch_one(&mut conn)
        .await?;
    let base = protocols::model::now_ns() - 3_600_000_000_000;
    let recv = protocols::model::now_ns();
    let start = Instant::now();
    let mut done = 0;
    while done < rows {
        let end = (done + TX_ROWS).min(rows);
        let n = end - done;
        let (mut tags, mut ts, mut vals) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for i in done..end {
            let (t, s, v) = row(i, base);
            tags.push(t - 1 + first_id);
            ts.push(s);
            vals.push(Some(v));
        }
        sqlx::query(
            "INSERT INTO points (tag_id, ts_ns, value_num, value_text, value_kind, quality, reason, recv_ns) \
             SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::float8[], $4::text[], $5::int2[], \
             $6::int2[], $7::text[], $8::int8[]) ON CONFLICT (tag_id, ts_ns) DO NOTHING",
        )
        .bind(tags)
        .bind(ts)
        .bind(vals)
        .bind(vec![None::<String>; n])
        .bind(vec![Some(KIND_FLOAT); n])
        .bind(vec![0_i16; n])
        .bind(vec![None::<String>; n])
        .bind(vec![recv; n])
        .execute(&mut conn)
        .await?;
        done = end;
    }
    let rate = rows as f64 / start.elapsed().as_secs_f64();
    conn.close().await?;
    Ok(rate)
}
