//! Capped exponential backoff with jitter, for reconnects and write retries.
//!
//! Delays double from `base` up to `cap`, each scaled by a random factor in [0.5, 1.0) so
//! many clients do not retry in step. `reset` after a success.

use std::time::Duration;

/// Retry delay generator.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    pub(crate) fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            attempt: 0,
        }
    }

    /// The next delay, with `jitter` in [0, 1) choosing where in [0.5, 1.0) × the step it lands.
    pub(crate) fn next_with(&mut self, jitter: f64) -> Duration {
        let step = self
            .base
            .saturating_mul(1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX))
            .min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        step.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }

    /// The next delay with clock-derived jitter.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        self.next_with(f64::from(nanos % 1000) / 1000.0)
    }

    /// Back to `base` after a success.
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }

    /// Failures since the last reset.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let got: Vec<_> = (0..6).map(|_| b.next_with(1.0)).collect();
        let ms: Vec<_> = got.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.next_with(0.0), Duration::from_millis(500));
        b.reset();
        assert_eq!(b.attempts(), 0);
        assert_eq!(b.next_with(0.0), Duration::from_millis(50));
    }
}
