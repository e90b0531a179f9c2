//! Capped exponential backoff with jitter, I/O-free.
//!
//! The n-th delay (from 0) is drawn uniformly from `[max(min, base/2), base]` where
//! `base = min(min * 2^n, max)`: the first delay is exactly `min`, later ones spread out so
//! that devices that failed together don't retry together. [`Backoff::reset`] starts over
//! after a success. Randomness comes from a small seeded generator, so tests are
//! deterministic and no RNG dependency is needed.

use std::time::Duration;

use crate::settings::BackoffSettings;

/// Reconnect delay generator.
#[derive(Debug, Clone)]
pub struct Backoff {
    settings: BackoffSettings,
    attempt: u32,
    rng: SplitMix64,
}

impl Backoff {
    /// A backoff between `settings.min` and `settings.max`; `seed` drives the jitter.
    pub fn new(settings: BackoffSettings, seed: u64) -> Self {
        Self {
            settings,
            attempt: 0,
            rng: SplitMix64(seed),
        }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let BackoffSettings { min, max } = self.settings;
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        let base = min.checked_mul(factor).unwrap_or(max).min(max).max(min);
        self.attempt = self.attempt.saturating_add(1);
        let low = (base / 2).max(min).min(base);
        let spread = base.saturating_sub(low).as_nanos();
        if spread == 0 {
            return base;
        }
        let jitter = u128::from(self.rng.next()) % (spread + 1);
        low + Duration::from_nanos(u64::try_from(jitter).unwrap_or(u64::MAX))
    }

    /// Starts over from `min` (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// Failed attempts since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, good enough for jitter.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A seed mixing the current time with `salt` (e.g. a device index).
pub fn seed(salt: u64) -> u64 {
    let now = u64::try_from(protocols::model::now_ns()).unwrap_or_default();
    SplitMix64(now ^ salt.rotate_left(32)).next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn grows_within_bounds_and_resets() {
        let mut b = Backoff::new(
            BackoffSettings {
                min: ms(500),
                max: ms(30_000),
            },
            7,
        );
        assert_eq!(b.next_delay(), ms(500));
        let mut prev_base = ms(500);
        for _ in 0..20 {
            let d = b.next_delay();
            let base = (prev_base * 2).min(ms(30_000));
            assert!(
                d >= (base / 2).max(ms(500)) && d <= base,
                "{d:?} vs {base:?}"
            );
            prev_base = base;
        }
        assert!(b.attempts() > 20);
        b.reset();
        assert_eq!(b.next_delay(), ms(500));
    }

    #[test]
    fn jitter_spreads_delays_and_is_deterministic_per_seed() {
        let delays = |seed| {
            let mut b = Backoff::new(
                BackoffSettings {
                    min: ms(100),
                    max: ms(10_000),
                },
                seed,
            );
            (0..8).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(delays(1), delays(1));
        assert_ne!(delays(1), delays(2));
    }

    #[test]
    fn equal_bounds_and_huge_attempt_counts_are_safe() {
        let mut b = Backoff::new(
            BackoffSettings {
                min: ms(50),
                max: ms(50),
            },
            3,
        );
        for _ in 0..100 {
            assert_eq!(b.next_delay(), ms(50));
        }
        let mut b = Backoff::new(
            BackoffSettings {
                min: Duration::from_secs(3600),
                max: Duration::MAX,
            },
            3,
        );
        for _ in 0..100 {
            assert!(b.next_delay() >= Duration::from_secs(3600));
        }
    }
}
