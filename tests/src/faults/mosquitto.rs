//! A private `mosquitto` process on a free port that a fault test owns: it can be stopped
//! and started again on the same port and directory (the shared broker on 1883 is never
//! touched).
//!
//! Persistence is on (`persistence_location` in the temp dir): a clean stop (SIGTERM) saves
//! the persistent sessions and their queued QoS 1 messages, and the restart loads them, as
//! a production broker does. The queue limit is raised so a subscriber that is down for a
//! while (the aggregator in a fault test) keeps everything queued for it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long mosquitto may take to listen or to stop.
const STEP: Duration = Duration::from_secs(10);

/// A `mosquitto` on a free port, killed on drop.
pub struct Mosquitto {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    conf: PathBuf,
    _dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Mosquitto {
    /// Starts mosquitto and waits (with a deadline) until it listens. The port is picked
    /// by binding port 0 and releasing it, as mosquitto cannot report a port it chose.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        // mosquitto started as root drops to its own user, which must use its directory.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let conf = dir.path().join("mosquitto.conf");
        let store = dir.path().to_string_lossy().into_owned();
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\n\
                 persistence true\npersistence_location {store}/\n\
                 max_queued_messages 1000000\nmax_queued_bytes 0\nlog_dest stderr\n\
                 log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
            ),
        )?;
        let mut broker = Self {
            addr: format!("127.0.0.1:{port}"),
            conf,
            _dir: dir,
            child: None,
        };
        broker.launch().await?;
        Ok(broker)
    }

    async fn launch(&mut self) -> anyhow::Result<()> {
        let mut child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("spawn mosquitto")?;
        let mut lines = BufReader::new(child.stderr.take().context("stderr")?).lines();
        let listening = async {
            let mut seen = Vec::new();
            while let Some(line) = lines.next_line().await? {
                if line.contains("Opening ipv4 listen socket") {
                    return anyhow::Ok(());
                }
                seen.push(line);
            }
            bail!("mosquitto exited before listening:\n{}", seen.join("\n"))
        };
        tokio::time::timeout(STEP, listening)
            .await
            .context("mosquitto not listening within 10 s")??;
        // Keep draining its log so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
        Ok(())
    }

    /// Stops the broker cleanly (SIGTERM: it saves its sessions) and waits for it to exit.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if let Some(pid) = child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        if tokio::time::timeout(STEP, child.wait()).await.is_err() {
            child.kill().await?;
            bail!("mosquitto did not exit within 10 s of SIGTERM");
        }
        Ok(())
    }

    /// Starts the broker again on the same port and directory.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        self.launch().await
    }
}
