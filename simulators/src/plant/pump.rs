//! Pump model: a centrifugal pump whose flow follows a slowly varying demand
//! while running, discharge pressure rises with speed squared over a static
//! head, bearing temperature lags towards a speed-dependent target, run hours
//! accumulate while running, and a low-suction alarm appears briefly when the
//! (simulated) suction level dips.

use std::f64::consts::TAU;

use super::dynamics::{RunSchedule, lag, load_profile, vibration, wave};
use super::encoding::SignalValue;
use super::prng::{Noise, Stream};

const P_FLOW: Stream = 200;
const P_STATIC: Stream = 201;
const P_RATED_PRESSURE: Stream = 202;
const P_CURRENT: Stream = 203;
const P_AMBIENT: Stream = 204;
const P_RISE: Stream = 205;
const P_VIBRATION: Stream = 206;
const P_HOURS: Stream = 207;
const P_SUCTION_PHASE: Stream = 208;
const N_FLOW: Stream = 210;
const N_PRESSURE: Stream = 211;
const N_CURRENT: Stream = 212;
const N_TEMP: Stream = 213;

/// Hours added per running tick (one tick is one nominal second).
const HOURS_PER_TICK: f64 = 1.0 / 3600.0;
/// Period of the suction level oscillation, ticks.
const SUCTION_PERIOD: f64 = 1300.0;
/// Suction wave level above which the low-suction alarm is raised.
const SUCTION_ALARM_LEVEL: f64 = 0.97;
/// Time constants in ticks.
const TAU_SPEED: f64 = 3.0;
const TAU_BEARING: f64 = 200.0;

/// State of one pump.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pump {
    rated_flow: f64,
    static_head: f64,
    rated_pressure: f64,
    rated_current: f64,
    ambient: f64,
    rise: f64,
    vibration_base: f64,
    suction_phase: f64,
    schedule: RunSchedule,
    speed: f64,
    flow: f64,
    pressure: f64,
    current: f64,
    bearing_temp: f64,
    vibration: f64,
    run_hours: f64,
    low_suction: bool,
}

impl Pump {
    /// The pump at tick 0: running at full speed, warm.
    pub(crate) fn start(noise: Noise) -> Self {
        let mut pump = Self {
            rated_flow: noise.param(P_FLOW, 20.0, 250.0),
            static_head: noise.param(P_STATIC, 0.3, 1.2),
            rated_pressure: noise.param(P_RATED_PRESSURE, 3.0, 8.0),
            rated_current: noise.param(P_CURRENT, 5.0, 60.0),
            ambient: noise.param(P_AMBIENT, 18.0, 28.0),
            rise: noise.param(P_RISE, 15.0, 30.0),
            vibration_base: noise.param(P_VIBRATION, 0.8, 4.0),
            suction_phase: noise.param(P_SUCTION_PHASE, 0.0, TAU),
            schedule: RunSchedule::start(noise),
            speed: 1.0,
            flow: 0.0,
            pressure: 0.0,
            current: 0.0,
            bearing_temp: 0.0,
            vibration: 0.0,
            run_hours: noise.param(P_HOURS, 500.0, 30_000.0),
            low_suction: false,
        };
        pump.measure(noise, 0);
        pump.bearing_temp = pump.bearing_target();
        pump
    }

    /// Advances the model to `tick`.
    pub(crate) fn step(&mut self, noise: Noise, tick: u64) {
        self.schedule.step(noise, tick);
        let running = self.schedule.running();
        self.speed = lag(self.speed, if running { 1.0 } else { 0.0 }, TAU_SPEED);
        if !running && self.speed < 0.01 {
            self.speed = 0.0;
        }
        self.measure(noise, tick);
        self.bearing_temp = lag(self.bearing_temp, self.bearing_target(), TAU_BEARING)
            + noise.symmetric(N_TEMP, tick, 0.05);
        if running {
            self.run_hours += HOURS_PER_TICK;
        }
    }

    fn measure(&mut self, noise: Noise, tick: u64) {
        let running = self.schedule.running();
        let demand = load_profile(noise, tick);
        self.flow = if self.speed > 0.0 {
            let ideal = self.rated_flow * self.speed * demand;
            (ideal * (1.0 + noise.symmetric(N_FLOW, tick, 0.005))).max(0.0)
        } else {
            0.0
        };
        // More demand (open valves) means a lower discharge pressure.
        let head = (self.rated_pressure - self.static_head) * self.speed * self.speed;
        self.pressure = (self.static_head
            + head * (1.25 - 0.3 * demand)
            + noise.symmetric(N_PRESSURE, tick, 0.02))
        .max(0.0);
        self.current = if running {
            let ideal = self.rated_current * (0.35 + 0.55 * demand) * self.speed;
            (ideal * (1.0 + noise.symmetric(N_CURRENT, tick, 0.01))).max(0.0)
        } else {
            0.0
        };
        self.vibration = vibration(noise, tick, self.vibration_base, self.speed);
        let suction_dip = wave(tick, SUCTION_PERIOD, self.suction_phase);
        self.low_suction = running && suction_dip > SUCTION_ALARM_LEVEL;
    }

    fn bearing_target(&self) -> f64 {
        self.ambient + self.rise * self.speed
    }

    /// The current value of the named signal (see `layout::PUMP`).
    pub(crate) fn value(&self, name: &str) -> Option<SignalValue> {
        use SignalValue::{Bool, Number};
        Some(match name {
            "running" => Bool(self.schedule.running()),
            "low_suction_alarm" => Bool(self.low_suction),
            "flow" => Number(self.flow),
            "discharge_pressure" => Number(self.pressure),
            "motor_current" => Number(self.current),
            "bearing_temp" => Number(self.bearing_temp),
            "vibration_rms" => Number(self.vibration),
            "run_hours" => Number(self.run_hours),
            _ => return None,
        })
    }
}
