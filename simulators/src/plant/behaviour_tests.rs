//! Behavioural tests of the machine models, seen through
//! `Plant::engineering_value`: plausible ranges, monotonic counters, the
//! run/stop schedule and its effect on the other signals.

#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};

use super::{EngValue, MachineKind, Plant};

const MACHINES: usize = 30;
const TICKS: u64 = 1000;

/// (kind, signal, min, max) inclusive plausibility ranges.
const RANGES: &[(MachineKind, &str, f64, f64)] = &[
    (MachineKind::Motor, "speed", 0.0, 3000.0),
    (MachineKind::Motor, "current", 0.0, 100.0),
    (MachineKind::Motor, "winding_temp", 15.0, 140.0),
    (MachineKind::Motor, "bearing_temp", 15.0, 110.0),
    (MachineKind::Motor, "vibration_rms", 0.0, 10.0),
    (MachineKind::Motor, "speed_setpoint", 900.0, 3000.0),
    (MachineKind::Pump, "flow", 0.0, 300.0),
    (MachineKind::Pump, "discharge_pressure", 0.0, 12.0),
    (MachineKind::Pump, "motor_current", 0.0, 70.0),
    (MachineKind::Pump, "bearing_temp", 15.0, 70.0),
    (MachineKind::Pump, "vibration_rms", 0.0, 10.0),
    (MachineKind::Pump, "run_hours", 100.0, 40_000.0),
    (MachineKind::Compressor, "discharge_pressure", 0.0, 8.5),
    (MachineKind::Compressor, "discharge_temp", 15.0, 110.0),
    (MachineKind::Compressor, "motor_current", 0.0, 135.0),
    (MachineKind::Compressor, "vibration_rms", 0.0, 10.0),
    (MachineKind::Compressor, "oil_temp", 15.0, 80.0),
    (MachineKind::Compressor, "load_percent", 0.0, 100.0),
];

/// Counters that never decrease and change only while running.
const COUNTERS: &[(MachineKind, &str)] = &[
    (MachineKind::Motor, "part_count"),
    (MachineKind::Pump, "run_hours"),
    (MachineKind::Compressor, "cycle_count"),
];

/// Signals that must be ~0 once a machine has been stopped for a while.
const ZERO_WHEN_STOPPED: &[(MachineKind, &str)] = &[
    (MachineKind::Motor, "speed"),
    (MachineKind::Motor, "current"),
    (MachineKind::Pump, "flow"),
    (MachineKind::Pump, "motor_current"),
    (MachineKind::Compressor, "motor_current"),
    (MachineKind::Compressor, "load_percent"),
];

fn eng(plant: &Plant, index: usize, signal: &str) -> f64 {
    plant.engineering_value(index, signal).unwrap().as_f64()
}

fn kind(plant: &Plant, index: usize) -> MachineKind {
    plant.machine(index).unwrap().kind()
}

fn running(plant: &Plant, index: usize) -> bool {
    plant.engineering_value(index, "running") == Some(EngValue::Bool(true))
}

/// Steps a plant through `TICKS` ticks, calling `check` at every tick
/// (including tick 0) with the previous plant state.
fn walk(seed: u64, mut check: impl FnMut(&Plant, &Plant)) {
    let mut plant = Plant::new(seed, MACHINES).unwrap();
    check(&plant, &plant);
    for _ in 0..TICKS {
        let previous = plant.clone();
        plant.step();
        check(&previous, &plant);
    }
}

#[test]
fn signals_stay_in_plausible_ranges() {
    for seed in [1, 42, 12_345] {
        let mut distinct: HashMap<(usize, &str), HashSet<u64>> = HashMap::new();
        walk(seed, |_, plant| {
            for i in 0..MACHINES {
                for &(k, name, low, high) in RANGES {
                    if kind(plant, i) != k {
                        continue;
                    }
                    let v = eng(plant, i, name);
                    assert!(
                        (low..=high).contains(&v),
                        "seed {seed} machine {i} {name} = {v} at tick {}",
                        plant.tick()
                    );
                    distinct.entry((i, name)).or_default().insert(v.to_bits());
                }
            }
        });
        for ((i, name), values) in distinct {
            // Constant per machine, or (run hours) too slow for 1000 ticks.
            if !["speed_setpoint", "run_hours"].contains(&name) {
                assert!(values.len() > 10, "machine {i} {name} barely varies");
            }
        }
    }
}

#[test]
fn tick_zero_is_already_interesting() {
    let plant = Plant::new(42, MACHINES).unwrap();
    for i in 0..MACHINES {
        assert!(running(&plant, i), "machine {i}");
        for &(k, name, _, _) in RANGES {
            if kind(&plant, i) == k {
                assert!(eng(&plant, i, name) > 0.0, "machine {i} {name}");
            }
        }
        for &(k, name) in COUNTERS {
            if kind(&plant, i) == k {
                assert!(eng(&plant, i, name) > 0.0, "machine {i} {name}");
            }
        }
    }
}

#[test]
fn counters_never_decrease_and_only_count_while_running() {
    walk(7, |before, after| {
        for i in 0..MACHINES {
            for &(k, name) in COUNTERS {
                if kind(after, i) != k {
                    continue;
                }
                let (a, b) = (eng(before, i, name), eng(after, i, name));
                assert!(b >= a, "machine {i} {name} went {a} -> {b}");
                if !running(after, i) {
                    assert_eq!(a, b, "machine {i} {name} counted while stopped");
                }
            }
        }
    });
}

#[test]
fn machines_stop_and_restart_and_cool_down() {
    let mut stopped_for = [0u64; MACHINES];
    let mut saw_stop = [false; MACHINES];
    let mut saw_restart = [false; MACHINES];
    let mut cooled = [false; MACHINES];
    walk(42, |before, plant| {
        for i in 0..MACHINES {
            if running(plant, i) {
                saw_restart[i] |= stopped_for[i] > 0;
                stopped_for[i] = 0;
                continue;
            }
            saw_stop[i] = true;
            stopped_for[i] += 1;
            if stopped_for[i] >= 25 {
                for &(k, name) in ZERO_WHEN_STOPPED {
                    if kind(plant, i) == k {
                        assert!(eng(plant, i, name) < 1.0, "machine {i} {name}");
                    }
                }
            }
            let temp = match kind(plant, i) {
                MachineKind::Motor => "winding_temp",
                MachineKind::Pump => "bearing_temp",
                MachineKind::Compressor => "discharge_temp",
            };
            if stopped_for[i] > 1 && eng(plant, i, temp) < eng(before, i, temp) {
                cooled[i] = true;
            }
        }
    });
    assert!(saw_stop.iter().all(|&s| s), "{saw_stop:?}");
    assert!(saw_restart.iter().filter(|&&s| s).count() > MACHINES / 2);
    assert!(cooled.iter().all(|&c| c), "{cooled:?}");
}

#[test]
fn shaft_position_wraps_through_negative_values() {
    let mut plant = Plant::new(42, MACHINES).unwrap();
    let mut wrapped = false;
    let mut negative = false;
    for _ in 0..4000 {
        let before: Vec<i64> = (0..MACHINES)
            .step_by(3)
            .map(|i| position(&plant, i))
            .collect();
        plant.step();
        for (n, i) in (0..MACHINES).step_by(3).enumerate() {
            let now = position(&plant, i);
            negative |= now < 0;
            wrapped |= before[n] > 0 && now < 0 && running(&plant, i);
            if eng(&plant, i, "speed") == 0.0 {
                assert_eq!(now, before[n], "motor {i} moved at standstill");
            }
        }
    }
    assert!(negative && wrapped);
}

fn position(plant: &Plant, index: usize) -> i64 {
    match plant.engineering_value(index, "shaft_position") {
        Some(EngValue::Int(p)) => p,
        other => panic!("shaft_position of {index}: {other:?}"),
    }
}
