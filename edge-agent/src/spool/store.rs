//! [`Spool`]: the segment files, the in-memory index of retained records, limits and
//! acknowledgements. Plain blocking file I/O on small writes; time is passed in.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::SpoolError;
use super::format::{self, HEADER_LEN, HeaderError, SpoolRecord};
use super::state::{self, State};
use crate::settings::{FsyncPolicy, SpoolSettings, WhenFull};

/// Largest segment file; smaller when `max_bytes` is small (a sixteenth of it, at least
/// 4 KiB), so dropping and deleting stays fine-grained.
const MAX_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
const MIN_SEGMENT_BYTES: u64 = 4 * 1024;
const SEGMENT_EXT: &str = "seg";

/// Batches and points discarded by a limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Dropped {
    pub(crate) batches: u64,
    pub(crate) points: u64,
    /// Each discarded record: (seq, points).
    pub(crate) records: Vec<(u64, u32)>,
}

impl Dropped {
    pub(crate) fn add(&mut self, seq: u64, points: u32) {
        self.batches += 1;
        self.points += u64::from(points);
        self.records.push((seq, points));
    }
}

/// What opening found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Records waiting to be sent.
    pub records: u64,
    /// Bytes cut off torn or corrupt tails.
    pub truncated_bytes: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    seq: u64,
    segment: u64,
    offset: u64,
    len: u64,
    points: u32,
    appended_ns: i64,
    acked: bool,
}

#[derive(Debug)]
struct Segment {
    first_seq: u64,
    len: u64,
}

/// The disk spool. See the module docs for the format and guarantees.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    settings: SpoolSettings,
    segment_bytes: u64,
    session: u64,
    next_seq: u64,
    /// Retained records, by seq.
    entries: VecDeque<Entry>,
    /// Segment files, oldest first; the last is the one appended to.
    segments: VecDeque<Segment>,
    active: File,
    bytes: u64,
    /// Retained entries already acknowledged (above the floor).
    acked: u64,
    /// The state on disk differs from memory.
    state_dirty: bool,
    /// Appends not yet fsynced.
    unsynced: bool,
    reader: Option<(u64, File)>,
}

fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}.{SEGMENT_EXT}"))
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError {
    let path = path.to_owned();
    move |source| SpoolError::Io { op, path, source }
}

impl Spool {
    /// Opens (or creates) the spool in `settings.dir`, truncating torn tails. A new spool
    /// gets `new_session` as its session id.
    pub fn open(
        settings: &SpoolSettings,
        new_session: u64,
    ) -> Result<(Self, Recovered), SpoolError> {
        let dir = settings.dir.clone();
        fs::create_dir_all(&dir).map_err(io("create directory", &dir))?;
        let saved = match state::read(&dir) {
            Ok(s) => s,
            Err(error) => {
                tracing::error!(%error, "spool state unreadable; re-sending everything in the spool");
                None
            }
        };
        let mut recovered = Recovered::default();
        let mut names = Vec::new();
        for item in fs::read_dir(&dir).map_err(io("list", &dir))? {
            let path = item.map_err(io("list", &dir))?.path();
            if path.extension().is_some_and(|e| e == SEGMENT_EXT)
                && let Some(first) = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .and_then(|s| s.parse::<u64>().ok())
            {
                names.push(first);
            }
        }
        names.sort_unstable();
        let floor = saved.map_or(0, |s| s.floor);
        let mut entries = VecDeque::new();
        let mut segments = VecDeque::new();
        let mut last_seq = None::<u64>;
        for (i, first_seq) in names.iter().copied().enumerate() {
            let path = segment_path(&dir, first_seq);
            let bytes = fs::read(&path).map_err(io("read", &path))?;
            match format::check_header(&bytes) {
                Ok(()) => {}
                Err(HeaderError::Short) if i + 1 == names.len() => {
                    // Torn while being created: start it again.
                    recovered.truncated_bytes += bytes.len() as u64;
                    let mut f = File::create(&path).map_err(io("create", &path))?;
                    f.write_all(&format::header()).map_err(io("write", &path))?;
                    segments.push_back(Segment {
                        first_seq,
                        len: HEADER_LEN as u64,
                    });
                    continue;
                }
                Err(source) => return Err(SpoolError::Header { path, source }),
            }
            let scan = format::scan(&bytes);
            if let Some(tail) = scan.tail {
                let cut = bytes.len() as u64 - scan.valid_len;
                tracing::warn!(file = %path.display(), offset = scan.valid_len, bytes = cut, %tail, "torn spool tail truncated");
                recovered.truncated_bytes += cut;
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io("open", &path))?;
                f.set_len(scan.valid_len).map_err(io("truncate", &path))?;
                f.sync_all().map_err(io("fsync", &path))?;
            }
            for (r, offset, len) in scan.records {
                if last_seq.is_some_and(|l| r.seq <= l) {
                    continue;
                }
                last_seq = Some(r.seq);
                if r.seq >= floor {
                    entries.push_back(Entry {
                        seq: r.seq,
                        segment: first_seq,
                        offset,
                        len,
                        points: r.points,
                        appended_ns: r.appended_ns,
                        acked: false,
                    });
                }
            }
            segments.push_back(Segment {
                first_seq,
                len: scan.valid_len,
            });
        }
        let next_seq = [
            saved.map_or(0, |s| s.next_seq),
            last_seq.map_or(0, |s| s + 1),
            names.last().copied().unwrap_or(0),
            floor,
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        if segments.is_empty() {
            let path = segment_path(&dir, next_seq);
            let mut f = File::create(&path).map_err(io("create", &path))?;
            f.write_all(&format::header()).map_err(io("write", &path))?;
            segments.push_back(Segment {
                first_seq: next_seq,
                len: HEADER_LEN as u64,
            });
        }
        let active_first = segments.back().map_or(next_seq, |s| s.first_seq);
        let active_path = segment_path(&dir, active_first);
        let active = OpenOptions::new()
            .append(true)
            .open(&active_path)
            .map_err(io("open", &active_path))?;
        recovered.records = entries.len() as u64;
        let bytes = entries.iter().map(|e| e.len).sum();
        let mut spool = Self {
            dir,
            segment_bytes: (settings.max_bytes / 16).clamp(MIN_SEGMENT_BYTES, MAX_SEGMENT_BYTES),
            settings: settings.clone(),
            session: saved.map_or(new_session, |s| s.session),
            next_seq,
            entries,
            segments,
            active,
            bytes,
            acked: 0,
            state_dirty: true,
            unsynced: false,
            reader: None,
        };
        spool.remove_dead_segments()?;
        spool.write_state(true)?;
        Ok((spool, recovered))
    }

    /// The session id stored with this spool.
    pub fn session(&self) -> u64 {
        self.session
    }

    /// The seq the next append gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Every seq below this is acknowledged or dropped.
    pub(crate) fn floor(&self) -> u64 {
        self.entries.front().map_or(self.next_seq, |e| e.seq)
    }

    /// Retained records that are not acknowledged yet.
    pub(crate) fn len(&self) -> u64 {
        self.entries.len() as u64 - self.acked
    }

    /// Bytes of retained records (what `max_bytes` limits).
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Appends `record` (whose seq must be [`Spool::next_seq`]) and applies the limits;
    /// returns what was dropped (with `drop_newest`, possibly `record` itself: its seq is
    /// used up all the same, so receivers see the gap).
    pub(crate) fn append(&mut self, record: &SpoolRecord) -> Result<Dropped, SpoolError> {
        let dropped = self.append_inner(record)?;
        if dropped.batches > 0 {
            // Persist the new floor now (without fsync: a process crash keeps it, only a
            // power loss might not), so discarded records never come back after a crash.
            self.write_state(false)?;
        }
        Ok(dropped)
    }

    fn append_inner(&mut self, record: &SpoolRecord) -> Result<Dropped, SpoolError> {
        debug_assert_eq!(record.seq, self.next_seq);
        let mut dropped = self.expire(record.appended_ns);
        let framed = format::encode(record);
        let len = framed.len() as u64;
        self.next_seq = record.seq + 1;
        self.state_dirty = true;
        let fits = |s: &Self| s.bytes + len <= s.settings.max_bytes;
        if !fits(self) {
            match self.settings.when_full {
                WhenFull::DropNewest => {
                    dropped.add(record.seq, record.points);
                    return Ok(dropped);
                }
                WhenFull::DropOldest => {
                    while !fits(self) {
                        let Some(e) = self.entries.pop_front() else {
                            break;
                        };
                        self.forget(&e);
                        if !e.acked {
                            dropped.add(e.seq, e.points);
                        }
                    }
                    self.advance_floor();
                    if !fits(self) {
                        // Larger than the whole spool.
                        dropped.add(record.seq, record.points);
                        self.remove_dead_segments()?;
                        return Ok(dropped);
                    }
                }
            }
        }
        self.roll_if_needed(len)?;
        let active = self.segments.back_mut().ok_or(SpoolError::NoSegment)?;
        let path = segment_path(&self.dir, active.first_seq);
        self.active
            .write_all(&framed)
            .map_err(io("append", &path))?;
        if self.settings.fsync == FsyncPolicy::Always {
            self.active.sync_data().map_err(io("fsync", &path))?;
        } else {
            self.unsynced = true;
        }
        self.entries.push_back(Entry {
            seq: record.seq,
            segment: active.first_seq,
            offset: active.len,
            len,
            points: record.points,
            appended_ns: record.appended_ns,
            acked: false,
        });
        active.len += len;
        self.bytes += len;
        self.remove_dead_segments()?;
        Ok(dropped)
    }

    /// Drops records older than `max_age` at `now_ns`.
    pub(crate) fn expire(&mut self, now_ns: i64) -> Dropped {
        let mut dropped = Dropped::default();
        let Some(max_age) = self.settings.max_age else {
            return dropped;
        };
        let oldest = now_ns.saturating_sub(i64::try_from(max_age.as_nanos()).unwrap_or(i64::MAX));
        while let Some(e) = self.entries.front().copied() {
            if e.appended_ns >= oldest && !e.acked {
                break;
            }
            self.entries.pop_front();
            self.forget(&e);
            if !e.acked {
                dropped.add(e.seq, e.points);
            }
        }
        dropped
    }

    /// Marks `seq` acknowledged; returns whether it was retained and unacknowledged.
    /// Segments wholly below the new floor are deleted.
    pub(crate) fn ack(&mut self, seq: u64) -> Result<bool, SpoolError> {
        let Some(i) = self.index(seq) else {
            return Ok(false);
        };
        if self.entries[i].acked {
            return Ok(false);
        }
        self.entries[i].acked = true;
        self.acked += 1;
        self.advance_floor();
        self.remove_dead_segments()?;
        Ok(true)
    }

    /// Forgets acknowledged records at the front.
    fn advance_floor(&mut self) {
        while let Some(e) = self.entries.front().copied() {
            if !e.acked {
                break;
            }
            self.entries.pop_front();
            self.forget(&e);
        }
    }

    /// The first unacknowledged seq in `from..until`.
    pub(crate) fn next_unacked(&self, from: u64, until: u64) -> Option<u64> {
        let start = self.entries.partition_point(|e| e.seq < from);
        self.entries
            .range(start..)
            .take_while(|e| e.seq < until)
            .find(|e| !e.acked)
            .map(|e| e.seq)
    }

    /// Reads retained record `seq` back from disk.
    pub(crate) fn read(&mut self, seq: u64) -> Result<Option<SpoolRecord>, SpoolError> {
        let Some(e) = self.index(seq).map(|i| self.entries[i]) else {
            return Ok(None);
        };
        let path = segment_path(&self.dir, e.segment);
        if self.reader.as_ref().is_none_or(|(s, _)| *s != e.segment) {
            let f = File::open(&path).map_err(io("open", &path))?;
            self.reader = Some((e.segment, f));
        }
        let Some((_, f)) = self.reader.as_mut() else {
            return Ok(None);
        };
        let mut buf = vec![0u8; usize::try_from(e.len).unwrap_or(usize::MAX)];
        f.seek(SeekFrom::Start(e.offset))
            .and_then(|_| f.read_exact(&mut buf))
            .map_err(io("read", &path))?;
        match format::decode(&buf) {
            Ok((r, _)) if r.seq == seq => Ok(Some(r)),
            _ => Err(SpoolError::Corrupt { path, seq }),
        }
    }

    /// Fsyncs appends (unless `fsync = "never"`) and persists the ack floor if it moved.
    pub(crate) fn sync(&mut self) -> Result<(), SpoolError> {
        if self.unsynced && self.settings.fsync != FsyncPolicy::Never {
            let first = self.segments.back().map_or(0, |s| s.first_seq);
            self.active
                .sync_data()
                .map_err(io("fsync", &segment_path(&self.dir, first)))?;
        }
        self.unsynced = false;
        self.write_state(true)
    }

    /// Writes the state file if it changed; fsyncs it if `durable` and the policy allows.
    fn write_state(&mut self, durable: bool) -> Result<(), SpoolError> {
        if !self.state_dirty {
            return Ok(());
        }
        let s = State {
            session: self.session,
            floor: self.floor(),
            next_seq: self.next_seq,
        };
        state::write(
            &self.dir,
            &s,
            durable && self.settings.fsync != FsyncPolicy::Never,
        )?;
        self.state_dirty = false;
        Ok(())
    }

    /// Accounts for entry `e`, just removed from the front.
    fn forget(&mut self, e: &Entry) {
        self.bytes -= e.len;
        if e.acked {
            self.acked -= 1;
        }
        self.state_dirty = true;
    }

    fn index(&self, seq: u64) -> Option<usize> {
        let i = self.entries.partition_point(|e| e.seq < seq);
        (self.entries.get(i)?.seq == seq).then_some(i)
    }

    fn roll_if_needed(&mut self, len: u64) -> Result<(), SpoolError> {
        let Some(active) = self.segments.back() else {
            return Err(SpoolError::NoSegment);
        };
        if active.len == HEADER_LEN as u64 || active.len + len <= self.segment_bytes {
            return Ok(());
        }
        let old = segment_path(&self.dir, active.first_seq);
        if self.settings.fsync != FsyncPolicy::Never {
            self.active.sync_data().map_err(io("fsync", &old))?;
        }
        let first_seq = self.next_seq - 1;
        let path = segment_path(&self.dir, first_seq);
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(io("create", &path))?;
        f.write_all(&format::header()).map_err(io("write", &path))?;
        self.active = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io("open", &path))?;
        self.segments.push_back(Segment {
            first_seq,
            len: HEADER_LEN as u64,
        });
        Ok(())
    }

    /// Deletes closed segments whose records are all below the floor.
    fn remove_dead_segments(&mut self) -> Result<(), SpoolError> {
        let floor = self.floor();
        while self.segments.len() > 1 && self.segments[1].first_seq <= floor {
            let Some(dead) = self.segments.pop_front() else {
                break;
            };
            if self
                .reader
                .as_ref()
                .is_some_and(|(s, _)| *s == dead.first_seq)
            {
                self.reader = None;
            }
            let path = segment_path(&self.dir, dead.first_seq);
            // Persist the floor first, so a crash never resurrects a record from a segment
            // that is gone while later ones remain.
            self.write_state(true)?;
            fs::remove_file(&path).map_err(io("remove", &path))?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
