//! The write audit log: one JSON line per write attempt, accepted or rejected, in
//! `{agent.data_dir}/audit/writes.jsonl`.
//!
//! ```json
//! {"ts_ns":1700000000000000000,"id":"c-17","user":"alice","comment":"night shift",
//!  "tag":"demo/hall-1/line-1/motor-01/setpoint","requested":1500,"old":1400,"new":1500,
//!  "status":"ok"}
//! ```
//!
//! `reason` is present for rejected and failed attempts; `requested`, `old`, `new` and
//! `comment` when known. Each line is appended with `O_APPEND` and fsynced (`sync_data`)
//! before the result is published, so an answered command is always on disk. The file is
//! never rotated or truncated by the agent (use logrotate with `copytruncate`). Appends run
//! on the blocking thread pool; the dispatcher awaits each one, so lines are in order.
//! A duplicate delivery (same command id) writes no new line: it was not a new attempt.

use std::io::Write;
use std::path::{Path, PathBuf};

use protocols::model::{TimestampNs, Value, WriteStatus};
use serde_json::{Map, Value as Json};

/// Directory of the audit log, under `agent.data_dir`.
pub const AUDIT_DIR: &str = "audit";
/// File name of the write audit log.
pub const WRITES_FILE: &str = "writes.jsonl";

/// One write attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// When the attempt ended.
    pub ts_ns: TimestampNs,
    /// The command id (empty if the command had none).
    pub id: String,
    /// Who asked.
    pub user: String,
    /// Why, as given.
    pub comment: Option<String>,
    /// The tag as given.
    pub tag: String,
    /// The value requested.
    pub requested: Option<Value>,
    /// The value read before writing.
    pub old: Option<Value>,
    /// The value read back after writing.
    pub new: Option<Value>,
    /// How it ended.
    pub status: WriteStatus,
    /// Why it was rejected or failed.
    pub reason: Option<String>,
}

impl AuditRecord {
    /// The JSON line (without the newline).
    pub fn to_json(&self) -> String {
        let mut m = Map::new();
        m.insert("ts_ns".into(), Json::from(self.ts_ns));
        m.insert("id".into(), Json::from(self.id.as_str()));
        m.insert("user".into(), Json::from(self.user.as_str()));
        if let Some(c) = &self.comment {
            m.insert("comment".into(), Json::from(c.as_str()));
        }
        m.insert("tag".into(), Json::from(self.tag.as_str()));
        for (key, value) in [
            ("requested", &self.requested),
            ("old", &self.old),
            ("new", &self.new),
        ] {
            if let Some(v) = value {
                m.insert(key.into(), value_json(v));
            }
        }
        m.insert("status".into(), Json::from(self.status.as_str()));
        if let Some(r) = &self.reason {
            m.insert("reason".into(), Json::from(r.as_str()));
        }
        Json::Object(m).to_string()
    }
}

/// A value as JSON; a non-finite float becomes its text (the audit must not lose it).
fn value_json(v: &Value) -> Json {
    match v {
        Value::Bool(b) => Json::from(*b),
        Value::Int(i) => Json::from(*i),
        Value::UInt(u) => Json::from(*u),
        Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or_else(|| Json::from(f.to_string()), Json::Number)
        }
        Value::Text(s) => Json::from(s.as_str()),
    }
}

/// Why the audit log cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Creating the directory, opening, writing or syncing failed.
    #[error("audit log {path}: {op}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// `create directory`, `open`, `write` or `sync`.
        op: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// The blocking task died (a bug or shutdown).
    #[error("audit log task failed: {0}")]
    Task(String),
}

/// The append-only write audit log.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    /// The log under `data_dir` (`{data_dir}/audit/writes.jsonl`). Nothing is created
    /// until the first append.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join(AUDIT_DIR).join(WRITES_FILE),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line and fsyncs it.
    pub async fn append(&self, record: &AuditRecord) -> Result<(), AuditError> {
        let path = self.path.clone();
        let mut line = record.to_json();
        line.push('\n');
        tokio::task::spawn_blocking(move || append_line(&path, line.as_bytes()))
            .await
            .map_err(|e| AuditError::Task(e.to_string()))?
    }
}

fn append_line(path: &Path, line: &[u8]) -> Result<(), AuditError> {
    let io = |op, source| AuditError::Io {
        path: path.to_owned(),
        op,
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io("create directory", e))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io("open", e))?;
    file.write_all(line).map_err(|e| io("write", e))?;
    file.sync_data().map_err(|e| io("sync", e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn record(status: WriteStatus) -> AuditRecord {
        AuditRecord {
            ts_ns: 7,
            id: "c-1".into(),
            user: "alice".into(),
            comment: None,
            tag: "s/a/l/d/t".into(),
            requested: Some(Value::Float(1.5)),
            old: Some(Value::Float(f64::NAN)),
            new: None,
            status,
            reason: Some("outside limits".into()),
        }
    }

    #[tokio::test]
    async fn appends_one_parseable_line_per_record() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::in_data_dir(dir.path());
        log.append(&record(WriteStatus::Rejected)).await.unwrap();
        log.append(&record(WriteStatus::Ok)).await.unwrap();
        let text = std::fs::read_to_string(log.path()).unwrap();
        let lines: Vec<Json> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["status"], "rejected");
        assert_eq!(lines[0]["requested"], 1.5);
        assert_eq!(lines[0]["old"], "NaN");
        assert_eq!(lines[1]["status"], "ok");
        assert!(lines[0].get("new").is_none() && lines[0].get("comment").is_none());
    }
}
