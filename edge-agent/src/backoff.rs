//! Capped exponential backoff with jitter, and when to let it start over; I/O-free (time is
//! passed in).
//!
//! The n-th delay (from 0) is drawn uniformly from `[max(min, base/2), base]` where
//! `base = min(min * 2^n, max)`: the first delay is exactly `min`, later ones spread out so
//! that devices that failed together don't retry together. [`Backoff::reset`] starts over.
//! Randomness comes from a small seeded generator, so tests are deterministic and no RNG
//! dependency is needed.
//!
//! A single good cycle is no reason to start over: a flapping device would then reconnect at
//! the minimum delay every time. [`HealthyStretch`] says when to reset instead: only once the
//! peer has been healthy without interruption for a whole stretch. For a device the stretch
//! is `max(reconnect_max, HEALTHY_STRETCH_CYCLES × poll_interval)`
//! ([`HealthyStretch::for_device`]): long enough that a device failing every few cycles keeps
//! its long delays, short enough that a device back for good gets fast reconnects again
//! within a minute or so at usual settings.

use std::time::{Duration, Instant};

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

/// Poll cycles a device must stay healthy (at least) before its backoff starts over.
pub const HEALTHY_STRETCH_CYCLES: u32 = 10;

/// Decides when a [`Backoff`] may be reset: once the peer has been healthy, without
/// interruption, for `length`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthyStretch {
    length: Duration,
    /// First healthy observation since the last unhealthy one.
    since: Option<Instant>,
}

impl HealthyStretch {
    /// A stretch of `length`.
    pub fn new(length: Duration) -> Self {
        Self {
            length,
            since: None,
        }
    }

    /// The stretch for a device: `max(reconnect_max, HEALTHY_STRETCH_CYCLES × poll_interval)`.
    pub fn for_device(poll_interval: Duration, reconnect_max: Duration) -> Self {
        let cycles = poll_interval
            .checked_mul(HEALTHY_STRETCH_CYCLES)
            .unwrap_or(Duration::MAX);
        Self::new(cycles.max(reconnect_max))
    }

    /// The stretch's length.
    pub fn length(&self) -> Duration {
        self.length
    }

    /// Records a healthy observation at `now`. True once the peer has been healthy for the
    /// whole stretch (and on every healthy observation after that): reset the backoff then.
    pub fn healthy(&mut self, now: Instant) -> bool {
        let since = *self.since.get_or_insert(now);
        now.saturating_duration_since(since) >= self.length
    }

    /// Records a failure: the stretch starts over at the next healthy observation.
    pub fn unhealthy(&mut self) {
        self.since = None;
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
    fn device_stretch_is_the_longer_of_reconnect_max_and_ten_cycles() {
        let s = HealthyStretch::for_device(ms(100), ms(200));
        assert_eq!(s.length(), ms(1_000));
        let s = HealthyStretch::for_device(ms(1_000), ms(30_000));
        assert_eq!(s.length(), ms(30_000));
        let s = HealthyStretch::for_device(Duration::MAX, ms(1));
        assert_eq!(s.length(), Duration::MAX);
    }

    #[test]
    fn backoff_resets_only_after_a_healthy_stretch() {
        let t0 = Instant::now();
        let at = |n: u64| t0 + ms(n);
        let settings = BackoffSettings {
            min: ms(100),
            max: ms(1_000),
        };
        let mut b = Backoff::new(settings, 5);
        let mut stretch = HealthyStretch::new(ms(1_000));
        // A device that fails, answers one cycle, fails again: the delays keep growing.
        for cycle in 0..6u64 {
            b.next_delay();
            stretch.unhealthy();
            if stretch.healthy(at(cycle * 300)) {
                b.reset();
            }
        }
        assert_eq!(b.attempts(), 6);
        // It fails once more, then stays healthy, polled every 100 ms: no reset until 1 s of
        // uninterrupted health.
        b.next_delay();
        stretch.unhealthy();
        let start = 10_000;
        for n in 0..10 {
            assert!(!stretch.healthy(at(start + n * 100)), "reset at {n}");
        }
        assert!(stretch.healthy(at(start + 1_000)));
        b.reset();
        assert_eq!(b.next_delay(), ms(100));
        // Still healthy later: still true. One failure restarts the stretch.
        assert!(stretch.healthy(at(start + 5_000)));
        stretch.unhealthy();
        assert!(!stretch.healthy(at(start + 6_000)));
        assert!(!stretch.healthy(at(start + 6_999)));
        assert!(stretch.healthy(at(start + 7_000)));
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
