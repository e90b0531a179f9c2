//! Compressor model: a load/unload screw compressor. While running it loads
//! until the discharge pressure reaches the upper band limit, unloads until
//! it falls to the lower limit, and counts one cycle per unload. Stopped, it
//! sits unloaded and blows down towards 0 bar. Temperatures lag towards
//! targets set by the load percentage.

use super::dynamics::{RunSchedule, lag, vibration};
use super::encoding::SignalValue;
use super::prng::{Noise, Stream};

const P_LOW: Stream = 300;
const P_BAND: Stream = 301;
const P_CURRENT: Stream = 302;
const P_AMBIENT: Stream = 303;
const P_RISE: Stream = 304;
const P_VIBRATION: Stream = 305;
const P_RISE_RATE: Stream = 306;
const P_FALL_RATE: Stream = 307;
const P_CYCLES: Stream = 308;
const P_PRESSURE: Stream = 309;
const N_PRESSURE: Stream = 310;
const N_CURRENT: Stream = 311;
const N_TEMP: Stream = 312;
const N_LOAD: Stream = 313;

/// Discharge temperature above which the high-temperature trip is set, degC.
const TRIP_DEGC: f64 = 100.0;
/// Load percentage while running unloaded.
const UNLOADED_PERCENT: f64 = 25.0;
/// Time constants in ticks.
const TAU_LOAD: f64 = 2.0;
const TAU_BLOWDOWN: f64 = 20.0;
const TAU_DISCHARGE: f64 = 40.0;
const TAU_OIL: f64 = 120.0;

/// State of one compressor.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Compressor {
    pressure_low: f64,
    pressure_high: f64,
    rated_current: f64,
    ambient: f64,
    rise: f64,
    vibration_base: f64,
    rise_rate: f64,
    fall_rate: f64,
    schedule: RunSchedule,
    unloaded: bool,
    pressure: f64,
    load: f64,
    current: f64,
    discharge_temp: f64,
    oil_temp: f64,
    vibration: f64,
    cycles: u32,
}

impl Compressor {
    /// The compressor at tick 0: running loaded within its pressure band, warm.
    pub(crate) fn start(noise: Noise) -> Self {
        let pressure_low = noise.param(P_LOW, 6.0, 6.5);
        let pressure_high = pressure_low + noise.param(P_BAND, 0.8, 1.2);
        let mut compressor = Self {
            pressure_low,
            pressure_high,
            rated_current: noise.param(P_CURRENT, 20.0, 120.0),
            ambient: noise.param(P_AMBIENT, 20.0, 30.0),
            rise: noise.param(P_RISE, 55.0, 70.0),
            vibration_base: noise.param(P_VIBRATION, 1.0, 4.5),
            rise_rate: noise.param(P_RISE_RATE, 0.04, 0.08),
            fall_rate: noise.param(P_FALL_RATE, 0.02, 0.04),
            schedule: RunSchedule::start(noise),
            unloaded: false,
            pressure: noise.param(P_PRESSURE, pressure_low, pressure_high),
            load: 100.0,
            current: 0.0,
            discharge_temp: 0.0,
            oil_temp: 0.0,
            vibration: 0.0,
            cycles: noise.range(P_CYCLES, 0, 10_000, 500_000) as u32,
        };
        compressor.measure(noise, 0);
        // Warm from a typical duty cycle (about 75 % load on average).
        compressor.discharge_temp = compressor.ambient + compressor.rise * 0.75;
        compressor.oil_temp = compressor.ambient + 0.6 * compressor.rise * 0.75;
        compressor
    }

    /// Advances the model to `tick`.
    pub(crate) fn step(&mut self, noise: Noise, tick: u64) {
        let was_running = self.schedule.running();
        self.schedule.step(noise, tick);
        let running = self.schedule.running();
        if running && !was_running {
            self.unloaded = false;
        }
        let wobble = 1.0 + noise.symmetric(N_PRESSURE, tick, 0.1);
        if !running {
            self.unloaded = true;
            self.pressure = lag(self.pressure, 0.0, TAU_BLOWDOWN);
        } else if self.unloaded {
            self.pressure = (self.pressure - self.fall_rate * wobble).max(0.0);
            if self.pressure <= self.pressure_low {
                self.unloaded = false;
            }
        } else {
            self.pressure += self.rise_rate * wobble;
            if self.pressure >= self.pressure_high {
                self.unloaded = true;
                self.cycles = self.cycles.saturating_add(1);
            }
        }
        self.measure(noise, tick);
        let load = self.load / 100.0;
        self.discharge_temp = lag(
            self.discharge_temp,
            self.ambient + self.rise * load,
            TAU_DISCHARGE,
        ) + noise.symmetric(N_TEMP, tick, 0.1);
        self.oil_temp = lag(
            self.oil_temp,
            self.ambient + 0.6 * self.rise * load,
            TAU_OIL,
        );
    }

    fn measure(&mut self, noise: Noise, tick: u64) {
        let running = self.schedule.running();
        let target = match (running, self.unloaded) {
            (false, _) => 0.0,
            (true, true) => UNLOADED_PERCENT,
            (true, false) => 100.0,
        };
        self.load = lag(self.load, target, TAU_LOAD);
        if running {
            self.load = (self.load + noise.symmetric(N_LOAD, tick, 0.5)).clamp(0.0, 100.0);
        } else if self.load < 0.1 {
            self.load = 0.0;
        }
        self.current = if running {
            let ideal = self.rated_current * (0.1 + 0.9 * self.load / 100.0);
            (ideal * (1.0 + noise.symmetric(N_CURRENT, tick, 0.01))).max(0.0)
        } else {
            0.0
        };
        let speed = if running { 1.0 } else { 0.0 };
        self.vibration = vibration(noise, tick, self.vibration_base, speed);
    }

    /// The current value of the named signal (see `layout::COMPRESSOR`).
    pub(crate) fn value(&self, name: &str) -> Option<SignalValue> {
        use SignalValue::{Bool, Number};
        Some(match name {
            "running" => Bool(self.schedule.running()),
            "unloaded" => Bool(self.unloaded),
            "high_temp_trip" => Bool(self.discharge_temp > TRIP_DEGC),
            "discharge_pressure" => Number(self.pressure),
            "discharge_temp" => Number(self.discharge_temp),
            "motor_current" => Number(self.current),
            "vibration_rms" => Number(self.vibration),
            "oil_temp" => Number(self.oil_temp),
            "cycle_count" => Number(f64::from(self.cycles)),
            "load_percent" => Number(self.load),
            _ => return None,
        })
    }
}
