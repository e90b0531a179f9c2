//! History answers: raw points or fixed-width buckets, and the bucket arithmetic.
//!
//! The range is half-open, `from_ns <= ts_ns < to_ns`, and bounded:
//! `0 <= from_ns < to_ns <= MAX_TS_NS`, so `ts_ns - from_ns` in SQL and the bucket arithmetic
//! stay far from `i64` overflow. With `W = ceil((to - from) / max_points)`
//! a point falls in bucket `(ts_ns - from) / W`, so there are at most `max_points` buckets.
//! Aggregates use good-quality numeric points only (bools as 0/1); buckets without any are
//! omitted. `last` is the value with the greatest timestamp in the bucket.

use protocols::model::TimestampNs;

use super::StoredPoint;

/// Latest history range end accepted: 2100-01-01T00:00:00Z in nanoseconds.
pub const MAX_TS_NS: TimestampNs = 4_102_444_800_000_000_000;

/// Whether `[from_ns, to_ns)` is a history range storage accepts.
pub fn valid_range(from_ns: TimestampNs, to_ns: TimestampNs) -> bool {
    0 <= from_ns && from_ns < to_ns && to_ns <= MAX_TS_NS
}

/// One bucket of aggregated points.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// First timestamp the bucket covers.
    pub start_ns: TimestampNs,
    /// End of the bucket (exclusive; the range end for the last bucket).
    pub end_ns: TimestampNs,
    /// Good numeric points in the bucket.
    pub count: u64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Mean value.
    pub avg: f64,
    /// Value of the newest point.
    pub last: f64,
}

/// A history answer.
#[derive(Debug, Clone, PartialEq)]
pub enum History {
    /// Every point in the range (any quality), oldest first.
    Raw(Vec<StoredPoint>),
    /// Aggregated buckets, oldest first, empty ones omitted.
    Buckets {
        /// Bucket width.
        width_ns: i64,
        /// The non-empty buckets.
        buckets: Vec<Bucket>,
    },
}

/// One bucket row as the database returns it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BucketRow {
    pub(crate) index: i64,
    pub(crate) count: i64,
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) avg: f64,
    pub(crate) last: f64,
}

/// `ceil((to - from) / max_points)`, at least 1. Callers ensure `from < to`.
pub fn bucket_width(from_ns: TimestampNs, to_ns: TimestampNs, max_points: u32) -> i64 {
    let span = i128::from(to_ns) - i128::from(from_ns);
    let n = i128::from(max_points.max(1));
    let width = (span + n - 1) / n;
    i64::try_from(width.max(1)).unwrap_or(i64::MAX)
}

impl History {
    pub(crate) fn from_rows(
        from_ns: TimestampNs,
        to_ns: TimestampNs,
        width_ns: i64,
        rows: Vec<BucketRow>,
    ) -> History {
        let buckets = rows
            .into_iter()
            .map(|r| {
                let start = i128::from(from_ns) + i128::from(r.index) * i128::from(width_ns);
                let end = (start + i128::from(width_ns)).min(i128::from(to_ns));
                Bucket {
                    start_ns: i64::try_from(start).unwrap_or(i64::MAX),
                    end_ns: i64::try_from(end).unwrap_or(i64::MAX),
                    count: u64::try_from(r.count).unwrap_or(0),
                    min: r.min,
                    max: r.max,
                    avg: r.avg,
                    last: r.last,
                }
            })
            .collect();
        History::Buckets { width_ns, buckets }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_rounds_up() {
        assert_eq!(bucket_width(0, 100, 10), 10);
        assert_eq!(bucket_width(0, 101, 10), 11);
        assert_eq!(bucket_width(5, 6, 1000), 1);
        assert_eq!(bucket_width(i64::MIN, i64::MAX, 1), i64::MAX);
    }

    #[test]
    fn last_bucket_ends_at_the_range_end() {
        let row = |index| BucketRow {
            index,
            count: 1,
            min: 0.0,
            max: 0.0,
            avg: 0.0,
            last: 0.0,
        };
        let History::Buckets { buckets, .. } =
            History::from_rows(1000, 1101, 11, vec![row(0), row(9)])
        else {
            unreachable!()
        };
        assert_eq!((buckets[0].start_ns, buckets[0].end_ns), (1000, 1011));
        assert_eq!((buckets[1].start_ns, buckets[1].end_ns), (1099, 1101));
    }
}
