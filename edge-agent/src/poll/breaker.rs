//! The per-unit circuit breaker of a shared bus: I/O-free, time passed in.
//!
//! On an RTU line or a gateway, every request to a unit that does not answer holds the bus
//! for a whole timeout, which the other units pay for. So after `threshold` (the device's
//! `breaker_timeouts`, default 3; 0 turns the breaker off) consecutive
//! timeouts the unit's circuit opens: its polls are skipped (its tags go bad
//! with [`Breaker::reason`]) until a probe is due; the probe delay doubles after each failed
//! probe, from [`Breaker::FIRST_PROBE`] up to the cap. One answer (data or an exception)
//! closes the circuit.

use std::time::{Duration, Instant};

/// The breaker of one unit.
#[derive(Debug, Clone)]
pub(crate) struct Breaker {
    threshold: u32,
    cap: Duration,
    /// Consecutive timeouts.
    timeouts: u32,
    /// When open: the time of the next probe and the delay that led to it.
    open: Option<(Instant, Duration)>,
}

/// What a timeout did to the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tripped {
    /// Still closed (below the threshold).
    No,
    /// Opened now (it was closed).
    Opened(Duration),
    /// A probe failed; open again for this long.
    StillOpen(Duration),
}

impl Breaker {
    /// First delay before a probe.
    pub(crate) const FIRST_PROBE: Duration = Duration::from_secs(5);

    /// A closed breaker that opens after `threshold` consecutive timeouts (never if 0) and
    /// whose probe delay grows up to `cap` (at least the first delay).
    pub(crate) fn new(threshold: u32, cap: Duration) -> Self {
        Self {
            threshold,
            cap: cap.max(Self::FIRST_PROBE),
            timeouts: 0,
            open: None,
        }
    }

    /// Whether the unit may be polled at `now` (closed, or open with a probe due).
    pub(crate) fn allows(&self, now: Instant) -> bool {
        self.open.is_none_or(|(probe_at, _)| now >= probe_at)
    }

    /// Whether the circuit is open.
    #[cfg(test)]
    pub(crate) fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// The unit answered: close.
    pub(crate) fn answered(&mut self) -> bool {
        self.timeouts = 0;
        self.open.take().is_some()
    }

    /// The unit timed out at `now`.
    pub(crate) fn timed_out(&mut self, now: Instant) -> Tripped {
        self.timeouts = self.timeouts.saturating_add(1);
        match self.open {
            Some((_, last)) => {
                let delay = (last * 2).min(self.cap);
                self.open = Some((now + delay, delay));
                Tripped::StillOpen(delay)
            }
            None if self.threshold > 0 && self.timeouts >= self.threshold => {
                let delay = Self::FIRST_PROBE.min(self.cap);
                self.open = Some((now + delay, delay));
                Tripped::Opened(delay)
            }
            None => Tripped::No,
        }
    }

    /// The quality reason while open: `unit 7 not answering; circuit open, next probe in 20s`.
    pub(crate) fn reason(&self, unit: u8, now: Instant) -> String {
        let next = self
            .open
            .map_or(Duration::ZERO, |(at, _)| at.saturating_duration_since(now));
        format!(
            "unit {unit} not answering; circuit open, next probe in {}",
            humantime::format_duration(Duration::from_secs(next.as_secs().max(1)))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_probes_with_backoff_and_closes_on_an_answer() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut b = Breaker::new(3, s(20));
        assert!(b.allows(t0));
        assert_eq!(b.timed_out(t0), Tripped::No);
        assert_eq!(b.timed_out(t0), Tripped::No);
        assert!(b.allows(t0) && !b.is_open());
        assert_eq!(b.timed_out(t0), Tripped::Opened(s(5)));
        assert!(!b.allows(t0 + s(4)));
        assert_eq!(
            b.reason(7, t0 + s(1)),
            "unit 7 not answering; circuit open, next probe in 4s"
        );
        assert!(b.allows(t0 + s(5)));
        // Failed probes double the delay up to the cap.
        assert_eq!(b.timed_out(t0 + s(5)), Tripped::StillOpen(s(10)));
        assert!(!b.allows(t0 + s(14)) && b.allows(t0 + s(15)));
        assert_eq!(b.timed_out(t0 + s(15)), Tripped::StillOpen(s(20)));
        assert_eq!(b.timed_out(t0 + s(35)), Tripped::StillOpen(s(20)));
        // One answer closes it and the count starts over.
        assert!(b.answered());
        assert!(b.allows(t0 + s(36)) && !b.is_open());
        assert!(!b.answered());
        assert_eq!(b.timed_out(t0 + s(36)), Tripped::No);
        // An answer between timeouts resets the count.
        b.answered();
        b.timed_out(t0);
        b.timed_out(t0);
        b.answered();
        assert_eq!(b.timed_out(t0), Tripped::No);

        // Threshold 0: never opens.
        let mut off = Breaker::new(0, s(20));
        for _ in 0..10 {
            assert_eq!(off.timed_out(t0), Tripped::No);
        }
        assert!(off.allows(t0));
    }
}
