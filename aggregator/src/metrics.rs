//! Prometheus metrics of one aggregator instance.
//!
//! One [`Metrics`] value per aggregator, passed to each subsystem (no globals), so several
//! aggregators can run in one test process. Names are constants; prometheus-client appends
//! `_total` to counters when encoding, so [`POINTS_RECEIVED`] is exposed as
//! `sentia_points_received_total`. The ingest queue is observed with a pushed/popped counter
//! pair (depth = pushed - popped) rather than a sampled gauge.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Connected `/api/v1/live` clients (gauge).
pub const LIVE_CLIENTS: &str = "sentia_live_clients";
/// Live clients closed for being too slow (exposed with `_total`).
pub const LIVE_SLOW_CLIENTS: &str = "sentia_live_slow_clients";
/// Live updates replaced by a newer value before the client took them (`_total`).
pub const LIVE_COALESCED: &str = "sentia_live_coalesced";
/// Points in accepted batches (exposed with `_total`).
pub const POINTS_RECEIVED: &str = "sentia_points_received";
/// Points newly written to storage.
pub const POINTS_STORED: &str = "sentia_points_stored";
/// Points already in storage (re-delivered batches), not written again.
pub const POINTS_DUPLICATE: &str = "sentia_points_duplicate";
/// Accepted point batches.
pub const BATCHES_RECEIVED: &str = "sentia_batches_received";
/// Rejected MQTT messages, labelled `reason` (a `CodecError::label`, `topic_mismatch` or `bad_topic`).
pub const DECODE_ERRORS: &str = "sentia_decode_errors";
/// Batches that went missing: a `seq` jumped ahead within an agent session.
pub const SEQ_GAPS: &str = "sentia_seq_gaps";
/// Missing batches that arrived later (replayed backlog). Outstanding = gaps - filled.
pub const SEQ_GAPS_FILLED: &str = "sentia_seq_gaps_filled";
/// Write-batch commit latency, seconds.
pub const STORE_LATENCY: &str = "sentia_store_latency_seconds";
/// Points per committed write batch.
pub const STORE_BATCH_POINTS: &str = "sentia_store_batch_points";
/// Points the database refused permanently (their messages were acked and dropped),
/// labelled `reason` (`data_exception`, `integrity_violation`, `encode`).
pub const POINTS_REJECTED: &str = "sentia_points_rejected";
/// MQTT messages whose content the database refused permanently, labelled `reason`.
pub const MESSAGES_REJECTED: &str = "sentia_messages_rejected";
/// Points stamped further in the future than `ingest.max_future_skew`: stored, but kept out
/// of the latest-value cache.
pub const POINTS_FUTURE_TS: &str = "sentia_points_future_ts";
/// Failed write attempts (transient ones are retried).
pub const STORE_ERRORS: &str = "sentia_store_errors";
/// Messages put on the ingest → writer queue.
pub const INGEST_QUEUE_PUSHED: &str = "sentia_ingest_queue_pushed";
/// Messages taken off the ingest → writer queue.
pub const INGEST_QUEUE_POPPED: &str = "sentia_ingest_queue_popped";
/// Successful MQTT (re)connections.
pub const MQTT_CONNECTS: &str = "sentia_mqtt_connects";
/// MQTT publishes received, any topic or payload.
pub const MQTT_MESSAGES: &str = "sentia_mqtt_messages_received";
/// Label key of [`DECODE_ERRORS`], [`POINTS_REJECTED`] and [`MESSAGES_REJECTED`].
pub const LABEL_REASON: &str = "reason";

type ReasonLabels = [(&'static str, &'static str); 1];

/// Every metric of one aggregator, plus the registry that encodes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub(crate) points_received: Counter,
    pub(crate) points_stored: Counter,
    pub(crate) points_duplicate: Counter,
    pub(crate) batches_received: Counter,
    decode_errors: Family<ReasonLabels, Counter>,
    pub(crate) seq_gaps: Counter,
    pub(crate) seq_gaps_filled: Counter,
    pub(crate) store_latency: Histogram,
    pub(crate) store_batch_points: Histogram,
    pub(crate) store_errors: Counter,
    points_rejected: Family<ReasonLabels, Counter>,
    messages_rejected: Family<ReasonLabels, Counter>,
    pub(crate) points_future_ts: Counter,
    pub(crate) queue_pushed: Counter,
    pub(crate) queue_popped: Counter,
    pub(crate) mqtt_connects: Counter,
    pub(crate) mqtt_messages: Counter,
    pub(crate) live_clients: Gauge,
    pub(crate) live_slow_clients: Counter,
    pub(crate) live_coalesced: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric at zero.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let m = Self {
            points_received: Counter::default(),
            points_stored: Counter::default(),
            points_duplicate: Counter::default(),
            batches_received: Counter::default(),
            decode_errors: Family::default(),
            seq_gaps: Counter::default(),
            seq_gaps_filled: Counter::default(),
            // 0.5 ms .. ~16 s
            store_latency: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            // 1 .. 65536 points
            store_batch_points: Histogram::new(exponential_buckets(1.0, 4.0, 9)),
            store_errors: Counter::default(),
            points_rejected: Family::default(),
            messages_rejected: Family::default(),
            points_future_ts: Counter::default(),
            queue_pushed: Counter::default(),
            queue_popped: Counter::default(),
            mqtt_connects: Counter::default(),
            mqtt_messages: Counter::default(),
            live_clients: Gauge::default(),
            live_slow_clients: Counter::default(),
            live_coalesced: Counter::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            POINTS_RECEIVED,
            "Points in accepted batches",
            m.points_received.clone(),
        );
        r.register(
            POINTS_STORED,
            "Points newly written to storage",
            m.points_stored.clone(),
        );
        r.register(
            POINTS_DUPLICATE,
            "Points already stored (re-delivered), not written again",
            m.points_duplicate.clone(),
        );
        r.register(
            BATCHES_RECEIVED,
            "Accepted point batches",
            m.batches_received.clone(),
        );
        r.register(
            DECODE_ERRORS,
            "Rejected MQTT messages by reason",
            m.decode_errors.clone(),
        );
        r.register(
            SEQ_GAPS,
            "Batches that went missing (seq jumped ahead within an agent session)",
            m.seq_gaps.clone(),
        );
        r.register(
            SEQ_GAPS_FILLED,
            "Missing batches that arrived later; outstanding loss is gaps minus filled",
            m.seq_gaps_filled.clone(),
        );
        r.register(
            STORE_LATENCY,
            "Write batch commit latency in seconds",
            m.store_latency.clone(),
        );
        r.register(
            STORE_BATCH_POINTS,
            "Points per committed write batch",
            m.store_batch_points.clone(),
        );
        r.register(
            STORE_ERRORS,
            "Failed write attempts (transient ones are retried)",
            m.store_errors.clone(),
        );
        r.register(
            POINTS_REJECTED,
            "Points the database refused permanently, by reason",
            m.points_rejected.clone(),
        );
        r.register(
            MESSAGES_REJECTED,
            "MQTT messages the database refused permanently, by reason",
            m.messages_rejected.clone(),
        );
        r.register(
            POINTS_FUTURE_TS,
            "Points stamped too far in the future: stored, not used as latest value",
            m.points_future_ts.clone(),
        );
        r.register(
            INGEST_QUEUE_PUSHED,
            "Messages put on the ingest to writer queue",
            m.queue_pushed.clone(),
        );
        r.register(
            INGEST_QUEUE_POPPED,
            "Messages taken off the ingest to writer queue",
            m.queue_popped.clone(),
        );
        r.register(
            MQTT_CONNECTS,
            "Successful MQTT connections",
            m.mqtt_connects.clone(),
        );
        r.register(
            MQTT_MESSAGES,
            "MQTT publishes received",
            m.mqtt_messages.clone(),
        );
        r.register(
            LIVE_CLIENTS,
            "Connected live (WebSocket) clients",
            m.live_clients.clone(),
        );
        r.register(
            LIVE_SLOW_CLIENTS,
            "Live clients disconnected because they did not take their values in time",
            m.live_slow_clients.clone(),
        );
        r.register(
            LIVE_COALESCED,
            "Live updates replaced by a newer value before a slow client took them",
            m.live_coalesced.clone(),
        );
        Self { registry, ..m }
    }

    /// Counts one rejected message.
    pub(crate) fn decode_error(&self, reason: &'static str) {
        self.decode_errors
            .get_or_create(&[(LABEL_REASON, reason)])
            .inc();
    }

    /// Counts one message (and its points) the database refused permanently.
    pub(crate) fn rejected(&self, reason: &'static str, points: u64) {
        let labels = [(LABEL_REASON, reason)];
        self.messages_rejected.get_or_create(&labels).inc();
        self.points_rejected.get_or_create(&labels).inc_by(points);
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn exposes_names_with_total_suffix_and_labels() {
        let m = Metrics::new();
        m.points_received.inc_by(3);
        m.decode_error("malformed_json");
        m.store_latency.observe(0.002);
        let text = m.encode().unwrap();
        assert!(text.contains("sentia_points_received_total 3\n"), "{text}");
        assert!(
            text.contains("sentia_decode_errors_total{reason=\"malformed_json\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("sentia_store_latency_seconds_count 1\n"),
            "{text}"
        );
        assert!(
            text.contains("sentia_ingest_queue_pushed_total 0\n"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }
}
