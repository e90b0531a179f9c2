//! Test helpers: throwaway databases and timeouts.
//!
//! PostgreSQL: the admin URL comes from `SENTIA_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). Each test creates its own database
//! `sentia_t_<random>` and drops it afterwards (also on panic, from `Drop`). If the server
//! is unreachable the test prints "skipped: no PostgreSQL" and passes, unless `CI=true`,
//! where it fails.
#![allow(dead_code, clippy::unwrap_used, clippy::print_stdout, unreachable_pub)]

use std::future::Future;
use std::time::Duration;

use aggregator::config::StorageTarget;
use aggregator::store::Store;
use sqlx::Connection;

/// Default admin URL for PostgreSQL tests.
pub const DEFAULT_TEST_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Bound on any single test step.
pub const STEP: Duration = Duration::from_secs(30);

/// Awaits `fut`, failing the test if it takes longer than [`STEP`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(STEP, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {STEP:?}: {what}"),
    }
}

/// A SQLite store in a fresh temporary directory (kept alive by the returned guard).
pub async fn sqlite_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let target = StorageTarget::Sqlite {
        path: dir.path().join("db").join("sentia.db"),
    };
    let store = within("open sqlite", Store::connect(&target))
        .await
        .unwrap();
    (store, dir)
}

fn admin_url() -> String {
    std::env::var("SENTIA_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_TEST_PG_URL.to_owned())
}

fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (base, query) = match rest.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (rest, String::new()),
    };
    let authority = base.split('/').next().unwrap();
    format!("{scheme}://{authority}/{db}{query}")
}

/// A fresh PostgreSQL database, dropped when this value is dropped.
pub struct PgTestDb {
    /// URL of the fresh database.
    pub url: String,
    name: String,
    admin: String,
}

impl PgTestDb {
    /// Creates the database, or `None` (after printing why) when PostgreSQL is unreachable
    /// outside CI.
    pub async fn create() -> Option<PgTestDb> {
        let admin = admin_url();
        let conn =
            tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(&admin)).await;
        let mut conn = match conn {
            Ok(Ok(c)) => c,
            other => {
                let why = match other {
                    Ok(Err(e)) => e.to_string(),
                    _ => "connect timed out".to_owned(),
                };
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("PostgreSQL at {admin} is required under CI=true: {why}");
                }
                println!("skipped: no PostgreSQL ({why})");
                return None;
            }
        };
        let name = format!("sentia_t_{:016x}", rand::random::<u64>());
        let create = format!("CREATE DATABASE {name}");
        within(
            "create database",
            sqlx::query(sqlx::AssertSqlSafe(create)).execute(&mut conn),
        )
        .await
        .unwrap();
        let _ = conn.close().await;
        Some(PgTestDb {
            url: with_database(&admin, &name),
            name,
            admin,
        })
    }

    /// Connects a store (running migrations) to the fresh database.
    pub async fn store(&self) -> Store {
        let target = StorageTarget::Postgres {
            url: self.url.clone(),
        };
        within("open postgres", Store::connect(&target))
            .await
            .unwrap()
    }
}

impl Drop for PgTestDb {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let drop_sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // A runtime of its own: Drop may run inside (or outside) the test's runtime.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let fut = async {
                    let mut conn = sqlx::PgConnection::connect(&admin).await?;
                    sqlx::query(sqlx::AssertSqlSafe(drop_sql))
                        .execute(&mut conn)
                        .await?;
                    conn.close().await
                };
                tokio::time::timeout(Duration::from_secs(10), fut).await
            })
        })
        .join();
        if !matches!(done, Ok(Ok(Ok(())))) {
            eprintln!("warning: could not drop test database {}", self.name);
        }
    }
}

pub mod harness;
