//! The spool's `state` file: session id, ack floor and next sequence number, replaced
//! atomically (write `state.tmp`, fsync, rename) so a crash leaves the old or the new copy.

use std::fs;
use std::io::Write;
use std::path::Path;

use super::SpoolError;

const MAGIC: &[u8; 8] = b"SNTSTATE";
const VERSION: u32 = 1;
const LEN: usize = 8 + 4 + 4 + 8 + 8 + 8;
/// File name inside the spool directory.
pub(crate) const FILE: &str = "state";
const TMP: &str = "state.tmp";

/// What the state file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct State {
    /// The session every record of this spool carries.
    pub(crate) session: u64,
    /// Every seq below it was acknowledged or dropped.
    pub(crate) floor: u64,
    /// The next seq to assign.
    pub(crate) next_seq: u64,
}

impl State {
    /// The file's bytes: magic, version (u32 LE), CRC32 of the rest (u32 LE), session,
    /// floor, next seq (u64 LE each).
    pub(crate) fn encode(&self) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        b[..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        b[16..24].copy_from_slice(&self.session.to_le_bytes());
        b[24..32].copy_from_slice(&self.floor.to_le_bytes());
        b[32..40].copy_from_slice(&self.next_seq.to_le_bytes());
        let crc = crc32fast::hash(&b[16..]);
        b[12..16].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Parses the file's bytes; `None` if they are not a valid state.
    pub(crate) fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != LEN || &b[..8] != MAGIC || b[8..12] != VERSION.to_le_bytes() {
            return None;
        }
        if b[12..16] != crc32fast::hash(&b[16..]).to_le_bytes() {
            return None;
        }
        let u = |i: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(x)
        };
        Some(Self {
            session: u(16),
            floor: u(24),
            next_seq: u(32),
        })
    }
}

/// Reads `dir/state`: `Ok(None)` if absent; a corrupt file is reported as an error.
pub(crate) fn read(dir: &Path) -> Result<Option<State>, SpoolError> {
    let path = dir.join(FILE);
    match fs::read(&path) {
        Ok(bytes) => State::decode(&bytes)
            .map(Some)
            .ok_or(SpoolError::State { path }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SpoolError::Io {
            op: "read",
            path,
            source,
        }),
    }
}

/// Replaces `dir/state` atomically; fsyncs the file (and the directory) when `durable`.
pub(crate) fn write(dir: &Path, state: &State, durable: bool) -> Result<(), SpoolError> {
    let tmp = dir.join(TMP);
    let io = |op, path: &Path| {
        let path = path.to_owned();
        move |source| SpoolError::Io { op, path, source }
    };
    let mut f = fs::File::create(&tmp).map_err(io("create", &tmp))?;
    f.write_all(&state.encode()).map_err(io("write", &tmp))?;
    if durable {
        f.sync_all().map_err(io("fsync", &tmp))?;
    }
    drop(f);
    let path = dir.join(FILE);
    fs::rename(&tmp, &path).map_err(io("rename", &path))?;
    if durable {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("fsync", dir))?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_corruption() {
        let s = State {
            session: 7,
            floor: 3,
            next_seq: 9,
        };
        let b = s.encode();
        assert_eq!(&b[..8], b"SNTSTATE");
        assert_eq!(State::decode(&b), Some(s));
        for i in 0..b.len() {
            let mut bad = b;
            bad[i] ^= 1;
            assert_eq!(State::decode(&bad), None, "flip at {i}");
        }
        assert_eq!(State::decode(&b[..39]), None);
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        write(dir.path(), &s, true).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some(s));
    }
}
