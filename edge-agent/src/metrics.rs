//! The agent's counters: plain atomics, shared by every task, summarised in the log.
//!
//! Each stage counts what it received, sent, dropped and its errors (by kind). Counters only
//! grow (except the `buffered` and `spool_bytes` gauges); [`Metrics::snapshot`] copies them for logging and
//! tests. Field names double as metric names once the counters are exported.

use std::sync::atomic::{AtomicU64, Ordering};

use protocols::model::SpoolStatus;

/// Shared counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Poll cycles started.
    pub polls: AtomicU64,
    /// Poll cycles that took longer than the poll interval (ticks were skipped).
    pub overruns: AtomicU64,
    /// Modbus requests sent.
    pub requests: AtomicU64,
    /// Requests that timed out.
    pub request_timeouts: AtomicU64,
    /// Requests that failed on the transport (connection lost).
    pub request_transport_errors: AtomicU64,
    /// Responses that did not match their request.
    pub request_protocol_errors: AtomicU64,
    /// Requests answered with a device exception.
    pub request_exceptions: AtomicU64,
    /// Failed connection attempts.
    pub connect_errors: AtomicU64,
    /// Points produced (good and bad).
    pub points: AtomicU64,
    /// Batches handed to the MQTT client (including re-sends after a reconnect).
    pub batches_published: AtomicU64,
    /// Backlog batches sent with `historical = true` (unacknowledged when a connection was
    /// lost or the agent restarted, or appended while the broker was unreachable).
    pub batches_resent: AtomicU64,
    /// Batches acknowledged by the broker (PUBACK).
    pub batches_acked: AtomicU64,
    /// Batches dropped by a poller because the forwarder's channel was full.
    pub batches_dropped_channel: AtomicU64,
    /// Batches dropped by a poller because the forwarder's channel was closed (the forwarder
    /// stopped; outside shutdown that is a fault and the agent stops).
    pub batches_dropped_closed: AtomicU64,
    /// Points in batches dropped because the forwarder's channel was full or closed.
    pub points_dropped_channel: AtomicU64,
    /// Batches discarded by a spool limit (`max_bytes`, `max_age`) or a failed append.
    pub batches_dropped_spool: AtomicU64,
    /// Points in those batches.
    pub points_dropped_spool: AtomicU64,
    /// Of the spool drops, batches published without a PUBACK before a connection broke
    /// (the broker may have them: possibly delivered).
    pub batches_dropped_unconfirmed: AtomicU64,
    /// Points in those batches.
    pub points_dropped_unconfirmed: AtomicU64,
    /// Spool file operations that failed.
    pub spool_errors: AtomicU64,
    /// Batches that could not be encoded.
    pub encode_errors: AtomicU64,
    /// Batches in the spool not yet acknowledged by the broker (a gauge).
    pub buffered: AtomicU64,
    /// Bytes of records retained in the spool (a gauge).
    pub spool_bytes: AtomicU64,
    /// Write commands executed (`ok`).
    pub writes_ok: AtomicU64,
    /// Write commands rejected before anything was written.
    pub writes_rejected: AtomicU64,
    /// Write commands the device did not complete.
    pub writes_failed: AtomicU64,
    /// Received commands dropped unanswered (dispatcher queue full or stopped).
    pub commands_dropped: AtomicU64,
}

/// A copy of every counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct MetricsSnapshot {
    pub polls: u64,
    pub overruns: u64,
    pub requests: u64,
    pub request_timeouts: u64,
    pub request_transport_errors: u64,
    pub request_protocol_errors: u64,
    pub request_exceptions: u64,
    pub connect_errors: u64,
    pub points: u64,
    pub batches_published: u64,
    pub batches_resent: u64,
    pub batches_acked: u64,
    pub batches_dropped_channel: u64,
    pub batches_dropped_closed: u64,
    pub batches_dropped_spool: u64,
    pub points_dropped_channel: u64,
    pub points_dropped_spool: u64,
    pub batches_dropped_unconfirmed: u64,
    pub points_dropped_unconfirmed: u64,
    pub spool_errors: u64,
    pub encode_errors: u64,
    pub buffered: u64,
    pub spool_bytes: u64,
    pub writes_ok: u64,
    pub writes_rejected: u64,
    pub writes_failed: u64,
    pub commands_dropped: u64,
}

/// Adds `n` to a counter.
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Adds one to a counter.
pub(crate) fn inc(counter: &AtomicU64) {
    add(counter, 1);
}

impl Metrics {
    /// Copies every counter.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            polls: g(&self.polls),
            overruns: g(&self.overruns),
            requests: g(&self.requests),
            request_timeouts: g(&self.request_timeouts),
            request_transport_errors: g(&self.request_transport_errors),
            request_protocol_errors: g(&self.request_protocol_errors),
            request_exceptions: g(&self.request_exceptions),
            connect_errors: g(&self.connect_errors),
            points: g(&self.points),
            batches_published: g(&self.batches_published),
            batches_resent: g(&self.batches_resent),
            batches_acked: g(&self.batches_acked),
            batches_dropped_channel: g(&self.batches_dropped_channel),
            batches_dropped_closed: g(&self.batches_dropped_closed),
            batches_dropped_spool: g(&self.batches_dropped_spool),
            points_dropped_channel: g(&self.points_dropped_channel),
            points_dropped_spool: g(&self.points_dropped_spool),
            batches_dropped_unconfirmed: g(&self.batches_dropped_unconfirmed),
            points_dropped_unconfirmed: g(&self.points_dropped_unconfirmed),
            spool_errors: g(&self.spool_errors),
            encode_errors: g(&self.encode_errors),
            buffered: g(&self.buffered),
            spool_bytes: g(&self.spool_bytes),
            writes_ok: g(&self.writes_ok),
            writes_rejected: g(&self.writes_rejected),
            writes_failed: g(&self.writes_failed),
            commands_dropped: g(&self.commands_dropped),
        }
    }

    /// Logs every counter on one line at info.
    pub fn log_summary(&self) {
        let s = self.snapshot();
        tracing::info!(
            polls = s.polls,
            overruns = s.overruns,
            requests = s.requests,
            timeouts = s.request_timeouts,
            transport_errors = s.request_transport_errors,
            protocol_errors = s.request_protocol_errors,
            exceptions = s.request_exceptions,
            connect_errors = s.connect_errors,
            points = s.points,
            published = s.batches_published,
            resent = s.batches_resent,
            acked = s.batches_acked,
            dropped_channel = s.batches_dropped_channel,
            dropped_closed = s.batches_dropped_closed,
            dropped_spool = s.batches_dropped_spool,
            points_dropped_channel = s.points_dropped_channel,
            points_dropped_spool = s.points_dropped_spool,
            dropped_unconfirmed = s.batches_dropped_unconfirmed,
            spool_errors = s.spool_errors,
            encode_errors = s.encode_errors,
            spooled = s.buffered,
            spool_bytes = s.spool_bytes,
            writes_ok = s.writes_ok,
            writes_rejected = s.writes_rejected,
            writes_failed = s.writes_failed,
            commands_dropped = s.commands_dropped,
            "counters"
        );
    }
}

impl Metrics {
    /// The spool figures of the status message: `depth`/`bytes` as the spool holds them
    /// now, drops as counted since start.
    pub fn spool_status(&self, depth_batches: u64, depth_bytes: u64) -> SpoolStatus {
        let s = self.snapshot();
        SpoolStatus {
            depth_batches,
            depth_bytes,
            dropped_batches: s.batches_dropped(),
            dropped_points: s.points_dropped(),
            dropped_unconfirmed_batches: s.batches_dropped_unconfirmed,
            dropped_unconfirmed_points: s.points_dropped_unconfirmed,
        }
    }
}

impl MetricsSnapshot {
    /// Points dropped anywhere.
    pub fn points_dropped(&self) -> u64 {
        self.points_dropped_channel + self.points_dropped_spool
    }

    /// Batches dropped anywhere.
    pub fn batches_dropped(&self) -> u64 {
        self.batches_dropped_channel + self.batches_dropped_closed + self.batches_dropped_spool
    }
}
