//! The served-reads ledger (`--served-log FILE`): one line per Modbus read the simulator
//! answered with data, so a test can say exactly which points a client was given.
//!
//! Format (text, append-only, one `write` per line so a killed simulator loses nothing it
//! recorded; a restarted simulator appends to the same file):
//!
//! ```text
//! # sentia plant-sim served reads v1: ts_ns machine table address count
//! 1733300000123456789 motor-01 input 0 24
//! ```
//!
//! - `ts_ns`: wall-clock time (ns since the Unix epoch) when the answer was handed to the
//!   connection, after any injected `delay`.
//! - `machine`: the machine id of the map file; `table`: `coil`, `discrete`, `input` or
//!   `holding`; `address`/`count`: the 0-based range read.
//!
//! Only answered reads are recorded: an exception, a silenced or disconnected machine and
//! writes are not. A signal was served once per line whose range covers all of its
//! registers ([`ServedRead::covers`]). The record is written just before the response goes
//! on the wire; a connection that breaks in between makes the ledger claim one read the
//! client never got, so tests quiesce the simulator (`silence`) before killing a peer.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::plant::RegisterKind;

/// First line of a new ledger.
pub const HEADER: &str = "# sentia plant-sim served reads v1: ts_ns machine table address count";

/// Why the ledger could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum ServedError {
    /// Opening, writing or reading the file failed.
    #[error("served-reads ledger {path}: {source}")]
    Io {
        /// The ledger file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line does not follow the format.
    #[error("served-reads ledger {path} line {line}: {reason}")]
    Parse {
        /// The ledger file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// The open ledger, shared by every listener.
#[derive(Debug)]
pub struct ServedLog {
    path: PathBuf,
    file: Mutex<File>,
    machines: Vec<String>,
}

impl ServedLog {
    /// Opens (appending) or creates the ledger; `machines` are the ids by machine index.
    pub fn open(path: &Path, machines: Vec<String>) -> Result<Self, ServedError> {
        let io = |source| ServedError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        if file.metadata().map_err(io)?.len() == 0 {
            file.write_all(format!("{HEADER}\n").as_bytes())
                .map_err(io)?;
        }
        Ok(Self {
            path: path.to_owned(),
            file: Mutex::new(file),
            machines,
        })
    }

    /// Records one answered read of `machine` (its index). A failed write is logged once
    /// per failure and does not fail the request: the ledger is a test aid, not the server.
    pub fn record(&self, machine: usize, table: RegisterKind, address: u16, count: u16) {
        let id = self.machines.get(machine).map_or("?", String::as_str);
        let line = format!("{} {id} {} {address} {count}\n", now_ns(), table.as_str());
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(err) = file.write_all(line.as_bytes()) {
            tracing::warn!(path = %self.path.display(), %err, "served-reads ledger write failed");
        }
    }
}

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedRead {
    /// When it was answered (ns since the epoch).
    pub ts_ns: i64,
    /// Machine id.
    pub machine: String,
    /// Table read.
    pub table: RegisterKind,
    /// First address.
    pub address: u16,
    /// Registers or bits read.
    pub count: u16,
}

impl ServedRead {
    /// Whether this read delivered all `width` entries of `table` starting at `address` of
    /// `machine`.
    pub fn covers(&self, machine: &str, table: RegisterKind, address: u16, width: u16) -> bool {
        let end = u32::from(self.address) + u32::from(self.count);
        self.machine == machine
            && self.table == table
            && address >= self.address
            && u32::from(address) + u32::from(width) <= end
    }
}

/// Reads a whole ledger. A torn last line (the simulator killed mid-write) is an error,
/// since [`ServedLog::record`] writes each line in one call.
pub fn read_ledger(path: &Path) -> Result<Vec<ServedRead>, ServedError> {
    let text = std::fs::read_to_string(path).map_err(|source| ServedError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut reads = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let parse = |reason: String| ServedError::Parse {
            path: path.to_owned(),
            line: i + 1,
            reason,
        };
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [ts, machine, table, address, count] = fields[..] else {
            return Err(parse(format!("expected 5 fields, got {line:?}")));
        };
        let number = |s: &str, what: &str| {
            s.parse::<u64>()
                .map_err(|e| parse(format!("{what} {s:?}: {e}")))
        };
        let table = match table {
            "coil" => RegisterKind::Coil,
            "discrete" => RegisterKind::Discrete,
            "input" => RegisterKind::Input,
            "holding" => RegisterKind::Holding,
            other => return Err(parse(format!("unknown table {other:?}"))),
        };
        let narrow = |v: u64, what: &str| {
            u16::try_from(v).map_err(|_| parse(format!("{what} {v} out of range")))
        };
        reads.push(ServedRead {
            ts_ns: i64::try_from(number(ts, "ts_ns")?)
                .map_err(|_| parse(format!("ts_ns {ts} out of range")))?,
            machine: machine.to_owned(),
            table,
            address: narrow(number(address, "address")?, "address")?,
            count: narrow(number(count, "count")?, "count")?,
        });
    }
    Ok(reads)
}

/// Nanoseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn records_append_across_reopen_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("served.log");
        let ids = vec!["motor-01".to_owned(), "pump-01".to_owned()];
        let log = ServedLog::open(&path, ids.clone()).unwrap();
        log.record(0, RegisterKind::Input, 0, 24);
        log.record(1, RegisterKind::Coil, 3, 2);
        drop(log);
        // A restarted simulator appends; the header is written once.
        let log = ServedLog::open(&path, ids).unwrap();
        log.record(1, RegisterKind::Holding, 10, 1);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches(HEADER).count(), 1, "{text}");
        let reads = read_ledger(&path).unwrap();
        assert_eq!(reads.len(), 3);
        assert_eq!(reads[0].machine, "motor-01");
        assert_eq!(
            (reads[1].table, reads[1].address, reads[1].count),
            (RegisterKind::Coil, 3, 2)
        );
        assert!(reads[0].ts_ns <= reads[1].ts_ns && reads[1].ts_ns <= reads[2].ts_ns);
    }

    #[test]
    fn covers_needs_the_whole_signal() {
        let read = ServedRead {
            ts_ns: 1,
            machine: "m".into(),
            table: RegisterKind::Input,
            address: 10,
            count: 4,
        };
        assert!(read.covers("m", RegisterKind::Input, 10, 2));
        assert!(read.covers("m", RegisterKind::Input, 12, 2));
        assert!(
            !read.covers("m", RegisterKind::Input, 13, 2),
            "half outside"
        );
        assert!(!read.covers("m", RegisterKind::Input, 9, 1));
        assert!(!read.covers("m", RegisterKind::Holding, 10, 1));
        assert!(!read.covers("n", RegisterKind::Input, 10, 1));
    }

    #[test]
    fn bad_lines_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("served.log");
        std::fs::write(&path, format!("{HEADER}\n1 m input 0 2\n2 m pipes 0 2\n")).unwrap();
        let err = read_ledger(&path).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("pipes"), "{err}");
        std::fs::write(&path, "1 m input 0\n").unwrap();
        let err = read_ledger(&path).unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("5 fields"), "{err}");
    }
}
