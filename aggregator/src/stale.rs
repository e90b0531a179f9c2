//! Stale-data rule: a tag is stale when its latest value was received longer ago than
//! `after_intervals` × the tag's poll interval (from the catalogue, [`DEFAULT_POLL_INTERVAL_MS`]
//! when unknown), but never sooner than `min` after it arrived. The floor absorbs publish
//! batching and transport latency, which for fast-polled tags (100 ms) would otherwise flip
//! them to stale on any hiccup.
//!
//! I/O-free: the receive time and "now" are passed in. Used by `/api/v1/latest` (per tag)
//! and by asset status ([`crate::assets`]). Configured as `[ingest] stale_after_intervals`
//! and `stale_min`.

use std::time::Duration;

use protocols::model::TimestampNs;

/// Poll interval assumed for tags without catalogue metadata.
pub const DEFAULT_POLL_INTERVAL_MS: u32 = 1000;
/// Default `ingest.stale_after_intervals`.
pub const DEFAULT_STALE_AFTER_INTERVALS: f64 = 3.0;
/// Default `ingest.stale_min` (3 × the default poll interval).
pub const DEFAULT_STALE_MIN: Duration = Duration::from_secs(3);

/// When a tag's latest value counts as stale (validated: `after_intervals` > 1, finite).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StaleRule {
    /// Multiple of the poll interval without an update after which a tag is stale.
    pub after_intervals: f64,
    /// Shortest time without an update after which a tag is stale.
    pub min: Duration,
}

impl Default for StaleRule {
    fn default() -> Self {
        Self {
            after_intervals: DEFAULT_STALE_AFTER_INTERVALS,
            min: DEFAULT_STALE_MIN,
        }
    }
}

impl StaleRule {
    /// How long a tag polled every `poll_interval_ms` (`None` or 0: unknown) may go without
    /// an update, in nanoseconds.
    pub fn stale_after_ns(&self, poll_interval_ms: Option<u32>) -> i64 {
        let poll_ms = match poll_interval_ms {
            Some(ms) if ms > 0 => ms,
            _ => DEFAULT_POLL_INTERVAL_MS,
        };
        // f64 → i64 `as` saturates; the values are validated finite and positive.
        let by_interval = (self.after_intervals * f64::from(poll_ms) * 1e6) as i64;
        let floor = i64::try_from(self.min.as_nanos()).unwrap_or(i64::MAX);
        by_interval.max(floor)
    }

    /// Whether a value received at `receive_ts_ns` is stale at `now_ns`.
    pub fn is_stale(
        &self,
        poll_interval_ms: Option<u32>,
        receive_ts_ns: TimestampNs,
        now_ns: TimestampNs,
    ) -> bool {
        now_ns.saturating_sub(receive_ts_ns) > self.stale_after_ns(poll_interval_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;
    const SEC: i64 = 1_000_000_000;

    #[test]
    fn default_rule_with_explicit_times() {
        let r = StaleRule::default();
        let now = 1_000 * SEC;
        // 100 ms polling: 300 ms by interval, but the 3 s floor wins.
        assert_eq!(r.stale_after_ns(Some(100)), 3 * SEC);
        assert!(
            !r.is_stale(Some(100), now - 3 * SEC, now),
            "exactly at the limit"
        );
        assert!(r.is_stale(Some(100), now - 3 * SEC - 1, now));
        // Unknown (or 0) interval: 1 s assumed → 3 s.
        assert_eq!(r.stale_after_ns(None), 3 * SEC);
        assert_eq!(r.stale_after_ns(Some(0)), 3 * SEC);
        // Slow polling stretches it: 60 s → 180 s.
        assert!(!r.is_stale(Some(60_000), now - 179 * SEC, now));
        assert!(r.is_stale(Some(60_000), now - 181 * SEC, now));
        // A receive time in the future (clock step) is never stale.
        assert!(!r.is_stale(Some(100), now + SEC, now));
    }

    #[test]
    fn fractional_multiple_and_small_floor() {
        let r = StaleRule {
            after_intervals: 2.5,
            min: Duration::from_millis(200),
        };
        let now = 50 * SEC;
        assert_eq!(r.stale_after_ns(Some(100)), 250 * MS);
        assert!(!r.is_stale(Some(100), now - 250 * MS, now));
        assert!(r.is_stale(Some(100), now - 251 * MS, now));
        // The floor still applies to very fast polling: 2.5 × 10 ms < 200 ms.
        assert_eq!(r.stale_after_ns(Some(10)), 200 * MS);
        assert!(!r.is_stale(Some(10), now - 150 * MS, now));
        assert!(r.is_stale(Some(10), now - 201 * MS, now));
    }
}
