//! The `[spool]` table (and `[agent] data_dir`, its default parent): directory, limits,
//! fsync policy, what to drop when full, replay rate.

use std::path::PathBuf;
use std::time::Duration;

use protocols::model::AgentId;
use serde::Deserialize;

use super::diagnostic::Diagnostics;
use super::reader::{At, TableReader};
use crate::settings::{FsyncPolicy, SpoolSettings, WhenFull};

pub(super) const SPOOL_FIELDS: &[&str] = &[
    "dir",
    "max_bytes",
    "max_age",
    "fsync",
    "fsync_interval",
    "when_full",
    "replay_rate",
];
/// Default `[agent] data_dir`, relative to the working directory.
pub(super) const DEFAULT_DATA_DIR: &str = "data";
/// Default `[spool] max_bytes`: 1 GiB.
pub(super) const DEFAULT_MAX_BYTES: u64 = 1 << 30;
/// Smallest `[spool] max_bytes`.
const MIN_MAX_BYTES: u64 = 4 * 1024;
/// Default `[spool] fsync_interval`.
pub(super) const DEFAULT_FSYNC_INTERVAL: Duration = Duration::from_secs(1);
/// Default `[spool] replay_rate` (backlog batches per second).
pub(super) const DEFAULT_REPLAY_RATE: u32 = 500;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum FsyncKind {
    Always,
    Interval,
    Never,
}

/// The `[spool]` table as read.
#[derive(Default)]
pub(super) struct SpoolSection {
    pub(super) dir: Option<At<String>>,
    pub(super) max_bytes: Option<At<u64>>,
    pub(super) max_age: Option<At<Duration>>,
    pub(super) fsync: Option<At<FsyncKind>>,
    pub(super) fsync_interval: Option<At<Duration>>,
    pub(super) when_full: Option<At<WhenFull>>,
    pub(super) replay_rate: Option<At<u32>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Size {
    Bytes(u64),
    Text(String),
}

/// Parses a size such as `"512MiB"`, `"1 GiB"`, `"64kB"` or `"4096"` into bytes.
pub(super) fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid size {text:?} (write e.g. \"512MiB\", \"1GiB\")"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" => 1 << 10,
        "mb" => 1_000_000,
        "mib" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        "tb" => 1_000_000_000_000,
        "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "unknown size unit in {text:?} (expected B, kB, KiB, MB, MiB, GB, GiB, TB, TiB)"
            ));
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

/// Reads the `[spool]` table.
pub(super) fn read_spool(d: &mut Diagnostics<'_>, mut r: TableReader<'_, '_>) -> SpoolSection {
    let max_bytes = r.opt::<Size>(d, "max_bytes").and_then(|v| {
        let span = v.span();
        let bytes = match v.into_inner() {
            Size::Bytes(n) => Ok(n),
            Size::Text(t) => parse_size(&t),
        };
        match bytes {
            Ok(n) => Some(At::new(span, n)),
            Err(msg) => {
                d.error(&span, r.path("max_bytes"), msg);
                None
            }
        }
    });
    let s = SpoolSection {
        dir: r.opt(d, "dir"),
        max_bytes,
        max_age: r.duration(d, "max_age"),
        fsync: r.keyword(
            d,
            "fsync",
            "fsync policy",
            &["always", "interval", "never"],
            |s| match s {
                "always" => Some(FsyncKind::Always),
                "interval" => Some(FsyncKind::Interval),
                "never" => Some(FsyncKind::Never),
                _ => None,
            },
        ),
        fsync_interval: r.duration(d, "fsync_interval"),
        when_full: r.keyword(
            d,
            "when_full",
            "policy",
            &["drop_oldest", "drop_newest"],
            |s| match s {
                "drop_oldest" => Some(WhenFull::DropOldest),
                "drop_newest" => Some(WhenFull::DropNewest),
                _ => None,
            },
        ),
        replay_rate: r.opt(d, "replay_rate"),
    };
    r.finish(d);
    s
}

/// Checks the `[spool]` table and builds its settings.
pub(super) fn build_spool(
    d: &mut Diagnostics<'_>,
    s: &SpoolSection,
    data_dir: Option<&At<String>>,
    agent: Option<&AgentId>,
) -> SpoolSettings {
    if let Some(dir) = data_dir
        && dir.get_ref().is_empty()
    {
        d.error(&dir.span(), "agent.data_dir", "must not be empty");
    }
    let dir = match &s.dir {
        Some(dir) if dir.get_ref().is_empty() => {
            d.error(&dir.span(), "spool.dir", "must not be empty");
            PathBuf::new()
        }
        Some(dir) => PathBuf::from(dir.get_ref()),
        None => PathBuf::from(data_dir.map_or(DEFAULT_DATA_DIR, |d| d.get_ref().as_str()))
            .join("spool")
            .join(agent.map_or("", |a| a.as_str())),
    };
    let max_bytes = s.max_bytes.as_ref().map_or(DEFAULT_MAX_BYTES, |m| {
        if *m.get_ref() < MIN_MAX_BYTES {
            d.error(&m.span(), "spool.max_bytes", "must be at least 4KiB");
        }
        *m.get_ref()
    });
    if let Some(a) = &s.max_age
        && a.get_ref().is_zero()
    {
        d.error(&a.span(), "spool.max_age", "must be greater than 0");
    }
    let interval = s
        .fsync_interval
        .as_ref()
        .map_or(DEFAULT_FSYNC_INTERVAL, |i| *i.get_ref());
    if let Some(i) = &s.fsync_interval {
        if i.get_ref().is_zero() {
            d.error(&i.span(), "spool.fsync_interval", "must be greater than 0");
        }
        if s.fsync
            .as_ref()
            .is_some_and(|f| *f.get_ref() != FsyncKind::Interval)
        {
            d.error(
                &i.span(),
                "spool.fsync_interval",
                "only applies with fsync = \"interval\"",
            );
        }
    }
    let fsync = match s
        .fsync
        .as_ref()
        .map_or(FsyncKind::Interval, |f| *f.get_ref())
    {
        FsyncKind::Always => FsyncPolicy::Always,
        FsyncKind::Interval => FsyncPolicy::Interval(interval),
        FsyncKind::Never => FsyncPolicy::Never,
    };
    let replay_rate = s.replay_rate.as_ref().map_or(DEFAULT_REPLAY_RATE, |r| {
        if *r.get_ref() == 0 {
            d.error(&r.span(), "spool.replay_rate", "must be at least 1");
        }
        *r.get_ref()
    });
    SpoolSettings {
        dir,
        max_bytes,
        max_age: s.max_age.as_ref().map(|a| *a.get_ref()),
        fsync,
        when_full: s
            .when_full
            .as_ref()
            .map_or(WhenFull::DropOldest, |w| *w.get_ref()),
        replay_rate,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("512 MiB"), Ok(512 << 20));
        assert_eq!(parse_size("64kB"), Ok(64_000));
        assert_eq!(parse_size("2gb"), Ok(2_000_000_000));
        assert!(parse_size("1XB").unwrap_err().contains("unknown size unit"));
        assert!(parse_size("GiB").unwrap_err().contains("invalid size"));
        assert!(
            parse_size("99999999999TiB")
                .unwrap_err()
                .contains("too large")
        );
    }
}
