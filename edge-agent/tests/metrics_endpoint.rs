//! `[agent] metrics_listen` against the real binary: `GET /metrics` serves the agent's
//! counters in the Prometheus text format and they move as the agent polls; other paths
//! are 404; a malformed address is a configuration error naming the line.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{Plc, one_plc_config, shared_broker, start_plc, unique_agent_id};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_edge-agent");

/// One HTTP/1.1 GET; returns (status line, body).
async fn get(addr: &str, path: &str) -> Option<(String, String)> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).await.ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_owned(), body.to_owned()))
}

fn value(body: &str, name: &str) -> Option<u64> {
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_and_move() {
    let Some(broker) = shared_broker().await else {
        return;
    };
    let plc = start_plc(Plc::default()).await;
    // A port bound and released: free for the agent (a tiny race with other processes).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let text = one_plc_config(
        &unique_agent_id("metrics"),
        &format!("metrics_listen = \"{addr}\"\ndata_dir = {:?}", dir.path()),
        &broker,
        "",
        plc.port(),
        "100ms",
    );
    let config = dir.path().join("agent.toml");
    std::fs::write(&config, text).unwrap();
    let mut child = tokio::process::Command::new(BIN)
        .arg("run")
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let first = common::within(20, "metrics with polls", async {
        loop {
            if let Some((status, body)) = get(&addr, "/metrics").await
                && value(&body, "sentia_agent_polls_total").is_some_and(|v| v > 0)
            {
                return (status, body);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert_eq!(first.0, "HTTP/1.1 200 OK");
    assert!(
        first.1.contains("# TYPE sentia_agent_points_total counter"),
        "{}",
        first.1
    );
    assert!(
        first.1.contains("# TYPE sentia_agent_spool_bytes gauge"),
        "{}",
        first.1
    );
    let before = value(&first.1, "sentia_agent_points_total").unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, later) = get(&addr, "/metrics").await.unwrap();
    let after = value(&later, "sentia_agent_points_total").unwrap();
    assert!(after > before, "points_total {before} -> {after}");
    let (status, _) = get(&addr, "/").await.unwrap();
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    println!("points_total {before} -> {after} in 0.5 s");
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status();
    let status = common::within(20, "agent exit", child.wait())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_malformed_metrics_address_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    let text = one_plc_config(
        "edge-01",
        "metrics_listen = \"localhost:metrics\"",
        "127.0.0.1:1883",
        "",
        502,
        "1s",
    );
    std::fs::write(&config, text).unwrap();
    let out = std::process::Command::new(BIN)
        .arg("check-config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(":4:")
            && stderr.contains("agent.metrics_listen: \"localhost:metrics\" is not an address"),
        "{stderr}"
    );
}
