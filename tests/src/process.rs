//! Child processes under test: spawn, wait for readiness, read logs, kill on drop.
//!
//! Every Sentia binary prints one line `<name> ready key=value ...` on stdout once its
//! sockets are bound. [`Proc::spawn`] waits for that line (with a deadline, never a sleep)
//! and returns its key/value pairs. Stderr (the logs) goes to a file in the test's temp
//! dir so a failing test can show it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running child process, killed when dropped.
pub struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
    /// Key/value pairs from the ready line (empty when not waited for).
    pub ready: HashMap<String, String>,
}

impl Proc {
    /// Spawns `bin args`, logging stderr to `log_dir/<name>.log`, and waits up to `deadline`
    /// for a stdout line starting with `<ready_prefix> ready`.
    pub async fn spawn(
        bin: &Path,
        args: &[&str],
        log_dir: &Path,
        ready_prefix: &str,
        deadline: Duration,
    ) -> anyhow::Result<Self> {
        let (name, mut child, log) = launch(bin, args, log_dir, Stdio::piped())?;
        let stdout = child.stdout.take().context("child stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let marker = format!("{ready_prefix} ready");
        let wait = async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.strip_prefix(&marker) {
                    return anyhow::Ok(parse_kv(rest));
                }
            }
            bail!("{name} closed stdout before printing '{marker}'")
        };
        let ready = match tokio::time::timeout(deadline, wait).await {
            Ok(Ok(ready)) => ready,
            Ok(Err(e)) => bail!("{e}\n--- {name} log ---\n{}", read_log(&log)),
            Err(_) => bail!(
                "{name} not ready within {deadline:?}\n--- log ---\n{}",
                read_log(&log)
            ),
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            name,
            child,
            log,
            ready,
        })
    }

    /// Spawns without waiting for a ready line (for binaries that print none).
    pub fn spawn_background(bin: &Path, args: &[&str], log_dir: &Path) -> anyhow::Result<Self> {
        let (name, child, log) = launch(bin, args, log_dir, Stdio::null())?;
        Ok(Self {
            name,
            child,
            log,
            ready: HashMap::new(),
        })
    }

    /// A value from the ready line.
    pub fn ready_value(&self, key: &str) -> anyhow::Result<&str> {
        self.ready
            .get(key)
            .map(String::as_str)
            .with_context(|| format!("{} ready line has no '{key}': {:?}", self.name, self.ready))
    }

    /// The process's log so far.
    pub fn log(&self) -> String {
        read_log(&self.log)
    }

    /// Kills the process with SIGKILL (no chance to clean up) and waits for it to exit.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        tokio::time::timeout(Duration::from_secs(10), self.child.kill())
            .await
            .with_context(|| format!("{} did not die within 10 s of SIGKILL", self.name))??;
        Ok(())
    }

    /// Like [`Proc::terminate`], but keeps the (exited) `Proc` so its log stays readable.
    pub async fn stop(&mut self, grace: Duration) -> anyhow::Result<Option<i32>> {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => Ok(status?.code()),
            Err(_) => {
                self.child.kill().await?;
                bail!(
                    "{} did not exit within {grace:?} of SIGTERM\n{}",
                    self.name,
                    self.log()
                )
            }
        }
    }

    /// Operating-system process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Resident set size in KiB, from /proc (Linux).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Sends SIGTERM and waits up to `grace` for exit; returns the exit code (None if killed).
    pub async fn terminate(mut self, grace: Duration) -> anyhow::Result<Option<i32>> {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => Ok(status?.code()),
            Err(_) => {
                self.child.kill().await?;
                bail!(
                    "{} did not exit within {grace:?} of SIGTERM\n{}",
                    self.name,
                    self.log()
                )
            }
        }
    }
}

/// Starts `bin` with stderr to a fresh log file in `log_dir`; returns its name, child and log path.
fn launch(
    bin: &Path,
    args: &[&str],
    log_dir: &Path,
    stdout: Stdio,
) -> anyhow::Result<(String, Child, PathBuf)> {
    let name = bin
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let log = log_dir.join(format!("{name}-{}.log", rand::random::<u32>()));
    let stderr =
        std::fs::File::create(&log).with_context(|| format!("create {}", log.display()))?;
    let child = Command::new(bin)
        .args(args)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        )
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("spawn {}", bin.display()))?;
    Ok((name, child, log))
}

fn parse_kv(rest: &str) -> HashMap<String, String> {
    rest.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn read_log(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(60).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::parse_kv;

    #[test]
    fn ready_line_key_values() {
        let kv = parse_kv(" api=127.0.0.1:1 broker=mqtt://x:2 storage=sqlite");
        assert_eq!(kv["api"], "127.0.0.1:1");
        assert_eq!(kv["broker"], "mqtt://x:2");
        assert_eq!(kv.len(), 3);
    }
}
