//! Building blocks shared by the machine models: the run/stop schedule,
//! first-order lag, a slowly varying load profile and vibration.
//!
//! Model time is counted in ticks; one tick is one nominal second whatever
//! the wall-clock tick period of the server. Random draws come from
//! [`Noise`] with the stream ids below (model files use ids from 100 up).

use std::f64::consts::TAU;

use super::prng::{Noise, Stream};

const SCHEDULE: Stream = 1;
const LOAD: Stream = 2;
const LOAD_PHASE: Stream = 3;
const VIBRATION: Stream = 4;
const VIBRATION_PHASE: Stream = 5;

/// Ticks a machine runs before stopping (inclusive range).
const RUN_TICKS: (u64, u64) = (240, 900);
/// Ticks a machine stays stopped (inclusive range).
const STOP_TICKS: (u64, u64) = (30, 150);
/// Period of the load profile, ticks.
const LOAD_PERIOD: f64 = 600.0;
/// Period of the slow vibration drift, ticks.
const VIBRATION_DRIFT_PERIOD: f64 = 3600.0;

/// Moves `current` a fraction `1/tau` of the way to `target` (tau >= 1 ticks).
pub(crate) fn lag(current: f64, target: f64, tau: f64) -> f64 {
    current + (target - current) / tau.max(1.0)
}

/// Deterministic run/stop cycle: runs for a drawn number of ticks, stops for
/// a (shorter) drawn number of ticks, repeats. Starts running at tick 0.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunSchedule {
    running: bool,
    remaining: u64,
}

impl RunSchedule {
    /// The schedule at tick 0: running.
    pub(crate) fn start(noise: Noise) -> Self {
        Self {
            running: true,
            remaining: noise.range(SCHEDULE, 0, RUN_TICKS.0, RUN_TICKS.1),
        }
    }

    /// Advances to `tick`.
    pub(crate) fn step(&mut self, noise: Noise, tick: u64) {
        self.remaining = self.remaining.saturating_sub(1);
        if self.remaining == 0 {
            self.running = !self.running;
            let (low, high) = if self.running { RUN_TICKS } else { STOP_TICKS };
            self.remaining = noise.range(SCHEDULE, tick, low, high);
        }
    }

    /// Whether the machine is commanded to run.
    pub(crate) fn running(&self) -> bool {
        self.running
    }
}

/// Process demand in roughly `[0.45, 0.95]`: a slow sine per machine plus
/// a little noise.
pub(crate) fn load_profile(noise: Noise, tick: u64) -> f64 {
    let phase = noise.param(LOAD_PHASE, 0.0, TAU);
    0.7 + 0.2 * wave(tick, LOAD_PERIOD, phase) + noise.symmetric(LOAD, tick, 0.03)
}

/// Vibration RMS in mm/s for a machine with baseline `base` at full speed:
/// scales with speed, drifts slowly by +-25 %, noisy, and a small floor
/// (background vibration) when stopped.
pub(crate) fn vibration(noise: Noise, tick: u64, base: f64, speed_fraction: f64) -> f64 {
    let phase = noise.param(VIBRATION_PHASE, 0.0, TAU);
    let drift = 1.0 + 0.25 * wave(tick, VIBRATION_DRIFT_PERIOD, phase);
    let jitter = noise.symmetric(VIBRATION, tick, 0.08);
    let floor = 0.05 + jitter.abs() * 0.25;
    floor + base * speed_fraction.clamp(0.0, 1.2) * (drift + jitter)
}

/// `sin(2 pi tick / period + phase)`.
pub(crate) fn wave(tick: u64, period: f64, phase: f64) -> f64 {
    // Precision loss only after 2^53 ticks.
    #[allow(clippy::cast_precision_loss)]
    let t = tick as f64;
    (TAU * t / period + phase).sin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_converges_monotonically() {
        let mut x = 20.0;
        for _ in 0..500 {
            let next = lag(x, 80.0, 30.0);
            assert!(next >= x && next <= 80.0);
            x = next;
        }
        assert!((x - 80.0).abs() < 0.01);
        assert_eq!(lag(5.0, 9.0, 0.0), 9.0);
    }

    #[test]
    fn schedule_alternates_within_bounds() {
        let noise = Noise::new(7, 0);
        let mut s = RunSchedule::start(noise);
        assert!(s.running());
        let mut changes = Vec::new();
        let mut last = true;
        for tick in 1..5000 {
            s.step(noise, tick);
            if s.running() != last {
                changes.push((tick, s.running()));
                last = s.running();
            }
        }
        assert!(changes.len() >= 4, "{changes:?}");
        let mut prev = 0;
        for (tick, now_running) in changes {
            let len = tick - prev;
            let (low, high) = if now_running { STOP_TICKS } else { RUN_TICKS };
            // The first run started at tick 0 rather than on a change.
            assert!(len >= low && len <= high + 1, "{len} {now_running}");
            prev = tick;
        }
    }

    #[test]
    fn profiles_stay_in_range() {
        let noise = Noise::new(1, 2);
        for tick in 0..2000 {
            let load = load_profile(noise, tick);
            assert!((0.45..=0.95).contains(&load), "{load}");
            let v = vibration(noise, tick, 3.0, 1.0);
            assert!((0.05..6.0).contains(&v), "{v}");
            assert!(vibration(noise, tick, 3.0, 0.0) < 0.1);
        }
    }
}
