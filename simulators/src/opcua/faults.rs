//! OPC UA-only faults that the protocol-neutral fault state (`crate::faults`, which the OPC
//! UA publisher also consults: `freeze` stops a machine's values, `silence`/`disconnect`
//! publish them as BadNoCommunication) cannot express: an arbitrary status code per machine.
//! Written before the shared state was on main; folding `status` into its command language
//! would make this file unnecessary.
//!
//! Faults come from a file (`--opcua-faults FILE`) that the tick loop re-reads whenever it
//! changes, so they can be injected and removed while plant-sim runs. One command per line,
//! machines by index, `#` starts a comment:
//!
//! ```text
//! status <machine> <StatusCodeName>   publish every signal with this status (e.g. BadSensorFailure,
//!                                     UncertainLastUsableValue); the value is still sent
//! freeze <machine>                    stop updating the machine's values
//! ```
//!
//! An empty or missing file means no faults.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::SystemTime;

use opcua::types::StatusCode;

/// The faults of one machine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpcUaFault {
    /// Publish values with this status.
    pub status: Option<StatusCode>,
    /// Do not publish new values.
    pub frozen: bool,
}

/// Parses the fault file's text; errors name the line.
pub fn parse(text: &str) -> Result<HashMap<usize, OpcUaFault>, String> {
    let mut faults: HashMap<usize, OpcUaFault> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let bad = |msg: &str| format!("line {}: {msg}: {line:?}", n + 1);
        let machine: usize = words
            .get(1)
            .and_then(|m| m.parse().ok())
            .ok_or_else(|| bad("expected a machine index"))?;
        let entry = faults.entry(machine).or_default();
        match (words.first().copied(), words.get(2)) {
            (Some("freeze"), None) => entry.frozen = true,
            (Some("status"), Some(name)) => {
                let sub = opcua::types::SubStatusCode::from_str(name)
                    .map_err(|()| bad("unknown status code name"))?;
                entry.status = Some(StatusCode::from_category(sub));
            }
            _ => {
                return Err(bad(
                    "expected `status <machine> <name>` or `freeze <machine>`",
                ));
            }
        }
    }
    Ok(faults)
}

/// The fault file and what was last read from it.
#[derive(Debug)]
pub struct FaultFile {
    path: PathBuf,
    modified: Option<SystemTime>,
    faults: HashMap<usize, OpcUaFault>,
}

impl FaultFile {
    /// Watches `path` (it need not exist yet).
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            modified: None,
            faults: HashMap::new(),
        }
    }

    /// No file: no faults, ever.
    pub fn none() -> Self {
        Self::new(Path::new(""))
    }

    /// Re-reads the file if it changed; a bad file is logged and the previous faults kept.
    pub fn refresh(&mut self) {
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        if modified == self.modified {
            return;
        }
        self.modified = modified;
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        match parse(&text) {
            Ok(faults) => {
                if faults != self.faults {
                    tracing::info!(path = %self.path.display(), faults = ?faults, "OPC UA faults changed");
                }
                self.faults = faults;
            }
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "OPC UA fault file ignored")
            }
        }
    }

    /// The faults of machine `index`.
    pub fn get(&self, index: usize) -> OpcUaFault {
        self.faults.get(&index).copied().unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_freeze_per_machine() {
        let f = parse("# comment\nstatus 0 BadSensorFailure\nfreeze 2\n\n").unwrap();
        assert_eq!(f[&0].status, Some(StatusCode::BadSensorFailure));
        assert!(!f[&0].frozen);
        assert!(f[&2].frozen);
        assert!(
            parse("status 0 NoSuchStatus")
                .unwrap_err()
                .contains("line 1")
        );
        assert!(parse("melt 1").is_err());
        assert!(parse("freeze x").is_err());
    }
}
