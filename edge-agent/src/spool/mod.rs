//! The disk spool between the pollers and the MQTT forwarder: every batch is appended here
//! (and gets its sequence number) before it is published, and leaves only after the
//! broker's PUBACK, so broker outages and agent restarts (SIGKILL included) lose nothing
//! that fits within the limits.
//!
//! # On-disk format (version 1)
//!
//! The spool directory (`[spool] dir`, default `{agent.data_dir}/spool/{agent.id}`) holds
//! append-only **segment files** named `{first seq:020}.seg` and one **state file**.
//!
//! ```text
//! segment = header record*
//! header  = "SNTSPOOL" (8 bytes) | version: u32 LE (= 1) | reserved: u32 (0)       16 bytes
//! record  = len: u32 LE | crc: u32 LE (CRC32/IEEE of body) | body (len bytes)
//! body    = seq: u64 LE | points: u32 LE | appended_ns: i64 LE | topic_len: u16 LE
//!           | topic (UTF-8) | payload (the encoded Message::Batch, historical = false)
//!
//! state   = "SNTSTATE" | version: u32 LE (= 1) | crc: u32 LE (CRC32 of the next 24 bytes)
//!           | session: u64 LE | floor: u64 LE | next_seq: u64 LE                  40 bytes
//! ```
//!
//! All integers are little endian. The payload is exactly what is published for a live
//! batch (`protocols::codec`, in the configured `mqtt.encoding`); a backlog batch is
//! decoded, marked `historical = true` and re-encoded when sent. Segment names sort by
//! sequence; a segment holds the records from its name up to the next segment's name.
//!
//! # Sequence numbers and sessions
//!
//! A batch gets its seq when it is appended, consecutive from the spool's `next_seq`. The
//! session id is chosen when the spool is created (its creation time in ns) and stored in
//! the state file with `next_seq`, so the sequence is **continuous across restarts**:
//! unacknowledged records are re-sent with their original session and seq, new batches
//! continue after the last seq assigned. A receiver sees a gap only where a batch was
//! really discarded (a spool limit, or a poller channel overflow before the spool), never
//! because the agent restarted. A new session starts only with a new (or deleted) spool.
//!
//! # Acknowledgement and deletion
//!
//! A record is marked acknowledged on the broker's PUBACK (matched through the forwarder's
//! in-flight tracker). `floor` is the lowest seq still retained; it advances over
//! acknowledged records, and a closed segment is deleted once every record in it is below
//! the floor. The state file (written atomically: `state.tmp`, fsync, rename) persists the
//! floor at every `sync` (each fsync interval, each segment deletion and on shutdown); after a
//! crash, records acknowledged since the last write are sent again (at-least-once). The
//! segment being appended to is never deleted, so the last seq assigned is always on disk.
//!
//! # Durability (`[spool] fsync`)
//!
//! `always`: fsync after every append. `interval` (default, every `fsync_interval`, 1 s):
//! a power loss may lose up to that much; a process crash loses nothing (the data is in
//! the page cache). `never`: leave it to the OS.
//!
//! # Limits
//!
//! `max_bytes` bounds the framed bytes of retained records (segment files may exceed it by
//! at most one segment: dropped records in the active segment stay on disk until it rolls;
//! segments are `max_bytes / 16`, between 4 KiB and 64 MiB). When an append would exceed
//! it, `when_full = "drop_oldest"` (default) discards the oldest records until it fits;
//! `"drop_newest"` discards the new batch (its seq is used up, so the gap is visible).
//! `max_age` discards records appended longer ago than that. Every discarded batch and its
//! points are counted (`batches_dropped_spool`, `points_dropped_spool`) and logged; a record
//! discarded while in flight to the broker is counted only if the connection is lost
//! before its PUBACK (otherwise it was delivered).
//!
//! # Recovery
//!
//! On open every segment is scanned. A record that is partial, has an impossible length, a
//! CRC mismatch or a non-increasing seq ends the valid prefix: the file is truncated there
//! (a torn tail after a crash) and nothing before it is lost. A last segment shorter than
//! its header (torn creation) is recreated. A bad magic or another version is an error
//! naming the file (the agent refuses to start rather than discard data). An unreadable
//! state file re-sends everything retained.
//!
//! # Limitations
//!
//! - The spool's file I/O (small appends, reads of one record, fsync every interval) runs
//!   on the forwarder task, not on `spawn_blocking`: a slow disk delays publishing (never
//!   polling: pollers only `try_send` into the forwarder's channel).
//! - The index of retained records is in memory (about 50 bytes per record).
//!
//! # Files
//!
//! `format.rs` (pure encode/decode/scan, golden bytes), `state.rs` (the state file),
//! `store.rs` ([`Spool`]: segments, index, limits, acks) with `store_tests.rs`,
//! `model_tests.rs` (property test against an in-memory model, with crashes and torn
//! tails).

mod format;
mod state;
mod store;

use std::path::PathBuf;

pub use format::HeaderError;
pub(crate) use format::SpoolRecord;
pub(crate) use store::Dropped;
pub use store::{Recovered, Spool};

/// Spool failures, naming the file involved.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// A file operation failed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A segment file is not a spool segment of this version.
    #[error("{}: {source}", path.display())]
    Header {
        /// The segment.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: format::HeaderError,
    },
    /// The state file is corrupt.
    #[error("{}: corrupt spool state file", path.display())]
    State {
        /// The file.
        path: PathBuf,
    },
    /// A record read back does not match what was written.
    #[error("{}: record {seq} is corrupt", path.display())]
    Corrupt {
        /// The segment.
        path: PathBuf,
        /// The record.
        seq: u64,
    },
    /// Internal: no segment to append to (a bug).
    #[error("spool has no active segment")]
    NoSegment,
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod model_tests;
