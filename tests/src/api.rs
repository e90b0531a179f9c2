//! A small client for the aggregator's HTTP API, with deadline-based polling.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

/// Client bound to one aggregator's API address.
#[derive(Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    /// `addr` is `ip:port` from the aggregator's ready line.
    pub fn new(addr: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("reqwest client");
        Self {
            base: format!("http://{addr}"),
            http,
        }
    }

    /// GET `path` (with query), returning status and body text.
    pub async fn get_raw(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = resp.status().as_u16();
        Ok((status, resp.text().await?))
    }

    /// GET `path`, requiring 200 and a JSON body.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let (status, body) = self.get_raw(path).await?;
        if status != 200 {
            bail!("GET {path} -> {status}: {body}");
        }
        serde_json::from_str(&body).with_context(|| format!("GET {path}: body is not JSON: {body}"))
    }

    /// Polls `check` every 100 ms until it returns `Some` or `deadline` passes.
    pub async fn wait_for<T, F, Fut>(
        &self,
        what: &str,
        deadline: Duration,
        mut check: F,
    ) -> anyhow::Result<T>
    where
        F: FnMut(Api) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
    {
        let start = Instant::now();
        let mut last = String::from("never checked");
        while start.elapsed() < deadline {
            match check(self.clone()).await {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => last = "condition not met yet".into(),
                Err(e) => last = format!("{e:#}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("timed out after {deadline:?} waiting for {what}; last: {last}")
    }
}

/// Percent-encodes a query value (tag ids contain `/` and `:`).
pub fn q(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
