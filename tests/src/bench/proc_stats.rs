//! CPU time and memory of a process, read from `/proc` (Linux only).
//!
//! CPU is `utime + stime` of `/proc/<pid>/stat` (every thread of the process, in clock
//! ticks, converted with `getconf CLK_TCK`); memory is `VmRSS` of `/proc/<pid>/status`.
//! A figure is the delta between two [`CpuSample`]s taken around a measurement window.

use std::sync::OnceLock;
use std::time::Instant;

use anyhow::Context;

/// Clock ticks per second (`getconf CLK_TCK`, 100 when that fails).
fn clk_tck() -> f64 {
    static TCK: OnceLock<f64> = OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// CPU seconds (user + system, all threads) used so far by `pid`.
pub(crate) fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("read /proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces; fields after its closing ')' are plain.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
    let field = |i: usize| -> anyhow::Result<f64> {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .with_context(|| format!("/proc/{pid}/stat field {}", i + 3))
    };
    Ok((field(11)? + field(12)?) / clk_tck())
}

/// Resident set size of `pid` in KiB (`VmRSS`).
pub(crate) fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    status_kib(pid, "VmRSS:")
}

/// Peak resident set size of `pid` in KiB (`VmHWM`).
pub(crate) fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    status_kib(pid, "VmHWM:")
}

fn status_kib(pid: u32, key: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("read /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("/proc/{pid}/status has no {key}"))
}

/// CPU used by one process at one instant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuSample {
    at: Instant,
    cpu_s: f64,
}

impl CpuSample {
    /// Samples `pid` now.
    pub(crate) fn take(pid: u32) -> anyhow::Result<Self> {
        Ok(Self {
            at: Instant::now(),
            cpu_s: cpu_seconds(pid)?,
        })
    }

    /// CPU seconds and wall seconds from `self` to `later`.
    pub(crate) fn until(&self, later: &CpuSample) -> (f64, f64) {
        (
            later.cpu_s - self.cpu_s,
            later.at.duration_since(self.at).as_secs_f64(),
        )
    }
}

/// Id of this (bench) process.
pub(crate) fn self_pid() -> u32 {
    std::process::id()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() -> anyhow::Result<()> {
        let pid = self_pid();
        assert!(cpu_seconds(pid)? >= 0.0);
        assert!(rss_kib(pid)? > 0);
        assert!(peak_rss_kib(pid)? >= rss_kib(pid)? / 2);
        Ok(())
    }
}
