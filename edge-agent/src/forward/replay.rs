//! Pacing of backlog replay: a token bucket of `replay_rate` batches per second with a
//! tenth of a second of burst (at least one batch). I/O-free; time is passed in.

use tokio::time::{Duration, Instant};

/// How much burst the bucket holds, as time at the full rate.
const BURST: Duration = Duration::from_millis(100);

/// Allows at most `rate` backlog batches per second.
#[derive(Debug)]
pub(crate) struct Pacer {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl Pacer {
    pub(crate) fn new(rate: u32, now: Instant) -> Self {
        let rate = f64::from(rate.max(1));
        let capacity = (rate * BURST.as_secs_f64()).max(1.0);
        Self {
            rate,
            capacity,
            tokens: capacity,
            last: now,
        }
    }

    /// Takes one batch's worth if available at `now`.
    pub(crate) fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// When the next batch will be allowed.
    pub(crate) fn ready_at(&self) -> Instant {
        let missing = (1.0 - self.tokens).max(0.0);
        self.last + Duration::from_secs_f64(missing / self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_rate_after_an_initial_burst() {
        let t0 = Instant::now();
        let mut p = Pacer::new(100, t0);
        let burst = std::iter::from_fn(|| p.try_take(t0).then_some(())).count();
        assert_eq!(burst, 10);
        assert!(p.ready_at() > t0);
        let mut sent = 0;
        for ms in 1..=1000 {
            if p.try_take(t0 + Duration::from_millis(ms)) {
                sent += 1;
            }
        }
        assert!((99..=101).contains(&sent), "{sent}");
        let mut slow = Pacer::new(1, t0);
        assert!(slow.try_take(t0));
        assert!(!slow.try_take(t0 + Duration::from_millis(500)));
        assert!(slow.try_take(t0 + Duration::from_millis(1000)));
    }
}
