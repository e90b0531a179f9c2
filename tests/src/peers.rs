//! External peers the tests may use: the machine's Mosquitto and PostgreSQL.
//!
//! Addresses come from environment variables that `.ci/run` sets:
//! `SENTIA_TEST_MQTT` (default `127.0.0.1:1883`) and `SENTIA_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). When a peer is unreachable, a test under
//! `CI=true` fails (an interop test that silently skips in CI is a defect); elsewhere it
//! prints that it skipped and returns.

use std::time::Duration;

use anyhow::Context;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

/// Whether we run under CI (`CI=true`), where a missing peer is an error.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Applies the CI rule to a peer probe: `Some(v)` when available; `None` (after printing
/// why) when unavailable outside CI; panics when unavailable under CI.
pub fn require<T>(test: &str, peer: &str, probe: anyhow::Result<T>) -> Option<T> {
    match probe {
        Ok(v) => Some(v),
        Err(e) if in_ci() => {
            panic!("{test}: required peer {peer} unavailable under CI=true: {e:#}")
        }
        Err(e) => {
            eprintln!(
                "{test}: skipped: {peer} unavailable ({e:#}); set CI=true to make this fatal"
            );
            None
        }
    }
}

/// Address of the shared Mosquitto, checked by a TCP connect.
pub async fn mosquitto() -> anyhow::Result<String> {
    let addr = std::env::var("SENTIA_TEST_MQTT").unwrap_or_else(|_| "127.0.0.1:1883".into());
    tokio::time::timeout(
        Duration::from_secs(3),
        tokio::net::TcpStream::connect(&addr),
    )
    .await
    .with_context(|| format!("connect to {addr} timed out"))?
    .with_context(|| format!("connect to Mosquitto at {addr}"))?;
    Ok(addr)
}

/// A fresh PostgreSQL database for one test, dropped by [`TempDatabase::drop_db`].
pub struct TempDatabase {
    admin_url: String,
    name: String,
    /// URL of the fresh database.
    pub url: String,
}

impl TempDatabase {
    /// Creates `sentia_e2e_<random>` on the server named by `SENTIA_TEST_PG_URL`.
    pub async fn create() -> anyhow::Result<Self> {
        let admin_url = std::env::var("SENTIA_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let mut conn =
            tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&admin_url))
                .await
                .context("PostgreSQL connect timed out")?
                .with_context(|| format!("connect to PostgreSQL at {admin_url}"))?;
        let name = format!("sentia_e2e_{:08x}", rand::random::<u32>());
        // The name is ours (hex digits), not user input.
        conn.execute(sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE DATABASE {name}"
        ))))
        .await
        .context("CREATE DATABASE")?;
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(b, _)| b);
        let url = format!("{base}/{name}");
        Ok(Self {
            admin_url,
            name,
            url,
        })
    }

    /// Drops the database (forcing out any remaining connections).
    pub async fn drop_db(self) -> anyhow::Result<()> {
        let mut conn = PgConnection::connect(&self.admin_url).await?;
        conn.execute(sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))))
        .await?;
        Ok(())
    }
}
