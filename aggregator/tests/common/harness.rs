//! An in-process aggregator plus an MQTT publisher and an HTTP client to drive it.
#![allow(dead_code, clippy::unwrap_used, unreachable_pub)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use aggregator::app::App;
use aggregator::config::{self, Overrides, Settings};
use protocols::codec::{Encoding, Message, encode};
use protocols::topic::Topic;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde_json::Value;
use tokio::task::JoinHandle;

use super::within;

/// Settings for a test aggregator: embedded broker and API on port 0, SQLite (unless
/// `storage` is given) under `data_dir`.
pub fn test_settings(data_dir: &Path, storage: Option<String>) -> Settings {
    let overrides = Overrides {
        data_dir: Some(data_dir.to_path_buf()),
        api_listen: Some("127.0.0.1:0".into()),
        broker_listen: Some("127.0.0.1:0".into()),
        storage,
        ..Overrides::default()
    };
    config::load(None, &overrides).unwrap()
}

/// Starts an aggregator.
pub async fn start(settings: Settings) -> App {
    within("aggregator start", App::start(settings))
        .await
        .unwrap()
}

/// The HTTP API of one aggregator.
pub struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
        }
    }

    /// GET `path`; returns the status and the JSON body (or the text as a JSON string).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        within(&format!("GET {path}"), async {
            let resp = self.http.get(&url).send().await.unwrap();
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap();
            let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
            (status, body)
        })
        .await
    }

    /// POST `body` as JSON to `path`; returns the status and the JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        within(&format!("POST {path}"), async {
            let resp = self.http.post(&url).json(body).send().await.unwrap();
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap();
            let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
            (status, body)
        })
        .await
    }

    /// GET /metrics as text.
    pub async fn metrics(&self) -> String {
        match self.get("/metrics").await {
            (200, Value::String(text)) => text,
            other => panic!("/metrics: {other:?}"),
        }
    }

    /// One sample from /metrics, e.g. `sentia_points_stored_total` or
    /// `sentia_decode_errors_total{reason="empty"}`; 0 if absent.
    pub async fn metric(&self, sample: &str) -> f64 {
        metric_in(&self.metrics().await, sample)
    }
}

pub fn metric_in(text: &str, sample: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

/// Polls `check` until it returns true, failing the test after `timeout`.
pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A plain MQTT client standing in for an edge agent.
pub struct Publisher {
    client: AsyncClient,
    task: JoinHandle<()>,
}

impl Publisher {
    pub fn connect(host: &str, port: u16, client_id: &str) -> Self {
        let mut options = MqttOptions::new(client_id, host, port);
        options.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let task = tokio::spawn(async move {
            loop {
                if eventloop.poll().await.is_err() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        });
        Self { client, task }
    }

    pub async fn raw(&self, topic: &str, payload: Vec<u8>) {
        within(
            "publish",
            self.client.publish(topic, QoS::AtLeastOnce, false, payload),
        )
        .await
        .unwrap();
    }

    pub async fn send(&self, topic: &Topic, msg: &Message, encoding: Encoding) {
        self.raw(&topic.to_string(), encode(msg, encoding).unwrap())
            .await;
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.task.abort();
    }
}
