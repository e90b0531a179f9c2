//! Points stamped in the future (I/O-free).
//!
//! A device with a wrong clock can stamp points hours or years ahead. Such points are
//! stored (nothing is lost, history shows them) but must not become a tag's latest value:
//! the cache only moves forward in source time, so one far-future point would hide every
//! correct value after it. A point is "in the future" when its source timestamp is more
//! than `ingest.max_future_skew` after its receive time. The MQTT task counts them
//! (`sentia_points_future_ts_total`, warned about once per agent); the writer keeps them
//! out of the cache; start-up warms the cache only from points not after now + skew.

use std::time::Duration;

use protocols::model::TimestampNs;

/// The allowed lead of a source timestamp over the receive time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FutureSkew {
    max_ns: i64,
}

impl FutureSkew {
    pub(crate) fn new(max: Duration) -> Self {
        Self {
            max_ns: i64::try_from(max.as_nanos()).unwrap_or(i64::MAX),
        }
    }

    /// Whether a point sampled at `ts_ns` and received at `recv_ns` is too far ahead.
    pub(crate) fn is_future(self, ts_ns: TimestampNs, recv_ns: TimestampNs) -> bool {
        ts_ns.saturating_sub(recv_ns) > self.max_ns
    }

    /// The newest source timestamp acceptable for something received at `recv_ns`.
    pub(crate) fn limit(self, recv_ns: TimestampNs) -> TimestampNs {
        recv_ns.saturating_add(self.max_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_beyond_the_skew_is_future() {
        let s = FutureSkew::new(Duration::from_secs(300));
        let sec = 1_000_000_000;
        assert!(!s.is_future(1000 * sec, 1000 * sec));
        assert!(!s.is_future(1300 * sec, 1000 * sec));
        assert!(s.is_future(1300 * sec + 1, 1000 * sec));
        assert!(!s.is_future(i64::MIN, i64::MAX));
        assert!(s.is_future(i64::MAX, i64::MIN));
        assert_eq!(s.limit(i64::MAX), i64::MAX);
        assert_eq!(s.limit(0), 300 * sec);
    }
}
