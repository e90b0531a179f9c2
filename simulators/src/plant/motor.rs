//! Motor model: speed ramps to a fixed per-machine setpoint while running and
//! coasts to zero when stopped; current follows the load profile; winding and
//! bearing temperatures lag towards load-dependent targets; a multi-turn
//! encoder (65536 counts per revolution) wraps through the i32 range; parts
//! are counted while running.

use super::dynamics::{RunSchedule, lag, load_profile, vibration};
use super::encoding::SignalValue;
use super::prng::{Noise, Stream};

const P_SETPOINT: Stream = 100;
const P_CURRENT: Stream = 101;
const P_AMBIENT: Stream = 102;
const P_RISE: Stream = 103;
const P_VIBRATION: Stream = 104;
const P_PART_RATE: Stream = 105;
const P_POSITION: Stream = 106;
const P_PARTS: Stream = 107;
const N_SPEED: Stream = 110;
const N_CURRENT: Stream = 111;
const N_TEMP: Stream = 112;

/// Setpoints a motor may be configured with, rpm.
const SETPOINTS: [f64; 4] = [960.0, 1450.0, 1480.0, 2950.0];
/// Encoder counts per shaft revolution.
const COUNTS_PER_REV: f64 = 65536.0;
/// Winding temperature above which the overtemperature alarm is raised, degC.
const OVERTEMP_DEGC: f64 = 80.0;
/// Time constants in ticks.
const TAU_SPEED: f64 = 3.0;
const TAU_WINDING: f64 = 90.0;
const TAU_BEARING: f64 = 180.0;

/// State of one motor.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Motor {
    setpoint: f64,
    rated_current: f64,
    ambient: f64,
    rise: f64,
    vibration_base: f64,
    part_rate: f64,
    schedule: RunSchedule,
    speed: f64,
    speed_measured: f64,
    current: f64,
    winding_temp: f64,
    bearing_temp: f64,
    vibration: f64,
    position: i32,
    parts: u32,
    part_fraction: f64,
}

impl Motor {
    /// The motor at tick 0: running at setpoint, warm.
    pub(crate) fn start(noise: Noise) -> Self {
        let setpoint = SETPOINTS[(noise.bits(P_SETPOINT, 0) % 4) as usize];
        let mut motor = Self {
            setpoint,
            rated_current: noise.param(P_CURRENT, 8.0, 90.0),
            ambient: noise.param(P_AMBIENT, 20.0, 28.0),
            rise: noise.param(P_RISE, 40.0, 70.0),
            vibration_base: noise.param(P_VIBRATION, 0.8, 3.5),
            part_rate: noise.param(P_PART_RATE, 0.2, 1.0),
            schedule: RunSchedule::start(noise),
            speed: setpoint,
            speed_measured: setpoint,
            current: 0.0,
            winding_temp: 0.0,
            bearing_temp: 0.0,
            vibration: 0.0,
            position: i32::from_be_bytes(((noise.bits(P_POSITION, 0) >> 32) as u32).to_be_bytes()),
            parts: noise.range(P_PARTS, 0, 1_000, 250_000) as u32,
            part_fraction: 0.0,
        };
        motor.measure(noise, 0);
        motor.winding_temp = motor.winding_target();
        motor.bearing_temp = motor.bearing_target();
        motor
    }

    /// Advances the model to `tick`.
    pub(crate) fn step(&mut self, noise: Noise, tick: u64) {
        self.schedule.step(noise, tick);
        let target = if self.schedule.running() {
            self.setpoint
        } else {
            0.0
        };
        self.speed = lag(self.speed, target, TAU_SPEED);
        if target == 0.0 && self.speed < 1.0 {
            self.speed = 0.0;
        }
        self.measure(noise, tick);
        self.winding_temp = lag(self.winding_temp, self.winding_target(), TAU_WINDING)
            + noise.symmetric(N_TEMP, tick, 0.05);
        self.bearing_temp = lag(self.bearing_temp, self.bearing_target(), TAU_BEARING);

        let revolutions = self.speed / 60.0;
        let counts = (revolutions * COUNTS_PER_REV).round() as i32;
        self.position = self.position.wrapping_add(counts);
        if self.schedule.running() {
            self.part_fraction += self.part_rate * self.speed_fraction();
            let whole = self.part_fraction.floor();
            self.part_fraction -= whole;
            self.parts = self.parts.saturating_add(whole as u32);
        }
    }

    /// Updates the instantaneous measurements (speed, current, vibration).
    fn measure(&mut self, noise: Noise, tick: u64) {
        let running = self.schedule.running();
        self.speed_measured = if self.speed > 0.0 {
            // Noise shrinks with speed so a turning shaft never reads 0 rpm.
            let jitter = noise.symmetric(N_SPEED, tick, 2.0) * self.speed_fraction();
            (self.speed + jitter).max(0.0)
        } else {
            0.0
        };
        self.current = if running {
            let load = load_profile(noise, tick);
            let electrical = self.rated_current * (0.25 + 0.75 * load) * self.speed_fraction();
            (electrical * (1.0 + noise.symmetric(N_CURRENT, tick, 0.01))).max(0.0)
        } else {
            0.0
        };
        self.vibration = vibration(noise, tick, self.vibration_base, self.speed_fraction());
    }

    fn speed_fraction(&self) -> f64 {
        self.speed / self.setpoint
    }

    fn winding_target(&self) -> f64 {
        let per_unit = self.current / self.rated_current;
        self.ambient + self.rise * per_unit * per_unit
    }

    fn bearing_target(&self) -> f64 {
        self.ambient + 0.45 * self.rise * self.speed_fraction()
    }

    /// The current value of the named signal (see `layout::MOTOR`).
    pub(crate) fn value(&self, name: &str) -> Option<SignalValue> {
        use SignalValue::{Bool, Number};
        Some(match name {
            "running" => Bool(self.schedule.running()),
            "overtemp_alarm" => Bool(self.winding_temp > OVERTEMP_DEGC),
            "speed" => Number(self.speed_measured),
            "current" => Number(self.current),
            "winding_temp" => Number(self.winding_temp),
            "bearing_temp" => Number(self.bearing_temp),
            "vibration_rms" => Number(self.vibration),
            "shaft_position" => Number(f64::from(self.position)),
            "part_count" => Number(f64::from(self.parts)),
            "speed_setpoint" => Number(self.setpoint),
            _ => return None,
        })
    }
}
