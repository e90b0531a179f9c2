//! The register layout of each machine kind: the single source of truth for
//! where every signal lives, how it is typed and scaled, and what the
//! generated map file says.
//!
//! Addresses are 0-based protocol addresses within one unit id. Changing a
//! row here changes the wire contract with every client of the simulator.

use serde::{Deserialize, Serialize};

use super::register::{DataType, RegisterKind, WordOrder};
use DataType::{F32, I16, I32, U16, U32};
use RegisterKind::{Coil, Discrete, Holding, Input};
use WordOrder::{Abcd, Badc, Cdab, Dcba};

/// Kinds of simulated machine, assigned round-robin by machine index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MachineKind {
    /// Electric motor with encoder and part counter.
    Motor,
    /// Centrifugal pump.
    Pump,
    /// Load/unload screw compressor.
    Compressor,
}

impl MachineKind {
    /// Kinds in assignment order: machine `i` has kind `ROTATION[i % 3]`.
    pub const ROTATION: [Self; 3] = [Self::Motor, Self::Pump, Self::Compressor];

    /// Kind of the machine with 0-based index `index`.
    pub fn for_index(index: usize) -> Self {
        Self::ROTATION[index % Self::ROTATION.len()]
    }

    /// Lower-case name used in machine ids and the map file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Motor => "motor",
            Self::Pump => "pump",
            Self::Compressor => "compressor",
        }
    }

    /// The signals of this kind, in a fixed order.
    pub fn signals(self) -> &'static [SignalDef] {
        match self {
            Self::Motor => MOTOR,
            Self::Pump => PUMP,
            Self::Compressor => COMPRESSOR,
        }
    }

    /// Looks a signal of this kind up by name.
    pub fn signal(self, name: &str) -> Option<(usize, &'static SignalDef)> {
        self.signals()
            .iter()
            .enumerate()
            .find(|(_, def)| def.name == name)
    }
}

/// Where and how one signal is encoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignalDef {
    /// Signal name, unique within the machine kind.
    pub name: &'static str,
    /// Modbus table.
    pub register: RegisterKind,
    /// 0-based address of the first bit or register.
    pub address: u16,
    /// Encoded type.
    pub data_type: DataType,
    /// Word order of 32-bit types (`Abcd` for 1-register types).
    pub order: WordOrder,
    /// Engineering value = raw * scale + offset (integer types only).
    pub scale: f64,
    /// See `scale`.
    pub offset: f64,
    /// Engineering unit, empty for booleans.
    pub unit: &'static str,
}

const fn bit(name: &'static str, register: RegisterKind, address: u16) -> SignalDef {
    SignalDef {
        name,
        register,
        address,
        data_type: DataType::Bool,
        order: WordOrder::Abcd,
        scale: 1.0,
        offset: 0.0,
        unit: "",
    }
}

const fn word(
    name: &'static str,
    register: RegisterKind,
    address: u16,
    data_type: DataType,
    order: WordOrder,
    scale: f64,
    unit: &'static str,
) -> SignalDef {
    SignalDef {
        name,
        register,
        address,
        data_type,
        order,
        scale,
        offset: 0.0,
        unit,
    }
}

/// Motor layout.
pub const MOTOR: &[SignalDef] = &[
    bit("running", Coil, 0),
    bit("overtemp_alarm", Discrete, 0),
    word("speed", Input, 0, U16, Abcd, 1.0, "rpm"),
    word("current", Input, 1, U16, Abcd, 0.01, "A"),
    word("winding_temp", Input, 2, F32, Abcd, 1.0, "degC"),
    word("bearing_temp", Input, 4, F32, Abcd, 1.0, "degC"),
    word("vibration_rms", Input, 6, F32, Cdab, 1.0, "mm/s"),
    word("shaft_position", Input, 20, I32, Abcd, 1.0, "count"),
    word("part_count", Holding, 100, U32, Abcd, 1.0, "parts"),
    word("speed_setpoint", Holding, 104, U16, Abcd, 1.0, "rpm"),
];

/// Pump layout.
pub const PUMP: &[SignalDef] = &[
    bit("running", Coil, 0),
    bit("low_suction_alarm", Discrete, 0),
    word("flow", Input, 0, F32, Abcd, 1.0, "m3/h"),
    word("discharge_pressure", Input, 2, F32, Abcd, 1.0, "bar"),
    word("motor_current", Input, 4, U16, Abcd, 0.01, "A"),
    word("bearing_temp", Input, 10, F32, Badc, 1.0, "degC"),
    word("vibration_rms", Input, 12, F32, Cdab, 1.0, "mm/s"),
    word("run_hours", Holding, 200, U32, Cdab, 0.1, "h"),
];

/// Compressor layout.
pub const COMPRESSOR: &[SignalDef] = &[
    bit("running", Coil, 0),
    bit("unloaded", Coil, 3),
    bit("high_temp_trip", Discrete, 0),
    word("discharge_pressure", Input, 0, F32, Abcd, 1.0, "bar"),
    word("discharge_temp", Input, 2, F32, Abcd, 1.0, "degC"),
    word("motor_current", Input, 4, U16, Abcd, 0.01, "A"),
    word("vibration_rms", Input, 20, F32, Dcba, 1.0, "mm/s"),
    word("oil_temp", Input, 30, I16, Abcd, 0.1, "degC"),
    word("cycle_count", Holding, 300, U32, Cdab, 1.0, "cycles"),
    word("load_percent", Holding, 302, F32, Abcd, 1.0, "%"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plant::image::BANK_SIZE;

    #[test]
    fn signals_do_not_overlap_and_fit_the_bank() {
        for kind in MachineKind::ROTATION {
            let mut used = std::collections::HashSet::new();
            for def in kind.signals() {
                assert_eq!(def.register.is_bit(), def.data_type == DataType::Bool);
                if def.data_type.width() == 1 {
                    assert_eq!(def.order, WordOrder::Abcd, "{}", def.name);
                }
                for a in def.address..def.address + def.data_type.width() {
                    assert!(usize::from(a) < BANK_SIZE);
                    assert!(used.insert((def.register, a)), "{kind:?} {}", def.name);
                }
            }
        }
    }

    #[test]
    fn names_are_unique_and_found() {
        for kind in MachineKind::ROTATION {
            for (i, def) in kind.signals().iter().enumerate() {
                assert_eq!(kind.signal(def.name).map(|(j, _)| j), Some(i));
            }
            assert!(kind.signal("nope").is_none());
        }
    }

    #[test]
    fn kinds_rotate() {
        assert_eq!(MachineKind::for_index(0), MachineKind::Motor);
        assert_eq!(MachineKind::for_index(4), MachineKind::Pump);
        assert_eq!(MachineKind::for_index(8), MachineKind::Compressor);
    }
}
