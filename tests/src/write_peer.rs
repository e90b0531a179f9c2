//! The pymodbus peer of the write and tool tests (`tests/python/writes_server.py`): a
//! Modbus TCP server with a known register layout that prints every write request it
//! receives, so a test checks on the server side what reached the device.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::python;

/// A running `writes_server.py`, killed on drop.
pub struct WritesServer {
    _child: Child,
    /// `127.0.0.1:<port>`.
    pub addr: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl WritesServer {
    /// Starts the server and waits (bounded) for its ready line.
    pub async fn start() -> anyhow::Result<Self> {
        let exe = python::python(&["pymodbus"])?;
        let mut child = Command::new(exe)
            .arg(python::script("writes_server.py"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("spawn writes_server.py")?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut reader = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(20), reader.next_line())
            .await
            .context("writes_server.py not ready within 20 s")??
            .context("writes_server.py exited before its ready line")?;
        let Some(port) = ready.strip_prefix("writes_server ready port=") else {
            bail!("unexpected first line from writes_server.py: {ready}");
        };
        let addr = format!("127.0.0.1:{}", port.trim());
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        tokio::spawn(async move {
            while let Ok(Some(line)) = reader.next_line().await {
                if let Ok(mut l) = sink.lock() {
                    l.push(line);
                }
            }
        });
        Ok(Self {
            _child: child,
            addr,
            lines,
        })
    }

    /// The `WRITE fc=.. address=.. values=..` lines printed so far.
    pub fn writes(&self) -> Vec<String> {
        self.lines
            .lock()
            .map(|l| {
                l.iter()
                    .filter(|s| s.starts_with("WRITE "))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}
